"""Per-customer and per-customer-month features as Ibis expressions.

Each function takes lazy expressions (from :mod:`keepwise.features.orders`) and returns a lazy expression with
one row per customer (or per customer and month, or per customer and category). Only "purchase" orders, those
with a positive net value, count as purchases; pure returns change revenue and margin but not the rhythm.
"""

from __future__ import annotations

import functools
import operator
from datetime import datetime
from decimal import Decimal

import ibis
import ibis.expr.types as ir

from keepwise.features.orders import days_between

__all__ = [
    "aov_means",
    "aov_sums",
    "aov_windows",
    "cadence",
    "category_cadence",
    "category_mix",
    "category_runs",
    "mean_money",
    "monthly_aov",
    "purchase_days",
    "rfm",
]


def _purchases(ords: ir.Table) -> ir.Table:
    return ords.filter(ords.value > 0)


def rfm(ords: ir.Table, as_of: datetime) -> ir.Table:
    """Recency, frequency and monetary value per customer at ``as_of``.

    Parameters
    ----------
    ords:
        One row per order (:func:`keepwise.features.orders.orders`), already restricted to before ``as_of``.
    as_of:
        The moment the features describe (exclusive end of the review period, UTC).

    Returns
    -------
    ibis.Table
        ``customer_id``, ``n_orders`` (purchase orders), ``first_order_at``, ``last_order_at``, ``revenue``
        and ``margin`` (net of returns, all orders), ``recency_days`` (days from the last purchase to
        ``as_of``) and ``tenure_days`` (first purchase to ``as_of``).
    """
    as_of_t = ibis.literal(as_of)
    is_purchase = ords.value > 0
    agg = ords.group_by("customer_id").aggregate(
        n_orders=is_purchase.cast("int64").sum(),
        first_order_at=ords.ordered_at.min(where=is_purchase),
        last_order_at=ords.ordered_at.max(where=is_purchase),
        revenue=ords.value.sum(),
        margin=ords.margin.sum(),
    )
    return agg.mutate(
        recency_days=days_between(as_of_t, agg.last_order_at),
        tenure_days=days_between(as_of_t, agg.first_order_at),
    )


def purchase_days(ords: ir.Table) -> ir.Table:
    """Distinct purchase days per customer (orders on the same UTC day are one purchase occasion).

    Returns
    -------
    ibis.Table
        ``customer_id``, ``day`` (midnight UTC of the day, a timestamp) and ``value`` (the day's purchases).
    """
    p = _purchases(ords)
    return p.group_by(["customer_id", p.ordered_at.truncate("D").name("day")]).aggregate(value=p.value.sum())


def cadence(ords: ir.Table, as_of: datetime) -> ir.Table:
    """The buying rhythm: inter-purchase gaps (in days) between distinct purchase days, per customer.

    Parameters
    ----------
    ords:
        One row per order, restricted to before ``as_of``.
    as_of:
        The moment the features describe.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``n_days`` (purchase days), ``n_gaps``, ``mean_gap_days``, ``mean_log_gap`` and
        ``var_log_gap`` (sample variance of the natural log of the gaps; null with fewer than two gaps),
        ``max_gap_days``, ``last_order_at`` and ``current_gap_days`` (days since the last purchase day).
    """
    days = purchase_days(ords)
    w = ibis.window(group_by=days.customer_id, order_by=days.day)
    prev = days.day.lag().over(w)
    gaps = days.mutate(gap=days_between(days.day, prev))
    log_gap = gaps.gap.ln()
    agg = gaps.group_by("customer_id").aggregate(
        n_days=gaps.day.count(),
        n_gaps=gaps.gap.count(),
        mean_gap_days=gaps.gap.mean(),
        mean_log_gap=log_gap.mean(),
        var_log_gap=log_gap.var(how="sample"),
        max_gap_days=gaps.gap.max(),
        last_order_at=gaps.day.max(),
    )
    return agg.mutate(current_gap_days=days_between(ibis.literal(as_of), agg.last_order_at))


def mean_money(total: ir.DecimalValue, n: ir.IntegerValue) -> ir.FloatingValue:
    """``total / n`` rounded once, half up, to the cent (:mod:`keepwise.money`), exactly on every engine.

    A float mean of order values depends on the order the engine adds them in, so a mean that lands on half a
    cent can be shown a cent apart on DuckDB and on Spark. Here the sum stays decimal and the rounding is done
    in exact arithmetic: with ``A = 200 total + n``, the mean in cents rounded half up is
    ``floor(A / 2n) = (A - A mod 2n) / 2n``, a whole number; the remainder is taken on decimals and the last
    division is of two whole numbers that divides evenly (exact as long as ``A`` is below 2^53, a total of 45
    trillion). The result is that number of cents / 100 as a float64, the same bits on every engine (null
    when ``n`` is 0). ``total`` must have at most 8 decimals (order values, quantity x price, have 8).
    """
    a = total.cast("decimal(28,8)") * ibis.literal(Decimal(200), "decimal(3,0)") + n
    two_n = (n * 2).nullif(0)
    whole = (a - a % two_n).cast("int64")
    return (whole / two_n).round().cast("int64").cast("float64") / 100


