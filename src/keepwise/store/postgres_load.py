"""Loads into a PostgreSQL store: validated by the DuckDB load itself, written in one PostgreSQL transaction.

A load on PostgreSQL checks exactly what a load on DuckDB checks, with the same code and the same messages:

1. in one PostgreSQL transaction, the tables the load writes or refers to are locked against other writers
   (``SHARE ROW EXCLUSIVE``: other loads wait, the dashboard and other readers go on reading what was
   committed before);
2. the stored rows the load can see are copied into an in-memory DuckDB connection, where
   :mod:`keepwise.store.ingest` stages, validates and upserts the files as it does on a DuckDB store. Only
   the rows it needs are copied (:mod:`keepwise.store.postgres_subset`): the stored rows of the keys the
   files hold, and of each table the files refer to, the rows the files name (a customer's row for each
   ``customer_id`` of an orders file); of consent and its events, the rows of the customers a consent file
   names. The keys go to PostgreSQL in a temporary table and are matched there, so a load of 10,000 lines
   into a store of 10 million copies at most 10,000 stored lines; a table that is empty needs nothing (a
   first load reads ahead only its references). The connection's memory is bounded as a DuckDB load's is
   and spills to disk beyond it, so a first load of any size holds about the same memory. A file that
   cannot be read ahead is refused by the load (which reads it the same way) before anything but what the
   files before it need is copied; a load whose files are not known ahead copies whole tables;
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
from typing import Any, TypeVar

from keepwise.store.consent_history import EVENTS
from keepwise.store.postgres import create, ddl, lock_tables
from keepwise.store.postgres_stats import record_figures
from keepwise.store.postgres_subset import (
    Wanted,
    consent_as_a_whole,
    copy_csv,
    events_seen,
    mirror_rows,
    read_ahead,
    sources_of,
)
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
    import tempfile

    written, read = touched(tables)
    specs = {t.name: t for t in [*TABLES, *tables]}
    saved = [n for n in written if n != STATS_TABLE]
    with tempfile.TemporaryDirectory(prefix="keepwise-load-") as spill:
        duck = _duck(tables, spill)
        try:
            with store.transaction():
                have = set(store.tables())
                for t in tables:
                    if t.name not in have:
                        create(store, ddl(t.create_sql()))
                if STATS_TABLE not in have:
                    create(store, STATS_DDL)
                lock_tables(store, sorted({*written, *read}))
                present = set(store.tables())
                needed = [n for n in dict.fromkeys([*saved, *read]) if n in present and n != STATS_TABLE]
                sources = sources_of(run)
                empty = _empty(store, needed)
                ahead = None if sources is None else read_ahead(duck, sources, empty)
                if ahead is not None and not ahead.complete:
                    # a file the load reads as the read-ahead did: refused with the load's own message,
                    # having copied what the files before it need
                    _mirror(store, duck, needed, ahead.wanted, tables)
                    run(duck)
                    duck.close()  # it was read after all: load it as before, on whole tables
                    duck, ahead = _duck(tables, spill), None
                _mirror(store, duck, needed, None if ahead is None else ahead.wanted, tables)
                for name in saved:
                    duck.execute(f"CREATE TEMP TABLE {_before(name)} AS SELECT * FROM {_q(name)}")
                result = run(duck)
                for name in saved:
                    _write_back(store, duck, name, specs.get(name))
                for t in tables:
                    index_keys(store, t)
                record_figures(store, [t.name for t in tables], duck, fresh=empty)
            return result
        finally:
            duck.close()


def _duck(tables: Sequence[Table], spill: str) -> Any:
    """An in-memory DuckDB connection holding the contract's tables and ``tables``, in UTC.

    Its memory is bounded as a DuckDB load's is (:data:`keepwise.store.ingest.LOAD_MEMORY_LIMIT`): what
    does not fit spills to folder ``spill``, so a big first load holds the same memory as a small one.
    """
    import duckdb

    from keepwise.store.ingest import LOAD_MEMORY_LIMIT

    duck = duckdb.connect(config={"memory_limit": LOAD_MEMORY_LIMIT, "temp_directory": spill})
    duck.execute("SET TimeZone = 'UTC'")
    for t in [*TABLES, *(t for t in tables if t.name not in SCHEMA)]:
        duck.execute(t.create_sql())
    return duck


def _empty(store: Store, names: Sequence[str]) -> set[str]:
    """Those of tables ``names`` that hold no row (a load needs nothing of them)."""
    if not names:
        return set()
    probes = " UNION ALL ".join(
        f"SELECT {lit(n)} WHERE NOT EXISTS (SELECT 1 FROM {store.quote(n)})" for n in names
    )
    return {str(n) for (n,) in store.sql(probes)}


def _mirror(
    store: Store, duck: Any, names: Sequence[str], wanted: dict[str, Any] | None, tables: Sequence[Table]
) -> None:
    """Copy the stored rows of ``names`` that ``wanted`` lists (all of them when ``None``) into ``duck``."""
    if wanted is not None:
        consent_as_a_whole(store, wanted)
    for name in names:
        mirror_rows(store, duck, name, None if wanted is None else wanted.get(name, []))
    if wanted is not None and wanted.get(EVENTS) is not None and "consent" in {t.name for t in tables}:
        events_seen(store, duck)


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
        copy_csv(store, duck, name, columns, f"(SELECT * FROM {_q(name)})")  # nothing was copied: all new
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
        _delete_keys(store, name, key, duck.table("_kw_gone"))
        match = " AND ".join(f"r.{_q(k)} IS NOT DISTINCT FROM g.{_q(k)}" for k in key)
        gone = f"EXISTS (SELECT 1 FROM _kw_gone g WHERE {match})"
        rows = f"(SELECT * FROM {_q(name)} r WHERE {gone} UNION ALL SELECT * FROM {added} r WHERE NOT {gone})"
    copy_csv(store, duck, name, columns, rows)
    duck.execute("DROP TABLE IF EXISTS _kw_gone")


def _delete_keys(store: Store, name: str, key: list[str], keys: Any) -> None:
    """Delete the PostgreSQL rows of ``name`` whose ``key`` is a row of ``keys`` (a DuckDB relation)."""
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
