"""What the store holds: rows, date ranges and customers per table, and the optional inputs it lacks."""

from __future__ import annotations

from typing import Any

from keepwise.store.schema import TABLES


def store_status(backend: Any) -> dict[str, Any]:
    """Per table: row count, and the first and last timestamp and the number of distinct customers.

    ``notes`` lists every optional input the store lacks (``keepwise.store.inventory.INPUTS``), as the notes
    of the commands that would use it say.
    """
    from keepwise.store.inventory import INPUTS, inventory

    present = set(backend.list_tables())
    tables: dict[str, Any] = {}
    for t in TABLES:
        if t.name not in present:
            continue
        expr = backend.table(t.name)
        metrics: dict[str, Any] = {"rows": expr.count()}
        time_cols = [c.name for c in t.columns if c.type == "timestamp"]
        if time_cols:
            metrics["first"] = expr[time_cols[0]].min()
            metrics["last"] = expr[time_cols[0]].max()
        if "customer_id" in t.column_names:
            metrics["customers"] = expr["customer_id"].nunique()
        row = expr.aggregate(**metrics).to_pyarrow().to_pylist()[0]
        for key in ("first", "last"):
            if key in row and row[key] is not None:
                row[key] = row[key].isoformat()
        tables[t.name] = row
    missing = inventory(backend).notes(*(i.name for i in INPUTS))
    return {"tables": tables, "notes": [n.to_json() for n in missing]}
