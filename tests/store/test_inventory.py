"""The inventory of a store: what an orders-only CDNOW store lacks, and what the simulated business has."""

from __future__ import annotations

from pathlib import Path

import keepwise
from keepwise.datasets import cdnow_tables
from keepwise.store import connect
from keepwise.store.inventory import INPUTS, inventory


def test_cdnow_orders_only(tmp_path: Path) -> None:
    """CDNOW has customers and orders only: every other input is named missing, with what is done instead."""
    db = f"duckdb:///{tmp_path / 'cdnow.duckdb'}"
    tables = cdnow_tables()
    for name in ("customers", "orders"):
        keepwise.load(name, tables[name], db=db)
    inv = inventory(connect(db))
    assert inv.rows["customers"] == 23_570 and inv.rows["orders"] == 69_659
    assert inv.currency == "USD" and inv.last_month == "1998-06"
    missing = {n.input for n in inv.notes(*(i.name for i in INPUTS))}
    assert missing == {i.name for i in INPUTS}
    note = inv.note("orders.unit_cost")
    assert note is not None and note.missing == "empty on all 69,659 rows of orders"
    assert inv.note("incidents", instead="default effect").to_json() == {  # type: ignore[union-attr]
        "input": "incidents",
        "missing": "no rows",
        "instead": "default effect",
    }


def test_simulated_business_has_everything(tmp_path: Path) -> None:
    """The simulator writes every input; a product's standard cost counts as the line's unit cost."""
    from keepwise.datasets.simulate import simulate
    from keepwise.store.ingest import load_frames

    business = simulate(customers=150, months=6, seed=3)
    store = connect(f"duckdb:///{tmp_path / 'sim.duckdb'}")
    load_frames(store, [(name, frame, name) for name, frame in business.tables.items()])
    inv = inventory(store)
    assert inv.notes(*(i.name for i in INPUTS)) == []
    assert inv.complete("orders.unit_cost")
    assert inv.rows["orders"] == len(business.tables["orders"])


def test_resolve_month_takes_the_data_s_last_month(tmp_path: Path) -> None:
    """Without a month, the last month of CDNOW's data (1998-06), said in a note; a given month is kept."""
    from keepwise.store.inventory import resolve_month

    db = f"duckdb:///{tmp_path / 'cdnow.duckdb'}"
    tables = cdnow_tables()
    for name in ("customers", "orders"):
        keepwise.load(name, tables[name], db=db)
    month, note = resolve_month(connect(db), None)
    assert month == "1998-06" and note is not None and note.input == "month" and "1998-06" in note.instead
    assert resolve_month(connect(db), "1997-03") == ("1997-03", None)
