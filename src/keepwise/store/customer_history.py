"""One customer's history, read for the customer page: their order lines, and their rows of other tables.

Every statement filters one table to one customer (``WHERE customer_id = ?``), so a page costs a few reads of
that customer's rows whatever the size of the store. Plain SQL (no Ibis compilation per call); results are
Python values (``Decimal``, aware ``datetime``, ``None``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keepwise.store.store import Store

__all__ = ["LINE_COLUMNS", "count_of", "latest", "order_lines", "order_summary", "rows_of"]

#: What :func:`order_lines` returns per order line, in order.
LINE_COLUMNS = ("order_id", "ordered_at", "quantity", "unit_price", "currency")


def order_lines(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """Every order line of the customer (returns have a negative quantity), oldest first: one pass."""
    rows = store.sql(
        f"SELECT {', '.join(LINE_COLUMNS)} FROM orders WHERE customer_id = ? ORDER BY ordered_at, order_id",
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
        "sum(quantity * unit_price) FROM orders WHERE customer_id = ?",
        [customer_id],
    )
    orders, lines, first, last, revenue = rows[0]
    return {"orders": orders, "lines": lines, "first": first, "last": last, "revenue": revenue}


def latest(store: Store, table: str, column: str) -> Any:
    """The largest value of ``column`` in ``table`` (``None``: no table, column or rows)."""
    if column not in _columns(store, table):
        return None
    return store.sql(f"SELECT max({store.quote(column)}) FROM {store.quote(table)}")[0][0]


def count_of(store: Store, table: str, where: Mapping[str, Any]) -> int:
    """How many rows of ``table`` have the values of ``where`` (0 without the table)."""
    if not _columns(store, table):
        return 0
    cond = " AND ".join(f"{store.quote(c)} = ?" for c in where) or "TRUE"
    return int(
        store.sql(f"SELECT count(*) FROM {store.quote(table)} WHERE {cond}", list(where.values()))[0][0]
    )


def _columns(store: Store, table: str) -> set[str]:
    """The columns of ``table`` (empty if there is no such table)."""
    if not store.has_table(table):
        return set()
    return set(store.table(table).columns)
