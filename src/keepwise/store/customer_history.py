"""One customer's history, read for the customer page: their order lines, and their rows of other tables.

Every statement filters one table to one customer (``WHERE customer_id = ?``), so a page costs a few reads of
that customer's rows whatever the size of the store. Plain SQL (no Ibis compilation per call); results are
Python values (``Decimal``, aware ``datetime``, ``None``).

:func:`one_customer` runs a stage's Ibis expression for one customer compiled once per process (per store,
schema and ``key``) and bound to the customer as a parameter: the one value of a customer
(:func:`keepwise.value.worth.worth`) costs a read, not an Ibis compilation (~0.08 s), on each page.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from keepwise.store.store import Store

__all__ = [
    "LINE_COLUMNS",
    "count_of",
    "customer_lines",
    "latest",
    "one_customer",
    "order_lines",
    "order_summary",
    "rows_of",
]

#: The temporary table :func:`customer_lines` fills with one customer's order lines.
_LINES_TABLE = "_kw_customer_lines"
#: The connection and customer whose lines :func:`customer_lines` holds in :data:`_LINES_TABLE` (``None``:
#: none), for the reads of this request (a context variable: each thread and task has its own).
_LINES: ContextVar[tuple[int, str] | None] = ContextVar("keepwise_customer_lines", default=None)


def _connection(store: Store) -> int:
    return id(getattr(store.backend, "con", store.backend))


@contextmanager
def customer_lines(store: Store, customer_id: str) -> Iterator[None]:
    """Within the block, the customer's order lines are read from a copy of them made by one scan.

    The orders table is not ordered by customer, so each read of one customer's lines scans every line's
    ``customer_id`` (10 million at a million customers, ~0.2 s of CPU). A page that reads them several times
    (the timeline or the order figures, and the customer's value) copies them once into a temporary table
    of the connection; :func:`order_lines`, :func:`order_summary` and :func:`one_customer` of that customer
    on that connection read the copy, dropped at the end of the block. DuckDB only (a no-op elsewhere).
    """
    if not store.is_duckdb or "customer_id" not in _columns(store, "orders"):
        yield
        return
    q = store.quote
    store.sql(
        f"CREATE OR REPLACE TEMP TABLE {q(_LINES_TABLE)} AS SELECT * FROM orders WHERE customer_id = ?",
        [customer_id],
    )
    token = _LINES.set((_connection(store), customer_id))
    try:
        yield
    finally:
        _LINES.reset(token)
        store.sql(f"DROP TABLE IF EXISTS temp.{q(_LINES_TABLE)}")


def _source(store: Store, customer_id: str) -> str:
    """Where the customer's order lines are read from: the copy of :func:`customer_lines`, else ``orders``."""
    held = _LINES.get()
    if held is not None and held == (_connection(store), customer_id):
        return store.quote(_LINES_TABLE)
    return "orders"


#: What :func:`order_lines` returns per order line, in order.
LINE_COLUMNS = ("order_id", "ordered_at", "quantity", "unit_price", "currency")


def order_lines(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """Every order line of the customer (returns have a negative quantity), oldest first: one pass."""
    rows = store.sql(
        f"SELECT {', '.join(LINE_COLUMNS)} FROM {_source(store, customer_id)} WHERE customer_id = ? "
        "ORDER BY ordered_at, order_id",
        [customer_id],
    )
    return [dict(zip(LINE_COLUMNS, r, strict=True)) for r in rows]


def rows_of(
    store: Store,
    table: str,
    customer_id: str,
    columns: Sequence[str],
    order: str,
    limit: int = 500,
    *,
    where: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The customer's rows of ``table`` (its ``columns`` that exist), ordered by ``order``; ``[]`` without it.

    ``order`` is a column of the table followed by ``ASC`` or ``DESC``, or several such separated by commas
    (a column the table lacks is skipped after the first); at most ``limit`` rows; ``where``: more columns
    that must equal the values given.
    """
    present = _columns(store, table)
    if not present:
        return []
    wanted = [c for c in columns if c in present]
    keys = []
    for i, part in enumerate(o.strip() for o in order.split(",")):
        by, _, way = part.partition(" ")
        if way not in ("ASC", "DESC") or (by not in present and i == 0):
            raise ValueError(f"cannot order {table} by {order!r}")
        if by in present:
            keys.append(f"{store.quote(by)} {way}")
    listed = ", ".join(store.quote(c) for c in wanted)
    more = "".join(f" AND {store.quote(c)} = ?" for c in (where or {}))
    rows = store.sql(
        f"SELECT {listed} FROM {store.quote(table)} WHERE customer_id = ?{more} ORDER BY {', '.join(keys)} "
        "LIMIT ?",
        [customer_id, *(where or {}).values(), limit],
    )
    return [dict(zip(wanted, r, strict=True)) for r in rows]


def order_summary(store: Store, customer_id: str) -> dict[str, Any]:
    """The customer's ``orders``, ``lines``, ``first`` and ``last`` order time and ``revenue`` (one read)."""
    rows = store.sql(
        "SELECT count(DISTINCT order_id), count(*), min(ordered_at), max(ordered_at), "
        f"sum(quantity * unit_price) FROM {_source(store, customer_id)} WHERE customer_id = ?",
        [customer_id],
    )
    orders, lines, first, last, revenue = rows[0]
    return {"orders": orders, "lines": lines, "first": first, "last": last, "revenue": revenue}


def latest(store: Store, table: str, column: str) -> Any:
    """The largest value of ``column`` in ``table`` (``None``: no table, column or rows)."""
    if column not in _columns(store, table):
        return None
    return store.sql(f"SELECT max({store.quote(column)}) FROM {store.quote(table)}")[0][0]


def count_of(
    store: Store, table: str, where: Mapping[str, Any], *, starting: Mapping[str, str] | None = None
) -> int:
    """How many rows of ``table`` have the values of ``where`` (0 without the table).

    ``starting``: more columns whose text must start with the value given.
    """
    if not _columns(store, table):
        return 0
    conds = [f"{store.quote(c)} = ?" for c in where]
    conds += [f"substr({store.quote(c)}, 1, {len(v)}) = ?" for c, v in (starting or {}).items()]
    params = [*where.values(), *(starting or {}).values()]
    cond = " AND ".join(conds) or "TRUE"
    return int(store.sql(f"SELECT count(*) FROM {store.quote(table)} WHERE {cond}", params)[0][0])


#: The stand-in customer id an expression is compiled with; its literal becomes the statement's parameter.
_MARK = "keepwise:one-customer:7f3a"
#: Compiled statements by (store, key, schema): the SQL with its parameter, and the expression (its types).
_PREPARED: dict[Hashable, tuple[str, Any]] = {}
_LOCK = threading.Lock()


def one_customer(
    store: Store, key: Hashable, build: Callable[[str], Any], customer_id: str, tables: Sequence[str]
) -> Any:
    """``build(customer_id).to_pyarrow()``, with the expression compiled once per store, schema and ``key``.

    ``build`` makes the expression of one customer from their id (used once, as a literal of the compiled
    SQL); ``key`` names everything else it depends on besides the columns of ``tables`` (read first, one
    small query). On DuckDB the statement compiled for a stand-in id runs with the customer's id as its
    parameter: the same SQL, the same rows and types; on other engines (or if the stand-in does not appear
    exactly once in the SQL) the expression is built and run as usual.
    """
    if not store.is_duckdb:
        return build(customer_id).to_pyarrow()
    listed = ", ".join("?" for _ in tables) or "NULL"
    schema = tuple(
        store.sql(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            f"WHERE schema_name = current_schema() AND table_name IN ({listed}) ORDER BY 1, column_index",
            list(tables),
        )
    )
    source = _source(store, customer_id) if "orders" in tables else "orders"
    full = (store.url, key, schema, source)
    with _LOCK:
        found = _PREPARED.get(full)
    if found is None:
        expr = build(_MARK).as_table()
        sql = store.backend.compile(expr)
        literal, table = "'" + _MARK + "'", 'FROM "orders" AS '
        if sql.count(literal) != 1 or (source != "orders" and sql.count(table) != 1):
            return build(customer_id).to_pyarrow()
        sql = sql.replace(literal, "?")
        if source != "orders":  # the customer's lines copied by customer_lines: the same rows
            sql = sql.replace(table, f"FROM {source} AS ")
        found = (sql, expr)
        with _LOCK:
            if len(_PREPARED) > 64:
                _PREPARED.clear()
            _PREPARED[full] = found
    from ibis.backends.duckdb.converter import DuckDBPyArrowData

    sql, expr = found
    table = store.backend.con.execute(sql, [customer_id]).fetch_arrow_table()
    return expr.__pyarrow_result__(table, data_mapper=DuckDBPyArrowData)


def _columns(store: Store, table: str) -> set[str]:
    """The columns of ``table`` (empty if there is no such table)."""
    if store.is_duckdb or store.is_postgres:  # one small read of the catalogue (no Ibis schema)
        rows = store.sql(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = ?",
            [table],
        )
        return {str(r[0]) for r in rows}
    if not store.has_table(table):
        return set()
    return set(store.table(table).columns)
