"""Loads into a PostgreSQL store: validated by the DuckDB load itself, written in one PostgreSQL transaction.

A load on PostgreSQL checks exactly what a load on DuckDB checks, with the same code and the same messages:

1. in one PostgreSQL transaction, the tables the load writes or refers to are locked against other writers
   (``SHARE ROW EXCLUSIVE``: other loads wait, the dashboard and other readers go on reading what was
   committed before);
2. the stored rows the load can see are copied into an in-memory DuckDB connection, where
   :mod:`keepwise.store.ingest` stages, validates and upserts the files as it does on a DuckDB store. Only
   the rows it needs are copied (:mod:`keepwise.store.postgres_subset`): the stored rows of the keys the
   files hold, and of each table the files refer to, the rows the files name (a customer's row for each
   ``customer_id`` of an orders file). The keys go to PostgreSQL in a temporary table and are matched
   there, so a load of 10,000 lines into a store of 10 million copies at most 10,000 stored lines. A table
   the load rebuilds by rules of its own (consent and its events), or a load whose files could not be read
   ahead, is copied whole (as before);
3. what the load changed is written back: the rows it added, and for the keys whose rows it replaced or
   removed, those keys' rows (DuckDB writes them as CSV, ``COPY FROM STDIN`` reads it); the loaded tables'
   keys are indexed (:func:`index_keys`); the figures ``keepwise status`` reads (:mod:`keepwise.store.stats`)
   are updated by the rows the load changed, or computed from the whole tables
   (:mod:`keepwise.store.postgres_stats`); then the transaction commits.

A bad row anywhere raises before step 3, the transaction rolls back, and the PostgreSQL store is as it was.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from keepwise.store.consent_history import EVENTS
from keepwise.store.postgres import create, ddl, lock_tables
from keepwise.store.postgres_stats import record_figures
from keepwise.store.postgres_subset import Wanted, mirror_rows, sources_of, wanted_rows
from keepwise.store.schema import SCHEMA, TABLES, Table
from keepwise.store.stats import STATS_DDL, STATS_TABLE
from keepwise.store.store import Store
from keepwise.store.validate import lit

__all__ = ["index_keys", "load_into_postgres", "touched"]

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
    specs = {t.name: t for t in [*TABLES, *tables]}
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
            sources = sources_of(run)
            wanted = None if sources is None else wanted_rows(duck, sources)
            saved = [n for n in written if n != STATS_TABLE]
            for name in dict.fromkeys([*saved, *read]):
                if name in present and name != STATS_TABLE:
                    mirror_rows(store, duck, name, None if wanted is None else wanted.get(name, []))
            for name in saved:
                duck.execute(f"CREATE TEMP TABLE {_before(name)} AS SELECT * FROM {_q(name)}")
            result = run(duck)
            for name in saved:
                _write_back(store, duck, name, specs.get(name))
            for t in tables:
                index_keys(store, t)
            record_figures(store, [t.name for t in tables], duck)
        return result
    finally:
        duck.close()


def index_keys(store: Store, spec: Table) -> None:
    """Index the key of loaded table ``spec`` and each reference not leading it (``orders.customer_id``).

    The next load finds the stored rows of its keys through the index (one lookup per key, not a scan of
    the table), and so do the deletes of the rows it replaces and the count of a customer's rows for the
    recorded figures. Created once, by the first load of the table, after its rows are written (one sort,
    in the load's transaction); later loads keep it up to date. A key's columns are ids (at most 200
    characters, 800 bytes) and times: a key of more than :data:`_INDEXED_TEXTS` text columns, whose entry
    might not fit a b-tree page, is indexed by its first column only.
    """
    texts = [c for c in spec.key if spec.column(c).type in ("text", "currency")]
    key = spec.key if len(texts) <= _INDEXED_TEXTS else spec.key[:1]
    columns: list[tuple[str, ...]] = [tuple(key)] if key else []
    columns += [(c.name,) for c in spec.columns if c.references and c.name not in key[:1]]
    for cols in columns:
        name = f"kw_ix_{zlib.crc32(repr((spec.name, cols)).encode()):08x}"
        listed = ", ".join(store.quote(c) for c in cols)
        create(store, f"CREATE INDEX IF NOT EXISTS {name} ON {store.quote(spec.name)} ({listed})")


#: The most text columns of a key indexed together (3 x 800 bytes fit PostgreSQL's 2,704-byte entries).
_INDEXED_TEXTS = 3


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _before(name: str) -> str:
    return _q(f"_kw_before_{name}")


def _write_back(store: Store, duck: Any, name: str, spec: Table | None) -> None:
    """Make PostgreSQL table ``name`` hold what the load made of the rows copied into DuckDB.

    The rows the load added are copied in. When it also replaced or removed rows, the stored rows of those
    rows' keys are deleted and the keys' rows as the load left them are copied in (every stored row of such
    a key was copied to DuckDB: the load only replaces rows of the keys its files hold). A table without a
    key is rewritten whole (it was copied whole).
    """
    columns = [str(r[0]) for r in duck.execute(f"DESCRIBE {_q(name)}").fetchall()]
    removed = f"(SELECT * FROM {_before(name)} EXCEPT ALL SELECT * FROM {_q(name)})"
    added = f"(SELECT * FROM {_q(name)} EXCEPT ALL SELECT * FROM {_before(name)})"
    if duck.execute(f"SELECT 1 FROM {_before(name)} LIMIT 1").fetchone() is None:
        _copy_csv(store, duck, name, columns, f"(SELECT * FROM {_q(name)})")  # nothing was copied: all new
        return
    (n_removed,) = duck.execute(f"SELECT COUNT(*) FROM {removed}").fetchone()
    key = list(spec.key) if spec is not None and spec.key else []
    if not n_removed:
        rows = added
    elif not key:
        store.sql(f"DELETE FROM {store.quote(name)}")
        rows = f"(SELECT * FROM {_q(name)})"
    else:
        keys = ", ".join(_q(k) for k in key)
        duck.execute(f"CREATE TEMP TABLE _kw_gone AS SELECT DISTINCT {keys} FROM {removed}")
        _delete_keys(store, name, key, duck.execute("SELECT * FROM _kw_gone").fetch_arrow_table())
        match = " AND ".join(f"r.{_q(k)} IS NOT DISTINCT FROM g.{_q(k)}" for k in key)
        gone = f"EXISTS (SELECT 1 FROM _kw_gone g WHERE {match})"
        rows = f"(SELECT * FROM {_q(name)} r WHERE {gone} UNION ALL SELECT * FROM {added} r WHERE NOT {gone})"
    _copy_csv(store, duck, name, columns, rows)
    duck.execute("DROP TABLE IF EXISTS _kw_gone")


def _copy_csv(store: Store, duck: Any, name: str, columns: list[str], rows: str) -> None:
    """Copy the rows of DuckDB query ``rows`` into PostgreSQL table ``name`` (DuckDB writes CSV, COPY reads).

    Both sides speak the same CSV (a quoted empty string is text, an unquoted empty field NULL; times in
    UTC with their offset, decimals as written), and neither turns a row into Python values.
    """
    import tempfile

    from psycopg import sql

    with tempfile.TemporaryDirectory(prefix="keepwise-copy-") as folder:
        path = Path(folder) / "rows.csv"
        selected = ", ".join(_q(c) for c in columns)
        duck.execute(f"COPY (SELECT {selected} FROM {rows}) TO {lit(str(path))} (FORMAT csv, HEADER false)")
        if not path.exists() or path.stat().st_size == 0:
            return
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            sql.Identifier(name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        with store.backend.con.cursor() as cur, cur.copy(statement) as copy, path.open("rb") as data:
            while chunk := data.read(1 << 20):
                copy.write(chunk)


def _delete_keys(store: Store, name: str, key: list[str], keys: Any) -> None:
    """Delete the PostgreSQL rows of ``name`` whose ``key`` is a row of Arrow table ``keys``."""
    wanted = Wanted(tuple(key), keys)
    temp = wanted.to_postgres(store, name, "_kw_gone")
    match = " AND ".join(
        f"{store.quote(name)}.{store.quote(k)} IS NOT DISTINCT FROM g.{store.quote(k)}" for k in key
    )
    equal = " AND ".join(f"{store.quote(name)}.{store.quote(k)} = g.{store.quote(k)}" for k in key)
    # ``=`` lets PostgreSQL hash the keys; a key holding a NULL (none should) is matched apart
    store.sql(f"DELETE FROM {store.quote(name)} USING {temp} g WHERE {equal}")
    some_null = " OR ".join(f"g.{store.quote(k)} IS NULL" for k in key)
    store.sql(f"DELETE FROM {store.quote(name)} USING {temp} g WHERE ({some_null}) AND {match}")
    store.sql(f"DROP TABLE {temp}")