def aov_windows(ords: ir.Table, split_at: datetime) -> ir.Table:
    """Order-value statistics before and after ``split_at``, per customer (for the order-value test).

    Each purchase order gets a month number ``k``: 0 before ``split_at``, and 1, 2, 3, ... for the first,
    second, third calendar month from ``split_at`` on. The sums of ``k``, ``k^2``, ``y``, ``y^2`` and ``k y``
    (``y`` = natural log of the order value) are the sufficient statistics of a per-customer regression of log
    order value on ``k``.

    Parameters
    ----------
    ords:
        One row per order, restricted to before the end of the review period.
    split_at:
        Start of the recent window (the first instant of a calendar month).

    Returns
    -------
    ibis.Table
        ``n``, ``sk``, ``skk``, ``sy``, ``syy``, ``sky`` (the sums above over all purchase orders); for the
        history (``_h``) and the recent window (``_r``): number of purchase orders ``n``, mean log order value
        ``mean_log`` and mean order value ``aov`` (exact, to the cent: :func:`mean_money`); ``revenue_h``,
        ``margin_h`` (past purchases).
    """
    p = _purchases(ords)
    agg = p.group_by("customer_id").aggregate(n=p.count(), **aov_sums(p, split_at))
    return agg.mutate(**aov_means(agg)).drop("value_h", "value_r")


def aov_sums(
    ords: ir.Table,
    split_at: datetime,
    purchase: ir.BooleanValue | None = None,
    *,
    month_starts: list[datetime] | None = None,
) -> dict[str, ir.Value]:
    """The per-customer aggregates of :func:`aov_windows` (less ``n``), for a ``group_by`` of ``ords``.

    ``purchase``: which rows are purchase orders, when ``ords`` holds other orders too (each aggregate then
    takes only those; ``None``: every row is one). With :func:`aov_means` of the result, the columns of
    :func:`aov_windows`.

    ``month_starts``: the first instants (UTC) of ``split_at``'s month and of every later month in which
    ``ords`` has orders; the month number ``k`` is then counted from them (how many an order is at or
    after), the same whole number as from the order's calendar month in UTC, without taking the year and
    month of every order's time (which goes through the engine's calendar, several times the rest).
    """
    split = ibis.literal(split_at)
    hist = ords.ordered_at < split
    recent = ords.ordered_at >= split
    if month_starts:
        after = [(ords.ordered_at >= ibis.literal(m)).cast("int64") for m in month_starts]
        k = functools.reduce(operator.add, after).cast("float64")
    else:
        month_no = (
            ords.ordered_at.year() * 12 + ords.ordered_at.month() - (split_at.year * 12 + split_at.month) + 1
        )
        k = ibis.greatest(month_no, 0).cast("float64")
    value = ords.value if purchase is None else ibis.ifelse(purchase, ords.value, ibis.null())
    y = value.cast("float64").ln()
    val = ords.value.cast("float64")
    if purchase is not None:
        hist, recent = hist & purchase, recent & purchase
    counts = {"n_h": hist.cast("int64").sum(), "n_r": recent.cast("int64").sum()}
    if purchase is not None:  # counted: a materialised SUM of integers would be a 128-bit integer
        counts = {"n_h": ords.count(where=hist), "n_r": ords.count(where=recent)}
    return {
        "sk": k.sum(where=purchase),
        "skk": (k * k).sum(where=purchase),
        "sy": y.sum(where=purchase),
        "syy": (y * y).sum(where=purchase),
        "sky": (k * y).sum(where=purchase),
        "n_h": counts["n_h"],
        "mean_log_h": y.mean(where=hist),
        "value_h": ords.value.sum(where=hist),
        "n_r": counts["n_r"],
        "mean_log_r": y.mean(where=recent),
        "value_r": ords.value.sum(where=recent),
        "revenue_h": val.sum(where=hist),
        "margin_h": ords.margin.cast("float64").sum(where=hist),
    }


