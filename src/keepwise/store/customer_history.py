"""One customer's history, read for the customer page: their order lines, and their rows of other tables.

Every statement filters one table to one customer (``WHERE customer_id = ?``), so a page costs a few reads of
that customer's rows whatever the size of the store. Plain SQL (no Ibis compilation per call); results are
Python values (``Decimal``, aware ``datetime``, ``None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keepwise.store.store import Store

__all__ = ["LINE_COLUMNS", "order_lines", "rows_of"]

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
