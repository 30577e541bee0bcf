"""Where data lives: one URL, one Ibis backend.

URLs follow the SQLAlchemy convention for file paths: ``duckdb:///keepwise.duckdb`` is ``keepwise.duckdb``
in the working directory, ``duckdb:////var/data/kw.duckdb`` is an absolute path, ``duckdb://:memory:`` keeps
everything in memory; a DuckDB URL may set the engine's ``memory_limit``, ``temp_directory`` (where it spills)
and ``threads``: ``duckdb:////var/data/kw.duckdb?memory_limit=3GB&temp_directory=/var/spill`` (a review of
ten million customers fits a 24 GB machine that way). ``postgresql://user:pass@host:port/db`` (or
``postgres://``) opens a shared PostgreSQL store through Ibis' PostgreSQL backend and psycopg
(:mod:`keepwise.store.postgres`); ``?host=/run/postgresql`` reaches a server's unix socket. ``spark-local``
and ``spark://host:port`` open Spark through Ibis' PySpark backend (see :mod:`keepwise.store.spark`).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path
from typing import Any

from keepwise.exceptions import KeepwiseInputError
from keepwise.store.store import Store

DEFAULT_URL = "duckdb:///keepwise.duckdb"
ENV_VAR = "KEEPWISE_DB"
#: Seconds a command waits for a store another process has open (environment variable, default 30).
LOCK_TIMEOUT_ENV = "KEEPWISE_LOCK_TIMEOUT"
DEFAULT_LOCK_TIMEOUT = 30.0
#: Pause between two attempts to open a busy store.
_RETRY_SECONDS = 0.2


class StoreBusy(KeepwiseInputError):
    """The store is open in another process (a load writing to it, or readers while this one would write).

    DuckDB lets one process write to a file, or any number read it, never both. A command waits for the
    store (:data:`LOCK_TIMEOUT_ENV`) before raising this; the dashboard answers 503 with ``Retry-After`` at
    once.
    """


def lock_timeout() -> float:
    """Seconds to wait for a busy store: ``KEEPWISE_LOCK_TIMEOUT``, else 30; a bad value is a user error."""
    raw = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= 86_400:
        raise KeepwiseInputError(
            f"{LOCK_TIMEOUT_ENV} must be a number of seconds from 0 to 86400, not '{raw}'"
        )
    return seconds


def is_busy(exc: BaseException) -> bool:
    """Whether DuckDB refused to open a file because another connection holds it (a lock conflict)."""
    text = str(exc)
    return "Conflicting lock" in text or "Could not set lock" in text or "different configuration" in text


#: Query parameters of a store URL that carry a secret (psycopg takes ``?password=...``).
_SECRET_PARAMETERS = frozenset({"password", "pass", "passwd", "sslpassword"})


def redacted(url: str) -> str:
    """``url`` with any password in it shown as ``***``: a store URL as output, JSON, logs and errors show it.

    Covers the password of ``user:password@host`` (written plainly or percent-encoded) and ``?password=...``
    parameters, on every kind of URL; a URL without one (a DuckDB file) is returned unchanged.
    """
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except (
        ValueError
    ):  # not a URL at all (a bad --db): shown as it came, after hiding what looks like a secret
        return url if "@" not in url else "***@" + url.rpartition("@")[2]
    netloc, query = parts.netloc, parts.query
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        if ":" in user:
            netloc = f"{user.split(':', 1)[0]}:***@{host}"
    if query:
        pairs = [p.partition("=") for p in query.split("&")]
        query = "&".join(
            f"{k}{eq}***" if eq and k.lower() in _SECRET_PARAMETERS else f"{k}{eq}{v}" for k, eq, v in pairs
        )
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    return urlunsplit(parts._replace(netloc=netloc, query=query))


def default_url() -> str:
    """The store URL from ``KEEPWISE_DB``, or the default ``duckdb:///keepwise.duckdb``."""
    return os.environ.get(ENV_VAR) or DEFAULT_URL


#: DuckDB settings a ``duckdb://`` URL may carry (``?memory_limit=3GB&temp_directory=/spill&threads=2``), each
#: with the form its value must have: what a review of millions of customers on a shared machine needs.
DUCKDB_SETTINGS: dict[str, re.Pattern[str]] = {
    "memory_limit": re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE),
    "temp_directory": re.compile(r"[^'\x00]+"),
    "threads": re.compile(r"[1-9]\d{0,3}"),
}


def duckdb_settings(url: str) -> dict[str, str]:
    """The DuckDB settings in a ``duckdb://`` URL's query (``?memory_limit=3GB``), checked.

    An unknown setting or a value of the wrong form is a :class:`KeepwiseInputError` naming it.
    """
    from urllib.parse import parse_qsl

    _, _, query = url.partition("?")
    settings: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        pattern = DUCKDB_SETTINGS.get(key)
        if pattern is None:
            raise KeepwiseInputError(
                f"store URL '{redacted(url)}': unknown setting '{key}'; a duckdb:// URL takes "
                + ", ".join(DUCKDB_SETTINGS)
            )
        if not pattern.fullmatch(value):
            raise KeepwiseInputError(f"store URL '{redacted(url)}': {key}={value!r} is not a valid value")
        settings[key] = value
    return settings


