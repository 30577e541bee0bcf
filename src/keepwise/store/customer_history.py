"""One customer's history, read for the customer page: orders by order and by month, and rows by customer id.

Every statement filters one table to one customer (``WHERE customer_id = ?``), so a page costs a few reads of
that customer's rows whatever the size of the store. Plain SQL (no Ibis compilation per call); results are
Python values (``Decimal``, aware ``datetime``, ``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keepwise.store.store import Store

__all__ = ["ORDER_COLUMNS", "order_count", "order_months", "orders_of", "rows_of"]

#: What :func:`orders_of` returns per order, in order.
ORDER_COLUMNS = ("order_id", "ordered_at", "currency", "lines", "quantity", "purchases", "returns")

_ORDERS = """
    SELECT order_id, min(ordered_at) AS ordered_at, min(currency) AS currency, count(*) AS lines,
           sum(quantity) AS quantity,
           sum(CASE WHEN quantity > 0 THEN quantity * unit_price ELSE 0 END) AS purchases,
           sum(CASE WHEN quantity < 0 THEN quantity * unit_price ELSE 0 END) AS returns
    FROM orders WHERE customer_id = ? GROUP BY order_id"""


def order_count(store: Store, customer_id: str) -> int:
    """How many orders (distinct order ids) the customer placed, returns included."""
    return int(
        store.sql("SELECT count(DISTINCT order_id) FROM orders WHERE customer_id = ?", [customer_id])[0][0]
    )


def orders_of(store: Store, customer_id: str, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    """One page of the customer's orders, newest first: :data:`ORDER_COLUMNS` per order.

    ``purchases`` adds the lines bought (quantity above 0) at their price; ``returns`` the lines returned
    (negative quantity), a negative amount; both in the order's currency.
    """
    rows = store.sql(
        f"{_ORDERS} ORDER BY ordered_at DESC, order_id DESC LIMIT ? OFFSET ?", [customer_id, limit, offset]
    )
    return [dict(zip(ORDER_COLUMNS, r, strict=True)) for r in rows]


def order_months(store: Store, customer_id: str) -> list[dict[str, Any]]:
    """The customer's purchases and returns per month (``YYYY-MM``, UTC) and currency, oldest first."""
    rows = store.sql(
        """SELECT EXTRACT(YEAR FROM ordered_at) * 100 + EXTRACT(MONTH FROM ordered_at) AS month, currency,
                  count(DISTINCT order_id) AS orders,
                  sum(CASE WHEN quantity > 0 THEN quantity * unit_price ELSE 0 END) AS purchases,
                  sum(CASE WHEN quantity < 0 THEN quantity * unit_price ELSE 0 END) AS returns
           FROM orders WHERE customer_id = ? GROUP BY 1, 2 ORDER BY 1, 2""",
        [customer_id],
    )
    keys = ("month", "currency", "orders", "purchases", "returns")
    return [
        {**dict(zip(keys, r, strict=True)), "month": f"{int(r[0]) // 100:04d}-{int(r[0]) % 100:02d}"}
        for r in rows
    ]


def rows_of(
    store: Store, table: str, customer_id: str, columns: Sequence[str], order: str, limit: int = 500
) -> list[dict[str, Any]]:
    """The customer's rows of ``table`` (its ``columns`` that exist), ordered by ``order``; ``[]`` without it.

    ``order`` is a column of the table followed by ``ASC`` or ``DESC``; at most ``limit`` rows.
    """
    present = _columns(store, table)
    if not present:
        return []
    wanted = [c for c in columns if c in present]
    by, _, way = order.partition(" ")
    if by not in present or way not in ("ASC", "DESC"):
        raise ValueError(f"cannot order {table} by {order!r}")
    listed = ", ".join(store.quote(c) for c in wanted)
    rows = store.sql(
        f"SELECT {listed} FROM {store.quote(table)} WHERE customer_id = ? ORDER BY {store.quote(by)} {way} "
        "LIMIT ?",
        [customer_id, limit],
    )
    return [dict(zip(wanted, r, strict=True)) for r in rows]


def _columns(store: Store, table: str) -> set[str]:
    """The columns of ``table`` (empty if there is no such table)."""
    if not store.has_table(table):
        return set()
    return set(store.table(table).columns)