def aov_means(agg: ir.Table) -> dict[str, ir.Value]:
    """``aov_h`` and ``aov_r`` of :func:`aov_windows` from :func:`aov_sums`' ``value_h``, ``n_h``, ..."""
    return {"aov_h": mean_money(agg.value_h, agg.n_h), "aov_r": mean_money(agg.value_r, agg.n_r)}


def monthly_aov(ords: ir.Table) -> ir.Table:
    """Average order value by customer and calendar month (UTC).

    Returns
    -------
    ibis.Table
        ``customer_id``, ``month`` (first instant of the month), ``n_orders`` (purchase orders), ``revenue``
        (net, all orders) and ``aov`` (mean value of the month's purchase orders).
    """
    m = ords.mutate(month=ords.ordered_at.truncate("M"))
    is_purchase = m.value > 0
    return m.group_by(["customer_id", "month"]).aggregate(
        n_orders=is_purchase.cast("int64").sum(),
        revenue=m.value.sum(),
        aov=m.value.cast("float64").mean(where=is_purchase),
    )


def category_mix(lines: ir.Table) -> ir.Table:
    """Revenue and lines by customer, calendar month and category (the product-range mix per month).

    Returns
    -------
    ibis.Table
        ``customer_id``, ``month``, ``category``, ``revenue``, ``margin``, ``n_orders`` (distinct orders that
        contained the category).
    """
    m = lines.mutate(month=lines.ordered_at.truncate("M"))
    return m.group_by(["customer_id", "month", "category"]).aggregate(
        revenue=m.revenue.sum(),
        margin=m.margin.sum(),
        n_orders=m.order_id.nunique(),
    )


def category_runs(lines: ir.Table, ords: ir.Table) -> ir.Table:
    """For each customer and category: how many of their orders contained it and how many came after the last.

    Purchase orders are numbered ``1..N`` per customer in time order; for each category the customer ever
    bought, ``last_idx`` is the number of the last order containing it, ``n_with`` how many orders contained
    it and ``orders_after = N - last_idx`` how many orders since did not.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``category``, ``n_with``, ``last_idx``, ``n_total``, ``orders_after``,
        ``last_at`` (time of the last order containing the category), ``first_at``, ``margin`` (margin of the
        category's lines).
    """
    p = _purchases(ords)
    w = ibis.window(group_by=p.customer_id, order_by=[p.ordered_at, p.order_id])
    numbered = p.select(
        customer_id=p.customer_id,
        order_id=p.order_id,
        idx=ibis.row_number().over(w) + 1,
        n_total=p.order_id.count().over(ibis.window(group_by=p.customer_id)),
    )
    cat = lines.group_by(["customer_id", "order_id", "category"]).aggregate(
        at=lines.ordered_at.min(), margin=lines.margin.sum()
    )
    j = cat.join(numbered, ["customer_id", "order_id"])
    agg = j.group_by(["customer_id", "category"]).aggregate(
        n_with=j.order_id.count(),
        last_idx=j.idx.max(),
        n_total=j.n_total.max(),
        last_at=j.at.max(),
        first_at=j.at.min(),
        margin=j.margin.sum(),
    )
    return agg.mutate(orders_after=agg.n_total - agg.last_idx)


def category_cadence(lines: ir.Table, as_of: datetime) -> ir.Table:
    """The buying rhythm of each product range per customer: gaps between distinct days the range was bought.

    Parameters
    ----------
    lines:
        Order lines (:func:`keepwise.features.orders.order_lines`) before ``as_of``.
    as_of:
        The moment the features describe.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``category``, ``n_days``, ``n_gaps``, ``mean_gap_days``, ``mean_log_gap``,
        ``var_log_gap``, ``first_at``, ``last_at``, ``margin`` (of the range's lines),
        ``current_gap_days``.
    """
    pos = lines.filter(lines.revenue > 0)
    days = pos.group_by(["customer_id", "category", pos.ordered_at.truncate("D").name("day")]).aggregate(
        margin=pos.margin.sum()
    )
    w = ibis.window(group_by=[days.customer_id, days.category], order_by=days.day)
    gap = days_between(days.day, days.day.lag().over(w))
    g = days.mutate(gap=gap)
    log_gap = g.gap.ln()
    agg = g.group_by(["customer_id", "category"]).aggregate(
        n_days=g.day.count(),
        n_gaps=g.gap.count(),
        mean_gap_days=g.gap.mean(),
        mean_log_gap=log_gap.mean(),
        var_log_gap=log_gap.var(how="sample"),
        first_at=g.day.min(),
        last_at=g.day.max(),
        margin=g.margin.sum(),
    )
    return agg.mutate(current_gap_days=days_between(ibis.literal(as_of), agg.last_at))
