"""PostgreSQL as the shared store: opening it, its DDL, fast copies, and the locks several processes need.

A team shares one PostgreSQL database: the dashboard, the scheduler and people's commands work on it at
once, each in its own session. What PostgreSQL needs beyond what Ibis' backend does:

* the session runs in UTC (as the DuckDB store does), and the contract's tables are created once, under an
  advisory lock, so two processes opening a new database together do not race on ``CREATE TABLE``;
* the contract's DDL is written in DuckDB's dialect (:meth:`keepwise.store.schema.Table.create_sql`) and
  transpiled here (``DOUBLE`` is ``DOUBLE PRECISION``);
* rows are written with ``COPY ... FROM STDIN`` (:func:`copy_rows`), one round trip for a whole frame;
* statements take ``?`` placeholders like DuckDB's (:func:`placeholders` turns them into psycopg's ``%s``);
* :func:`lock_tables` and :func:`advisory_lock` serialise writers (loads, lock leases) inside a transaction
  while readers go on reading the last committed rows.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from keepwise.exceptions import KeepwiseError, KeepwiseInputError

if TYPE_CHECKING:
    from keepwise.store.store import Store

__all__ = [
    "ReadOnlyStoreError",
    "advisory_lock",
    "copy_rows",
    "create",
    "create_from",
    "create_table",
    "ddl",
    "delete_keys",
    "ensure_tables",
    "is_postgres_url",
    "lock_tables",
    "open_postgres",
    "patch_compiler",
    "pg_type",
    "placeholders",
    "redacted",
    "run",
    "savepoint",
    "writes_refused",
]

#: Advisory lock key under which the contract's tables are created.
_SCHEMA_LOCK = 7_316_001


def is_postgres_url(url: str) -> bool:
    """Whether ``url`` names a PostgreSQL store (``postgres://`` or ``postgresql://``)."""
    return url.startswith(("postgres://", "postgresql://"))


def _connect_args(url: str) -> dict[str, Any]:
    """The connection arguments of psycopg from a store URL (``?host=/socket/dir`` reaches a unix socket)."""
    parts = urlsplit(url)
    args: dict[str, Any] = {}
    if parts.username:
        args["user"] = unquote(parts.username)
    if parts.password:
        args["password"] = unquote(parts.password)
    if parts.hostname:
        args["host"] = parts.hostname
    if parts.port:
        args["port"] = parts.port
    database = parts.path.lstrip("/")
    if database:
        args["database"] = unquote(database)
    for pair in filter(None, parts.query.split("&")):
        key, _, value = pair.partition("=")
        args[unquote(key)] = unquote(value)
    return args


def open_postgres(url: str, *, read_only: bool = False) -> Any:
    """Open ``url`` with Ibis' PostgreSQL backend, in UTC, with the contract's tables created.

    ``read_only``: the session's transactions are read-only (``default_transaction_read_only``), so a
    write through it fails (:class:`ReadOnlyStoreError` from :func:`run` and :func:`copy_rows`) and changes
    nothing; the temporary tables Ibis makes of in-memory data are still created (:func:`_read_only`).
    """
    try:
        import ibis
    except ImportError as exc:  # pragma: no cover - ibis is a dependency
        raise KeepwiseInputError(f"cannot open store '{redacted(url)}': {exc}") from exc
    try:
        backend = ibis.postgres.connect(**_connect_args(url))
    except Exception as exc:  # psycopg.OperationalError: server down, wrong password, no such database
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise KeepwiseInputError(f"cannot open store '{redacted(url)}': {first}") from None
    patch_compiler()
    ensure_tables(backend)
    if read_only:
        _read_only(backend)
    return backend


class ReadOnlyStoreError(KeepwiseError):
    """A write through a store opened read-only (``connect(url, read_only=True)``)."""


def _read_only(backend: Any) -> None:
    """Make ``backend``'s session read-only, except for the temporary tables of Ibis' in-memory data.

    PostgreSQL refuses every ``CREATE`` in a read-only transaction, temporary tables too; Ibis creates one
    for each in-memory table a query uses (``ibis.memtable``), outside any transaction of the store. For
    that one statement the session's default is lifted (a temporary table is the session's own).
    """
    from psycopg.pq import TransactionStatus

    con = backend.con
    con.execute("SET default_transaction_read_only = on")
    register = backend._register_in_memory_table

    def register_writable(op: Any) -> None:
        if con.info.transaction_status != TransactionStatus.IDLE:
            register(op)
            return
        con.execute("SET default_transaction_read_only = off")
        try:
            register(op)
        finally:
            con.execute("SET default_transaction_read_only = on")

    backend._register_in_memory_table = register_writable
    backend._keepwise_read_only = True


@contextmanager
def writes_refused() -> Iterator[None]:
    """Turn PostgreSQL's refusal of a write in a read-only session into :class:`ReadOnlyStoreError`."""
    import psycopg.errors

    try:
        yield
    except psycopg.errors.ReadOnlySqlTransaction as exc:
        first = (str(exc).strip().splitlines() or ["a write"])[0]
        raise ReadOnlyStoreError(f"the store was opened read-only: {first}") from None


def patch_compiler() -> None:
    """Teach Ibis' PostgreSQL compiler what DuckDB does unasked, so stages' expressions run on both.

    * PostgreSQL has no cast from ``boolean`` to ``bigint``, ``numeric`` or ``double precision`` (only to
      ``integer``): such a cast goes through ``integer`` (``flag.cast("int64").sum()`` counts true rows).
    """
    from ibis.backends.sql.compilers.postgres import PostgresCompiler

    if getattr(PostgresCompiler, "_keepwise_patched", False):
        return
    import sqlglot.expressions as sge

    original = PostgresCompiler.visit_Cast

    def visit_cast(self: Any, op: Any, *, arg: Any, to: Any) -> Any:
        if op.arg.dtype.is_boolean() and to.is_numeric() and not to.is_int32():
            arg = sge.Cast(this=arg, to=sge.DataType.build("INT"))
        return original(self, op, arg=arg, to=to)

    PostgresCompiler.visit_Cast = visit_cast
    PostgresCompiler.visit_TryCast = visit_cast
    PostgresCompiler._keepwise_patched = True


def redacted(url: str) -> str:
    """``url`` with its password shown as ``***``: :func:`keepwise.store.connection.redacted` (one rule)."""
    from keepwise.store.connection import redacted as shown

    return shown(url)


def ddl(statement: str) -> str:
    """A DuckDB-dialect DDL statement (the contract's ``create_sql``) in PostgreSQL's dialect."""
    import sqlglot

    return str(sqlglot.transpile(statement, read="duckdb", write="postgres")[0])


def ensure_tables(backend: Any) -> None:
    """Create the contract's missing tables, one process at a time (an advisory lock in one transaction)."""
    from keepwise.store.schema import TABLES

    con = backend.con
    with con.cursor() as cur, con.transaction():
        have = {r[0] for r in cur.execute(_TABLES_SQL).fetchall()}
        missing = [t for t in TABLES if t.name not in have]
        if not missing:
            return
        cur.execute("SELECT pg_advisory_xact_lock(%s)", [_SCHEMA_LOCK])
        for t in missing:
            cur.execute(ddl(t.create_sql()))


_TABLES_SQL = (
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
    "AND table_catalog = current_database()"
)


def placeholders(statement: str) -> str:
    """``statement`` with DuckDB's ``?`` placeholders as psycopg's ``%s`` (``%`` escaped; quotes kept)."""
    out: list[str] = []
    quote: str | None = None
    for ch in statement:
        if quote is not None:
            out.append("%%" if ch == "%" else ch)
            if ch == quote:
                quote = None
            continue
        if ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "?":
            out.append("%s")
        elif ch == "%":
            out.append("%%")
        else:
            out.append(ch)
    return "".join(out)


def copy_rows(con: Any, name: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write ``rows`` (values in ``columns``' order) into table ``name`` with one ``COPY FROM STDIN``."""
    from psycopg import sql

    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
    )
    with writes_refused(), con.cursor() as cur, cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def frame_rows(frame: Any) -> Iterable[tuple[Any, ...]]:
    """Rows of a DataFrame or Arrow table as Python values (``None`` for missing) for :func:`copy_rows`."""
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        table = frame
    else:
        try:
            table = pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowException, TypeError, ValueError):  # mixed Python values in one column
            yield from _python_rows(frame)
            return
    for batch in table.to_batches(max_chunksize=50_000):
        columns = [c.to_pylist() for c in batch.columns]
        yield from zip(*columns, strict=True)


def lock_tables(store: Store, names: Iterable[str], mode: str = "SHARE ROW EXCLUSIVE") -> None:
    """Lock tables ``names`` until the transaction ends: writers wait for each other, readers go on."""
    wanted = [n for n in dict.fromkeys(names) if store.has_table(n)]
    if wanted:
        store.sql(f"LOCK TABLE {', '.join(store.quote(n) for n in wanted)} IN {mode} MODE")


def advisory_lock(store: Store, name: str) -> None:
    """Hold the transaction-scoped advisory lock of ``name`` until the transaction ends (waiting for it)."""
    store.sql("SELECT pg_advisory_xact_lock(?)", [zlib.crc32(name.encode()) - (1 << 31)])


def _python_rows(frame: Any) -> Iterable[tuple[Any, ...]]:
    import pandas as pd

    def plain(v: Any) -> Any:
        if v is None or (not isinstance(v, (list, tuple, dict)) and pd.isna(v)):
            return None
        item = getattr(v, "item", None)  # numpy scalars as Python values
        return item() if item is not None and not isinstance(v, pd.Timestamp) else v

    for row in frame.itertuples(index=False, name=None):
        yield tuple(plain(v) for v in row)


def pg_type(dtype: Any) -> str:
    """The PostgreSQL type of an Ibis data type."""
    from ibis.backends.sql.datatypes import PostgresType

    return str(PostgresType.from_ibis(dtype).sql("postgres"))


def savepoint(store: Store) -> AbstractContextManager[Any]:
    """On PostgreSQL a savepoint (a failed statement inside undoes only itself); elsewhere nothing."""
    return store.backend.con.transaction() if store.is_postgres else nullcontext()


def run(con: Any, statement: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run one statement with ``?`` placeholders on psycopg connection ``con``; its rows (or ``[]``)."""
    with writes_refused(), con.cursor() as cur:
        cur.execute(placeholders(statement), list(params or []))
        return list(cur.fetchall()) if cur.description is not None else []


def create_from(store: Store, name: str, rows: Any) -> None:
    """Create table ``name``: the contract's declaration if it has one, else the columns of frame ``rows``.

    A column with no value at all (type null, which PostgreSQL has not) is text.
    """
    import ibis

    from keepwise.store.schema import SCHEMA

    if name in SCHEMA:
        create(store, ddl(SCHEMA[name].create_sql()))
        return
    create_table(store, name, ibis.memtable(rows).schema())


def create(store: Store, statement: str) -> None:
    """Run a ``CREATE TABLE IF NOT EXISTS`` holding the schema's advisory lock until the transaction ends.

    Two sessions creating the same table at once would otherwise collide in PostgreSQL's catalog
    (``duplicate key value violates unique constraint "pg_type_typname_nsp_index"``).
    """
    with store.transaction():
        store.sql("SELECT pg_advisory_xact_lock(?)", [_SCHEMA_LOCK])
        store.sql(statement)


def create_table(store: Store, name: str, schema: Any) -> None:
    """Create table ``name`` with the columns of Ibis ``schema`` unless it exists (type null: text)."""
    import ibis

    columns = ", ".join(
        f"{store.quote(c)} {pg_type(ibis.dtype('string') if t.is_null() else t)}" for c, t in schema.items()
    )
    create(store, f"CREATE TABLE IF NOT EXISTS {store.quote(name)} ({columns})")


def delete_keys(store: Store, name: str, keys: Any) -> None:
    """Delete the rows of ``name`` whose ``keys`` columns match a row of DataFrame ``keys`` (NULL = NULL).

    The keys go to a temporary table by ``COPY``; matching them with ``=`` lets PostgreSQL hash-join them
    (``IS NOT DISTINCT FROM`` cannot be hashed), and keys holding a NULL, few, are matched apart.
    """
    temp = store.quote(f"_kw_keys_{id(keys)}")
    target = store.table(name).schema()
    typed = ", ".join(f"{store.quote(c)} {pg_type(target[c])}" for c in keys.columns)
    store.sql(f"CREATE TEMP TABLE {temp} ({typed}) ON COMMIT DROP")
    copy_rows(store.backend.con, temp.strip('"'), [str(c) for c in keys.columns], frame_rows(keys))
    store.sql(f"ANALYZE {temp}")
    table = store.quote(name)
    cols = [store.quote(k) for k in keys.columns]
    equal = " AND ".join(f"{table}.{c} = k.{c}" for c in cols)
    store.sql(f"DELETE FROM {table} USING {temp} k WHERE {equal}")
    same = " AND ".join(f"{table}.{c} IS NOT DISTINCT FROM k.{c}" for c in cols)
    some_null = " OR ".join(f"k.{c} IS NULL" for c in cols)
    store.sql(f"DELETE FROM {table} USING {temp} k WHERE ({some_null}) AND {same}")
    store.sql(f"DROP TABLE {temp}")
