"""Order lines and orders as Ibis expressions: the base every other feature is built on.

Everything here is a lazy Ibis expression over the store's ``orders`` (and ``products``) tables, so it runs in
the engine (DuckDB today, Spark later) and nothing is materialised until a caller asks for a per-customer
summary.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

import ibis
import ibis.expr.types as ir

if TYPE_CHECKING:
    from keepwise.store import Store

__all__ = [
    "FROM_CONFIG",
    "SECONDS_PER_DAY",
    "days_between",
    "margin_rate_of",
    "order_lines",
    "orders",
    "priced_lines",
]

SECONDS_PER_DAY = 86_400.0


def days_between(later: ir.Value, earlier: ir.Value) -> ir.FloatingValue:
    """Days from ``earlier`` to ``later`` (timestamps or epoch seconds) as float64, the same on every engine.

    The difference of epoch seconds is cast to float64 before dividing by 86,400: Spark reads the literal
    ``86400.0`` as a DECIMAL and would return the quotient as a decimal rounded to 6-7 places.
    """
    lat = later.epoch_seconds() if isinstance(later, ir.TimestampValue) else later
    ear = earlier.epoch_seconds() if isinstance(earlier, ir.TimestampValue) else earlier
    return (lat - ear).cast("float64") / SECONDS_PER_DAY


#: ``margin_rate`` default of :func:`priced_lines` and :func:`order_lines`: ``[value] default_margin_rate`` of
#: ``keepwise.toml``.
FROM_CONFIG: Literal["config"] = "config"
#: Type of an assumed unit cost: price x (1 - rate) exactly (8 places), wide enough for any contract price.
ASSUMED_COST = "decimal(24, 8)"


def margin_rate_of(margin_rate: Decimal | float | str | Literal["config"] | None) -> Decimal | None:
    """The margin rate to use: ``margin_rate`` itself, or ``[value] default_margin_rate`` for ``"config"``."""
    if margin_rate == FROM_CONFIG:
        from keepwise.config import load_config

        return load_config().value.default_margin_rate
    return None if margin_rate is None else Decimal(str(margin_rate))


def priced_lines(
    store: Store,
    before: datetime | None = None,
    *,
    margin_rate: Decimal | float | str | Literal["config"] | None = FROM_CONFIG,
) -> ir.Table:
    """Order lines with their unit cost resolved: the one place that joins orders to products.

    Every margin keepwise shows goes through here, so a line's cost is decided once: its own ``unit_cost``,
    else its product's standard cost, else, when a default margin rate is set (``[value]
    default_margin_rate``), ``unit_price x (1 - rate)`` (an assumption, flagged in ``assumed_cost``), else
    zero: the whole price of such a line counts as margin, and every report says "no unit costs recorded".

    Parameters
    ----------
    store:
        The store holding the contract's tables (see :func:`keepwise.store.connect`).
    before:
        Exclusive upper bound on ``ordered_at`` (a timezone-aware UTC timestamp), or ``None`` for all lines.
    margin_rate:
        The default gross margin rate (0.3 = 30% of the price) for lines with no cost; ``None``: none;
        ``"config"`` (the default): ``[value] default_margin_rate`` of ``keepwise.toml``.

    Returns
    -------
    ibis.Table
        Columns ``customer_id``, ``order_id``, ``ordered_at``, ``category``, ``currency``, ``quantity``,
        ``unit_price``, ``unit_cost`` (``DECIMAL(18, 4)``; ``DECIMAL(24, 8)`` with a margin rate, so the
        assumed cost is exact) and ``assumed_cost`` (true for a line with no cost of its own or of its
        product).
    """
    rate = margin_rate_of(margin_rate)
    lines = store.table("orders")
    products = store.table("products")
    if before is not None:
        lines = lines.filter(lines.ordered_at < ibis.literal(before))
    std_cost = products.select(product_id=products.product_id, std_cost=products.unit_cost)
    joined = lines.left_join(std_cost, lines.product_id == std_cost.product_id)
    assumed = joined.unit_cost.isnull() & joined.std_cost.isnull()
    if rate is None:
        unit_cost = ibis.coalesce(joined.unit_cost, joined.std_cost, ibis.literal(0).cast("decimal(18,4)"))
    else:
        keep = ibis.literal(1 - rate, type="decimal(18, 8)")
        unit_cost = ibis.coalesce(
            joined.unit_cost.cast(ASSUMED_COST),
            joined.std_cost.cast(ASSUMED_COST),
            (joined.unit_price.cast(ASSUMED_COST) * keep).cast(ASSUMED_COST),
        )
    return joined.select(
        customer_id=joined.customer_id,
        order_id=joined.order_id,
        ordered_at=joined.ordered_at,
        category=joined.category,
        currency=joined.currency,
        quantity=joined.quantity,
        unit_price=joined.unit_price,
        unit_cost=unit_cost,
        assumed_cost=assumed,
    )


def order_lines(
    store: Store,
    before: datetime | None = None,
    *,
    margin_rate: Decimal | float | str | Literal["config"] | None = FROM_CONFIG,
) -> ir.Table:
    """Order lines with their revenue and margin, optionally only those ordered before ``before``.

    Parameters
    ----------
    store:
        The store holding the contract's tables (see :func:`keepwise.store.connect`).
    before:
        Exclusive upper bound on ``ordered_at`` (a timezone-aware UTC timestamp), or ``None`` for all lines.

    margin_rate:
        The default margin rate for lines without a cost (:func:`priced_lines`; ``"config"``: keepwise.toml).

    Returns
    -------
    ibis.Table
        Columns ``customer_id``, ``order_id``, ``ordered_at``, ``category``, ``revenue`` (quantity x unit
        price) and ``margin`` (quantity x (unit price - unit cost)). A line without its own unit cost takes
        the product's standard cost; without either, the default margin rate's cost when one is set, else
        zero (its whole revenue counts as margin): see :func:`priced_lines`.
    """
    lines = priced_lines(store, before, margin_rate=margin_rate)
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
