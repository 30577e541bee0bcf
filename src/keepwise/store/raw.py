"""A DuckDB store opened with DuckDB alone: for the commands that only read what loads recorded, or load.

:func:`keepwise.store.connection.connect` opens a store through Ibis, which imports Ibis, pandas and pyarrow
(about a second of CPU); ``keepwise status`` and ``keepwise load`` need none of them on DuckDB. The
connection made here behaves as ``connect`` makes it: it waits for a busy store the same way, runs in UTC,
and the contract's tables exist.
"""

from __future__ import annotations

from typing import Any

__all__ = ["is_duckdb_file", "open_duckdb"]


def is_duckdb_file(url: str) -> bool:
    """Whether ``url`` names a DuckDB file (not ``:memory:``, not another engine)."""
    from keepwise.store.connection import duckdb_path

    return url.startswith("duckdb://") and duckdb_path(url) != ":memory:"


def open_duckdb(url: str) -> Any:
    """A ``duckdb`` connection to the file ``url`` names, opened as :func:`keepwise.store.connect` opens it.

    Statements on it should take no ``?`` parameters where speed matters: DuckDB imports pandas to bind them.
    """
    from pathlib import Path

    import duckdb

    from keepwise.exceptions import KeepwiseInputError
    from keepwise.store.connection import _open_duckdb, duckdb_path, duckdb_settings
    from keepwise.store.schema import TABLES

    path = duckdb_path(url)
    settings = duckdb_settings(url)
    parent = Path(path).parent
    if not parent.exists():
        raise KeepwiseInputError(f"store URL '{url}': folder '{parent}' does not exist")
    con = _open_duckdb(url, path, read_only=False, wait=None, opener=duckdb.connect)
    try:
        con.execute("SET TimeZone = 'UTC'")
        for key, value in settings.items():  # forms checked by duckdb_settings: no quote reaches SQL
            con.execute(f"SET {key} = '{value}'")
        here = "schema_name = 'main' AND database_name = current_database()"
        have = {t for (t,) in con.execute(f"SELECT table_name FROM duckdb_tables() WHERE {here}").fetchall()}
        missing = [t.create_sql() for t in TABLES if t.name not in have]
        if missing:
            con.execute("; ".join(missing))
    except BaseException:
        con.close()
        raise
    return con
