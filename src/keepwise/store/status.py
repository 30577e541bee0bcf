"""What the store holds: rows, date ranges and customers per table, and the optional inputs it lacks.

On DuckDB the figures of loaded tables come from what the load recorded (:mod:`keepwise.store.stats`), and the
rest from one small query per table that DuckDB answers from its metadata (row counts, the minimum and maximum
of a column, its non-null values), so ``keepwise status`` reads no order line; a URL is opened with DuckDB
alone (no Ibis, no pandas), which keeps the command well under half a second at any store size.

Distinct customers are given for the tables whose figures loads record (:data:`CUSTOMERS_COUNTED`, the
inputs): the stage outputs (CLV, decisions, the outbox) and the consent ledger show rows and dates only, since
counting their distinct customers would read every row (0.35 s of CPU for the 2,000,000 CLV rows of a
1,000,000-customer store, growing with the store).
"""

from __future__ import annotations

from typing import Any

from keepwise.store.schema import TABLES
from keepwise.store.stats import RECORDED

#: The tables whose distinct customers the status gives (those whose figures a load records).
CUSTOMERS_COUNTED: frozenset[str] = frozenset(RECORDED)


def store_status(backend: Any) -> dict[str, Any]:
    """Per table: row count, first and last timestamp and (loaded tables) the number of distinct customers.

    ``backend`` is a store (or Ibis backend), or the URL of one (a ``duckdb://`` file is then opened with
    DuckDB alone). ``notes`` lists every optional input the store lacks
    (``keepwise.store.inventory.INPUTS``), as the notes of the commands that would use it say.
    """
    if isinstance(backend, str):
        return _status_at(backend)
    from keepwise.store.store import as_store

    store = as_store(backend)
    if store.is_duckdb:
        return _duckdb_status(store.sql)
    return _ibis_status(store)


def _status_at(url: str) -> dict[str, Any]:
    from pathlib import Path

    from keepwise.store.connection import StoreBusy, _open_duckdb, duckdb_path, duckdb_settings
    from keepwise.store.raw import is_duckdb_file, open_duckdb

    if not is_duckdb_file(url):
        from keepwise.store.connection import connect

        store = connect(url)
        try:
            return store_status(store)
        finally:
            store.disconnect()
    path = duckdb_path(url)
    duckdb_settings(url)  # a wrong setting is refused here as by every other command
    con = None
    if Path(path).is_file():  # read-only: beside the dashboard's readers, on a file that cannot be written
        import duckdb

        try:
            con = _open_duckdb(url, path, read_only=True, wait=0, opener=duckdb.connect)
            con.execute("SET TimeZone = 'UTC'")
        except StoreBusy:  # a writer has it, or this process has it open for writing: as before
            con = None
    existing = con is not None
    if con is None:  # a new store (created as every command creates it), or one busy: wait for it
        con = open_duckdb(url)
    try:

        def sql(statement: str) -> list[tuple[Any, ...]]:
            return list(con.execute(statement).fetchall())

        return _duckdb_status(sql, missing_as_empty=existing)
    finally:
        con.close()


def _duckdb_status(
    sql: Any, columns: dict[str, dict[str, str]] | None = None, *, missing_as_empty: bool = False
) -> dict[str, Any]:
    """The status through ``sql``.

    ``missing_as_empty``: a table of the contract the store lacks (a store written by an older keepwise,
    opened read-only) is shown as the empty table opening the store for writing would have created.
    """
    from keepwise.store import stats
    from keepwise.store.inventory import INPUTS, inventory_from_sql

    columns = stats.columns_of(sql) if columns is None else columns
    counts = stats.live_counts(sql, [t.name for t in TABLES], present=columns)
    known = stats.recorded(sql, counts, present=columns)
    tables: dict[str, Any] = {}
    for t in TABLES:
        if t.name not in counts:
            if missing_as_empty:
                tables[t.name] = _empty(t)
            continue
        figures = known.get(t.name) or stats.scan(
            sql, t, customers=t.name in CUSTOMERS_COUNTED, stored=columns[t.name], filled=False
        )
        row: dict[str, Any] = {"rows": counts[t.name]}
        for key in ("first", "last", "customers"):
            if key in figures:
                row[key] = figures[key]
        tables[t.name] = row
    missing = inventory_from_sql(sql, counts, known, columns).notes(*(i.name for i in INPUTS))
    return {"tables": tables, "notes": [n.to_json() for n in missing]}


def _empty(spec: Any) -> dict[str, Any]:
    """The status row of an empty table ``spec``."""
    row: dict[str, Any] = {"rows": 0}
    if any(c.type == "timestamp" for c in spec.columns):
        row["first"] = row["last"] = None
    if spec.name in CUSTOMERS_COUNTED and "customer_id" in spec.column_names:
        row["customers"] = 0
    return row


def _ibis_status(backend: Any) -> dict[str, Any]:
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
        if "customer_id" in t.column_names and t.name in CUSTOMERS_COUNTED:
            metrics["customers"] = expr["customer_id"].nunique()
        row = expr.aggregate(**metrics).to_pyarrow().to_pylist()[0]
        for key in ("first", "last"):
            if key in row and row[key] is not None:
                row[key] = row[key].isoformat()
        tables[t.name] = row
    missing = inventory(backend).notes(*(i.name for i in INPUTS))
    return {"tables": tables, "notes": [n.to_json() for n in missing]}


def input_stamp(store: Any, inputs: Any) -> tuple[Any, ...] | None:
    """Row counts, latest times and sums of ``inputs`` (``(table, columns)`` pairs) in one plain statement.

    What changes when the data change (the dashboard's stamp of a fitted model's inputs): per table its
    name, row count, and for each column its latest value (a time) or its sum (a number), as text; a table
    the store lacks is left out, a column it lacks gives ``None``. ``None`` on engines other than DuckDB and
    PostgreSQL (the caller builds the same figures with Ibis there).
    """
    if not (store.is_duckdb or store.is_postgres):
        return None
    names = [name for name, _ in inputs]
    listed = ", ".join("?" for _ in names)
    types: dict[str, dict[str, str]] = {}
    schema = "current_schema()"
    for table, column, kind in store.sql(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        f"WHERE table_schema = {schema} AND table_name IN ({listed})",
        names,
    ):
        types.setdefault(str(table), {})[str(column)] = str(kind).lower()
    q = store.quote
    selects = []
    width = max((len(c) for _, c in inputs), default=0)
    for name, columns in inputs:
        if name not in types:
            continue
        stats = []
        for col in columns:
            kind = types[name].get(col)
            if kind is None:
                stats.append("CAST(NULL AS VARCHAR)")
            else:
                stat = "max" if ("time" in kind or "date" in kind) else "sum"
                stats.append(f"CAST({stat}({q(col)}) AS VARCHAR)")
        stats += ["CAST(NULL AS VARCHAR)"] * (width - len(columns))
        selects.append(
            f"SELECT CAST({store.literal(name)} AS VARCHAR), CAST(count(*) AS VARCHAR), {', '.join(stats)} "
            f"FROM {q(name)}"
        )
    if not selects:
        return ()
    rows = store.sql(" UNION ALL ".join(selects))
    return tuple(sorted(tuple(r) for r in rows))