def duckdb_path(url: str) -> str:
    """The file path (or ``:memory:``) a ``duckdb://`` URL names (without its ``?settings``)."""
    rest = url[len("duckdb://") :].partition("?")[0]
    if rest in ("", ":memory:", "/:memory:"):
        return ":memory:"
    if not rest.startswith("/"):
        raise KeepwiseInputError(
            f"store URL '{redacted(url)}' is not understood; use duckdb:///relative/path.duckdb, "
            "duckdb:////absolute/path.duckdb or duckdb://:memory:"
        )
    return rest[1:]


def connect(url: str | None = None, *, read_only: bool = False, wait: float | None = None) -> Store:
    """Open the store named by ``url`` (default: :func:`default_url`) as a :class:`~keepwise.store.Store`.

    The DuckDB session runs in UTC so that timestamps read back the same everywhere, and the contract's
    tables are created if they do not exist yet. The Ibis backend is ``store.backend``; a Store also answers
    the backend's own methods (``store.table("orders")``).

    A DuckDB file another process has open (one writer, or readers while this one would write) is waited
    for: ``wait`` seconds (default :func:`lock_timeout`, ``KEEPWISE_LOCK_TIMEOUT`` or 30), saying so once on
    stderr, then :class:`StoreBusy`. ``wait=0`` raises it at once (the dashboard answers 503).
    """
    url = url or default_url()
    return Store(_open(url, read_only=read_only, wait=wait), url)


def _open_duckdb(url: str, path: str, *, read_only: bool, wait: float | None, opener: Any = None) -> Any:
    deadline: float | None = None
    while True:
        try:
            return (opener or _ibis_duckdb)(path, read_only=read_only)
        except Exception as exc:  # duckdb raises IOException for locked or unreadable files
            if not is_busy(exc):
                raise KeepwiseInputError(
                    f"cannot open store '{redacted(url)}': {str(exc).splitlines()[0]}"
                ) from exc
            if deadline is None:
                wait = lock_timeout() if wait is None else wait
                deadline = time.monotonic() + wait
                if wait > 0:
                    print(
                        f"the store is busy (another process has it open); waiting up to {wait:g} s "
                        f"({LOCK_TIMEOUT_ENV})",
                        file=sys.stderr,
                        flush=True,
                    )
            if time.monotonic() >= deadline:
                assert wait is not None
                if wait == 0:
                    raise StoreBusy(
                        f"the store '{redacted(url)}' is busy (another process has it open)"
                    ) from None
                raise StoreBusy(
                    f"the store is still busy after {wait:g} s (another process has it open); try again when "
                    f"it has finished, or wait longer with {LOCK_TIMEOUT_ENV}=SECONDS"
                ) from None
            time.sleep(_RETRY_SECONDS)


def _ibis_duckdb(path: str, *, read_only: bool) -> Any:
    import ibis

    return ibis.duckdb.connect(path, read_only=read_only)


def _open(url: str, *, read_only: bool, wait: float | None = None) -> Any:
    if url.startswith("duckdb://"):
        path = duckdb_path(url)
        if path != ":memory:":
            parent = Path(path).parent
            if not parent.exists():
                raise KeepwiseInputError(f"store URL '{redacted(url)}': folder '{parent}' does not exist")
        settings = duckdb_settings(url)
        backend = _open_duckdb(url, path, read_only=read_only, wait=wait)
        backend.raw_sql("SET TimeZone = 'UTC'")
        for key, value in settings.items():  # forms checked above: no quote can reach the statement
            backend.raw_sql(f"SET {key} = '{value}'")
        if not read_only:
            ensure_tables(backend)
        return backend
    if url.startswith(("postgres://", "postgresql://")):
        from keepwise.store.postgres import open_postgres

        return open_postgres(url, read_only=read_only)
    if url.startswith(("spark-local", "spark://")):
        from keepwise.store.spark import connect_spark

        return connect_spark(url)
    raise KeepwiseInputError(
        f"store URL '{redacted(url)}' is not supported; use duckdb:///file.duckdb, duckdb://:memory:, "
        "postgres://..., spark-local or spark://host:port"
    )


def ensure_tables(backend: Any) -> None:
    """Create every table of the contract that does not exist yet."""
    from keepwise.store.schema import TABLES

    if isinstance(backend, Store):
        backend = backend.backend
    if getattr(backend, "name", "") == "postgres":
        from keepwise.store import postgres

        postgres.ensure_tables(backend)
        return
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
