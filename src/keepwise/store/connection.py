"""Where data lives: one URL, one Ibis backend.

URLs follow the SQLAlchemy convention for file paths: ``duckdb:///keepwise.duckdb`` is ``keepwise.duckdb``
in the working directory, ``duckdb:////var/data/kw.duckdb`` is an absolute path, ``duckdb://:memory:`` keeps
everything in memory. ``postgres://user:pass@host/db`` is passed to Ibis' Postgres backend. ``spark-local``
and ``spark://host:port`` open Spark through Ibis' PySpark backend (see :mod:`keepwise.store.spark`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from keepwise.exceptions import KeepwiseInputError
from keepwise.store.store import Store

DEFAULT_URL = "duckdb:///keepwise.duckdb"
ENV_VAR = "KEEPWISE_DB"


def default_url() -> str:
    """The store URL from ``KEEPWISE_DB``, or the default ``duckdb:///keepwise.duckdb``."""
    return os.environ.get(ENV_VAR) or DEFAULT_URL


def duckdb_path(url: str) -> str:
    """The file path (or ``:memory:``) a ``duckdb://`` URL names."""
    rest = url[len("duckdb://") :]
    if rest in ("", ":memory:", "/:memory:"):
        return ":memory:"
    if not rest.startswith("/"):
        raise KeepwiseInputError(
            f"store URL '{url}' is not understood; use duckdb:///relative/path.duckdb, "
            "duckdb:////absolute/path.duckdb or duckdb://:memory:"
        )
    return rest[1:]


def connect(url: str | None = None, *, read_only: bool = False) -> Store:
    """Open the store named by ``url`` (default: :func:`default_url`) as a :class:`~keepwise.store.Store`.

    The DuckDB session runs in UTC so that timestamps read back the same everywhere, and the contract's
    tables are created if they do not exist yet. The Ibis backend is ``store.backend``; a Store also answers
    the backend's own methods (``store.table("orders")``).
    """
    url = url or default_url()
    return Store(_open(url, read_only=read_only), url)


def _open(url: str, *, read_only: bool) -> Any:
    if url.startswith("duckdb://"):
        path = duckdb_path(url)
        if path != ":memory:":
            parent = Path(path).parent
            if not parent.exists():
                raise KeepwiseInputError(f"store URL '{url}': folder '{parent}' does not exist")
        import ibis

        try:
            backend = ibis.duckdb.connect(path, read_only=read_only)
        except Exception as exc:  # duckdb raises IOException for locked or unreadable files
            raise KeepwiseInputError(f"cannot open store '{url}': {str(exc).splitlines()[0]}") from exc
        backend.raw_sql("SET TimeZone = 'UTC'")
        if not read_only:
            ensure_tables(backend)
        return backend
    if url.startswith(("postgres://", "postgresql://")):
        import ibis

        return ibis.connect(url)
    if url.startswith(("spark-local", "spark://")):
        from keepwise.store.spark import connect_spark

        return connect_spark(url)
    raise KeepwiseInputError(
        f"store URL '{url}' is not supported; use duckdb:///file.duckdb, duckdb://:memory:, postgres://..., "
        "spark-local or spark://host:port"
    )


def ensure_tables(backend: Any) -> None:
    """Create every table of the contract that does not exist yet."""
    from keepwise.store.schema import TABLES

    if isinstance(backend, Store):
        backend = backend.backend
    for t in TABLES:
        backend.raw_sql(t.create_sql())


def duckdb_connection(backend: Any) -> Any:
    """The raw ``duckdb`` connection under an Ibis DuckDB backend (for loads, which need transactions)."""
    from ibis.backends.duckdb import Backend as DuckDBBackend

    if isinstance(backend, Store):
        backend = backend.backend
    if not isinstance(backend, DuckDBBackend):
        raise KeepwiseInputError("loading files is supported on DuckDB stores only for now")
    return backend.con
