"""Loads into a PostgreSQL store: validated by the DuckDB load itself, written in one PostgreSQL transaction.

A load on PostgreSQL checks exactly what a load on DuckDB checks, with the same code and the same messages:

1. in one PostgreSQL transaction, the tables the load writes or refers to are locked against other writers
   (``SHARE ROW EXCLUSIVE``: other loads wait, the dashboard and other readers go on reading what was
   committed before);
2. those tables are copied into an in-memory DuckDB connection, where :mod:`keepwise.store.ingest` stages,
   validates and upserts the files as it does on a DuckDB store (and records the figures of
   :mod:`keepwise.store.stats`);
3. what the load changed is copied back: the rows it added (``COPY FROM STDIN``), or, for a table where it
   also replaced or removed rows, the whole table; then the transaction commits.

A bad row anywhere raises before step 3, the transaction rolls back, and the PostgreSQL store is as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from keepwise.store.consent_history import EVENTS
from keepwise.store.postgres import copy_rows, create, ddl, frame_rows, lock_tables
from keepwise.store.schema import SCHEMA, TABLES, Table
from keepwise.store.stats import STATS_DDL, STATS_TABLE
from keepwise.store.store import Store

__all__ = ["load_into_postgres", "touched"]

R = TypeVar("R")


def touched(tables: Sequence[Table]) -> tuple[list[str], list[str]]:
    """``(written, read)``: the tables a load of ``tables`` may change, and the further ones it reads."""
    names = [t.name for t in tables]
    written = [*names, STATS_TABLE]
    if "consent" in names:
        written += ["consent", EVENTS]
    read = sorted(({ref for t in tables for ref in t.depends_on} | set(_costed(names))) - set(written))
    return list(dict.fromkeys(written)), read


def _costed(names: list[str]) -> list[str]:
    """Orders and products are read together for the costed lines' figure (:func:`stats.costed_lines`)."""
    return ["orders", "products"] if {"orders", "products"} & set(names) else []


def load_into_postgres(store: Store, tables: Sequence[Table], run: Callable[[Any], R]) -> R:
    """Run ``run(duckdb_connection)`` (the DuckDB load of ``tables``) for PostgreSQL store ``store``.

    ``tables`` are the declarations of the loaded tables (contract tables or an importer's own).
    """
    import duckdb

    written, read = touched(tables)
    duck = duckdb.connect()
    try:
        duck.execute("SET TimeZone = 'UTC'")
        for t in [*TABLES, *(t for t in tables if t.name not in SCHEMA)]:
            duck.execute(t.create_sql())
        with store.transaction():
            have = set(store.tables())
            for t in tables:
                if t.name not in have:
                    create(store, ddl(t.create_sql()))
            if STATS_TABLE not in have:
                create(store, STATS_DDL)
            lock_tables(store, sorted({*written, *read}))
            present = set(store.tables())
            for name in [*written, *read]:
                if name in present:
                    _mirror(store, duck, name)
            for name in written:
                if _exists(duck, name):
                    duck.execute(f"CREATE TEMP TABLE {_before(name)} AS SELECT * FROM {_q(name)}")
            result = run(duck)
            for name in written:
                if _exists(duck, name):
                    _write_back(store, duck, name)
        return result
    finally:
        duck.close()


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _before(name: str) -> str:
    return _q(f"_kw_before_{name}")


def _exists(duck: Any, name: str) -> bool:
    rows = duck.execute(
        "SELECT 1 FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' AND NOT temporary",
        [name],
    ).fetchall()
    return bool(rows)


def _mirror(store: Store, duck: Any, name: str) -> None:
    """Copy PostgreSQL table ``name`` into the DuckDB connection (created from the rows if not there yet)."""
    data = store.table(name).to_pyarrow()
    duck.register("_kw_pg_rows", data)
    try:
        if _exists(duck, name):
            duck.execute(f"INSERT INTO {_q(name)} BY NAME SELECT * FROM _kw_pg_rows")
        else:
            duck.execute(f"CREATE TABLE {_q(name)} AS SELECT * FROM _kw_pg_rows")
    finally:
        duck.unregister("_kw_pg_rows")


def _write_back(store: Store, duck: Any, name: str) -> None:
    """Make PostgreSQL table ``name`` hold the DuckDB table's rows: its new rows, or all of them."""
    columns = [str(r[0]) for r in duck.execute(f"DESCRIBE {_q(name)}").fetchall()]
    (removed,) = duck.execute(
        f"SELECT COUNT(*) FROM (SELECT * FROM {_before(name)} EXCEPT ALL SELECT * FROM {_q(name)})"
    ).fetchone()
    if removed:
        store.sql(f"DELETE FROM {store.quote(name)}")
        rows = f"SELECT * FROM {_q(name)}"
    else:
        rows = f"SELECT * FROM {_q(name)} EXCEPT ALL SELECT * FROM {_before(name)}"
    data = duck.execute(rows).fetch_arrow_table()
    if data.num_rows:
        copy_rows(store.backend.con, name, columns, frame_rows(data))
