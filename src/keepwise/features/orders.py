"""Order lines and orders as Ibis expressions: the base every other feature is built on.

Everything here is a lazy Ibis expression over the store's ``orders`` (and ``products``) tables, so it runs in
the engine (DuckDB today, Spark later) and nothing is materialised until a caller asks for a per-customer
summary.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import ibis
import ibis.expr.types as ir

if TYPE_CHECKING:
    from keepwise.store import Store

__all__ = ["SECONDS_PER_DAY", "days_between", "order_lines", "orders", "priced_lines"]

SECONDS_PER_DAY = 86_400.0


def days_between(later: ir.Value, earlier: ir.Value) -> ir.FloatingValue:
    """Days from ``earlier`` to ``later`` (timestamps or epoch seconds) as float64, the same on every engine.

    The difference of epoch seconds is cast to float64 before dividing by 86,400: Spark reads the literal
    ``86400.0`` as a DECIMAL and would return the quotient as a decimal rounded to 6-7 places.
    """
    lat = later.epoch_seconds() if isinstance(later, ir.TimestampValue) else later
    ear = earlier.epoch_seconds() if isinstance(earlier, ir.TimestampValue) else earlier
    return (lat - ear).cast("float64") / SECONDS_PER_DAY


def priced_lines(store: Store, before: datetime | None = None) -> ir.Table:
    """Order lines with their unit cost resolved: the one place that joins orders to products.

    Parameters
    ----------
    store:
        The store holding the contract's tables (see :func:`keepwise.store.connect`).
    before:
        Exclusive upper bound on ``ordered_at`` (a timezone-aware UTC timestamp), or ``None`` for all lines.

    Returns
    -------
    ibis.Table
        Columns ``customer_id``, ``order_id``, ``ordered_at``, ``category``, ``currency``, ``quantity``,
        ``unit_price`` and ``unit_cost``: the line's own unit cost, else the product's standard cost, else
        zero (``DECIMAL(18, 4)``).
    """
    lines = store.table("orders")
    products = store.table("products")
    if before is not None:
        lines = lines.filter(lines.ordered_at < ibis.literal(before))
    std_cost = products.select(product_id=products.product_id, std_cost=products.unit_cost)
    joined = lines.left_join(std_cost, lines.product_id == std_cost.product_id)
    unit_cost = ibis.coalesce(joined.unit_cost, joined.std_cost, ibis.literal(0).cast("decimal(18,4)"))
    return joined.select(
        customer_id=joined.customer_id,
        order_id=joined.order_id,
        ordered_at=joined.ordered_at,
        category=joined.category,
        currency=joined.currency,
        quantity=joined.quantity,
        unit_price=joined.unit_price,
        unit_cost=unit_cost,
    )


def order_lines(store: Store, before: datetime | None = None) -> ir.Table:
    """Order lines with their revenue and margin, optionally only those ordered before ``before``.

    Parameters
    ----------
    store:
        The store holding the contract's tables (see :func:`keepwise.store.connect`).
    before:
        Exclusive upper bound on ``ordered_at`` (a timezone-aware UTC timestamp), or ``None`` for all lines.

    Returns
    -------
    ibis.Table
        Columns ``customer_id``, ``order_id``, ``ordered_at``, ``category``, ``revenue`` (quantity x unit
        price) and ``margin`` (quantity x (unit price - unit cost)). A line without its own unit cost takes
        the product's standard cost; without either, its cost is taken as zero (its whole revenue counts as
        margin): see :func:`priced_lines`.
    """
    lines = priced_lines(store, before)
    return lines.select(
        customer_id=lines.customer_id,
        order_id=lines.order_id,
        ordered_at=lines.ordered_at,
        category=ibis.coalesce(lines.category, ibis.literal("(none)")),
        revenue=lines.quantity * lines.unit_price,
        margin=lines.quantity * (lines.unit_price - lines.unit_cost),
    )


def orders(lines: ir.Table) -> ir.Table:
    """One row per order: its customer, time, value and margin.

    Parameters
    ----------
    lines:
        The expression returned by :func:`order_lines`.

    Returns
    -------
    ibis.Table
        Columns ``customer_id``, ``order_id``, ``ordered_at`` (the earliest line's time), ``value`` (net
        revenue of the order, negative for a pure return) and ``margin``.
    """
    return lines.group_by(["customer_id", "order_id"]).aggregate(
        ordered_at=lines.ordered_at.min(),
        value=lines.revenue.sum(),
        margin=lines.margin.sum(),
    )
