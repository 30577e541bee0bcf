"""The review's one customer-level table: every per-customer figure the signals read, from one query.

The lost status (:func:`keepwise.signals.ledger.lost_status`, through :func:`keepwise.value.worth.history`'s
columns), the warning rules' summary (:func:`keepwise.features.rfm` and :func:`keepwise.features.cadence`),
P(alive)'s frequency, recency and age this month and the month before, and the recent buyers
``dropped_category`` looks at all regroup the same orders and purchase days per customer.
:func:`customer_table` is all of them as one expression (one group by over the orders, one over the purchase
days and their gaps, joined), which the review materialises once and fetches once; each reader selects its
columns. Every column is the same engine expression as in the function it stands in for, so the figures are
the same.

:func:`days_with_gaps` is the purchase days with each day's gap from the customer's previous purchase day: the
window is computed once for the cadence and the reactivations of the retention metrics.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from keepwise import features
from keepwise.features.orders import days_between
from keepwise.signals.period import ReviewPeriod, add_months

__all__ = [
    "aov_columns",
    "compact_frame",
    "customer_table",
    "days_with_gaps",
    "history_frame",
    "latest_exits",
    "rfm_cadence_columns",
    "rft_columns",
    "scalars",
]

#: What :func:`keepwise.value.worth.history` returns, as columns of :func:`customer_table` (name -> column).
HISTORY = {
    "customer_id": "customer_id",
    "margin": "margin",
    "first_order_at": "first_any_at",
    "last_order_at": "last_any_at",
    "purchase_days": "purchase_days",
    "first_day": "first_day",
    "last_day": "last_day",
}

#: The columns an exit adds (:func:`latest_exits`).
EXITS = ("lost_at", "reason_code", "competitor")

#: The columns of :func:`keepwise.features.rfm` left-joined with :func:`keepwise.features.cadence`, in order.
RFM_CADENCE = (
    "customer_id",
    "n_orders",
    "first_order_at",
    "last_order_at",
    "revenue",
    "margin",
    "recency_days",
    "tenure_days",
    "n_days",
    "n_gaps",
    "mean_gap_days",
    "mean_log_gap",
    "var_log_gap",
    "max_gap_days",
    "current_gap_days",
)


#: The columns of :func:`keepwise.features.aov_windows` but ``n`` (``n_orders`` here), in order.
AOV = (
    "sk",
    "skk",
    "sy",
    "syy",
    "sky",
    "n_h",
    "mean_log_h",
    "n_r",
    "mean_log_r",
    "revenue_h",
    "margin_h",
    "aov_h",
    "aov_r",
)


def days_with_gaps(ords: ir.Table) -> ir.Table:
    """:func:`keepwise.features.purchase_days` with ``gap``: days since the customer's previous purchase day.

    ``gap`` is null on a customer's first purchase day (the same expression as the cadence's).
    """
    days = features.purchase_days(ords)
    w = ibis.window(group_by=days.customer_id, order_by=days.day)
    return days.mutate(gap=days_between(days.day, days.day.lag().over(w)))


def latest_exits(exits: ir.Table, end: datetime) -> ir.Table:
    """Each customer's latest recorded exit before ``end``.

    Columns ``customer_id``, ``lost_at``, ``reason_code``, ``competitor``.
    """
    ex = exits.filter(exits.lost_at < ibis.literal(end))
    w = ibis.window(group_by=ex.customer_id, order_by=ibis.desc(ex.lost_at))
    ex = ex.mutate(rn=ibis.row_number().over(w)).filter(lambda t: t.rn == 0)
    return ex.select("customer_id", "lost_at", "reason_code", "competitor")


def customer_table(
    ords: ir.Table, days: ir.Table, period: ReviewPeriod, exits: ir.Table | None = None
) -> ir.Table:
    """One row per customer with an order: history, RFM, cadence and the BTYD inputs at two moments.

    Parameters
    ----------
    ords:
        One row per order, before the end of ``period``.
    days:
        Its purchase days with their gaps (:func:`days_with_gaps`).
    period:
        The review month: figures are at its end; ``n_b``, ``recency_b`` and ``age_b``
        describe the purchase days before its start (the end of the month before).
    exits:
        The store's ``exits``: each customer's latest exit before the month's end (:func:`latest_exits`)
        is joined in (``lost_at``, ``reason_code``, ``competitor``), and a customer with an exit but no
        order has a row of their own (every order column null).

    Returns
    -------
    ibis.Table
        ``customer_id``; over all orders ``margin``, ``revenue``, ``first_any_at``, ``last_any_at``; over
        purchase orders ``n_orders``, ``first_order_at``, ``last_order_at``, ``recency_days``,
        ``tenure_days``; over purchase days ``purchase_days`` (= ``n_days``), ``first_day``, ``last_day``,
        ``n_gaps``, ``mean_gap_days``, ``mean_log_gap``, ``var_log_gap``, ``max_gap_days``,
        ``current_gap_days``, ``span_days`` (first to last purchase day), ``age_days`` (first purchase day to
        ``as_of``) and the same three before the month (``n_b``, ``recency_b``, ``age_b``); for the
        retention metrics and the ledger, the revenue of the twelve months before the twelve reviewed
        (``rev0``, with its orders ``n0``) and of the twelve reviewed (``rev1``), and the margin of the twelve
        reviewed (``margin_year``); the columns of :func:`keepwise.features.aov_windows` (its ``n`` is
        ``n_orders``). Purchase-day columns are null for a customer with no purchase day.
    """
    end, start = ibis.literal(period.end), ibis.literal(period.start)
    y0, y1 = ibis.literal(add_months(period.year_start, -12)), ibis.literal(period.year_start)
    is_purchase = ords.value > 0
    year_before = (ords.ordered_at >= y0) & (ords.ordered_at < y1)
    year = (ords.ordered_at >= y1) & (ords.ordered_at < end)
    totals = ords.group_by("customer_id").aggregate(
        # counted, int64 as rfm's sum (a materialised SUM of integers would be a 128-bit integer)
        n_orders=ords.count(where=is_purchase),
        first_order_at=ords.ordered_at.min(where=is_purchase),
        last_order_at=ords.ordered_at.max(where=is_purchase),
        revenue=ords.value.sum(),
        margin=ords.margin.sum(),
        first_any_at=ords.ordered_at.min(),
        last_any_at=ords.ordered_at.max(),
        rev0=ords.value.sum(where=year_before),
        rev1=ords.value.sum(where=year),
        n0=ords.count(where=year_before),
        margin_year=ords.margin.sum(where=year),
        **features.aov_sums(ords, period.recent_start, is_purchase, month_starts=_months(period)),
    )
    log_gap = days.gap.ln()
    early = days.day < start
    per = days.group_by("customer_id").aggregate(
        n_days=days.day.count(),
        n_gaps=days.gap.count(),
        mean_gap_days=days.gap.mean(),
        mean_log_gap=log_gap.mean(),
        var_log_gap=log_gap.var(how="sample"),
        max_gap_days=days.gap.max(),
        first_day=days.day.min(),
        last_day=days.day.max(),
        n_b=days.day.count(where=early),
        first_b=days.day.min(where=early),
        last_b=days.day.max(where=early),
    )
    j = totals.left_join(per, "customer_id").drop("customer_id_right")
    if exits is not None:
        j = j.outer_join(latest_exits(exits, period.end), "customer_id")
        j = j.mutate(customer_id=ibis.coalesce(j.customer_id, j.customer_id_right)).drop("customer_id_right")
    return j.mutate(
        **features.aov_means(j),
        recency_days=days_between(end, j.last_order_at),
        tenure_days=days_between(end, j.first_order_at),
        current_gap_days=days_between(end, j.last_day),
        purchase_days=j.n_days,
        span_days=days_between(j.last_day, j.first_day),
        age_days=days_between(end, j.first_day),
        recency_b=days_between(j.last_b, j.first_b),
        age_b=days_between(start, j.first_b),
    ).drop("first_b", "last_b", "value_h", "value_r")  # read by nothing once the columns above are made


def compact_frame(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas with its decimal columns kept in Arrow (``pd.ArrowDtype``).

    A million customers' amounts as Python ``Decimal`` objects cost about 100 MB a column; in Arrow 16 MB.
    Each value is still the exact ``Decimal`` when read (``to_numpy(dtype=object)``, ``tolist()``).
    """

    def keep(t: pa.DataType) -> pd.ArrowDtype | None:
        return pd.ArrowDtype(t) if pa.types.is_decimal(t) else None

    return table.to_pandas(types_mapper=keep)


def _months(period: ReviewPeriod) -> list[datetime]:
    """The first instants of the months from aov_decline's recent window to the review month."""
    out, m = [], period.recent_start
    while m < period.end:
        out.append(m)
        m = add_months(m, 1)
    return out


def history_frame(rows: pa.Table) -> pd.DataFrame:
    """What :func:`keepwise.value.worth.history` returns (run), from the fetched :func:`customer_table`.

    With the table's exits, also ``lost_at``, ``reason_code`` and ``competitor``. ``margin`` stays in Arrow
    (:func:`compact_frame`).
    """
    names = [*HISTORY, *(c for c in EXITS if c in rows.column_names)]
    columns = [*HISTORY.values(), *(c for c in EXITS if c in rows.column_names)]
    return compact_frame(rows.select(columns).rename_columns(names))


def rfm_cadence_columns(rows: pa.Table) -> pa.Table:
    """The columns of :func:`keepwise.features.rfm` left-joined with :func:`keepwise.features.cadence`."""
    return rows.select(list(RFM_CADENCE))


def rft_columns(rows: pa.Table) -> pa.Table:
    """P(alive)'s inputs at the end of the month and of the month before, for customers with a purchase day.

    ``customer_id``, ``n``, ``recency_days``, ``age_days``, ``n_b``, ``recency_b``, ``age_b``: what
    ``signals.p_alive`` computes from the purchase days.
    """
    has = pc.fill_null(pc.greater(rows["n_days"], 0), False)
    t = rows.filter(has).select(
        ["customer_id", "n_days", "span_days", "age_days", "n_b", "recency_b", "age_b"]
    )
    return t.rename_columns(["customer_id", "n", "recency_days", "age_days", "n_b", "recency_b", "age_b"])


def aov_columns(rows: pa.Table) -> pd.DataFrame:
    """:func:`keepwise.features.aov_windows` (run) from the fetched :func:`customer_table`."""
    has = pc.fill_null(pc.greater(rows["n_orders"], 0), False)
    t = rows.filter(has).select(["customer_id", "n_orders", *AOV])
    return t.rename_columns(["customer_id", "n", *AOV]).to_pandas()


def scalars(rows: pa.Table) -> dict[str, Any]:
    """Whole-business figures from the fetched :func:`customer_table` (exact: sums of exact decimal sums).

    ``first_order_at`` (the first order's moment), ``margin_year`` (the business's margin in the twelve
    months reviewed), ``rev0`` and ``rev1`` (revenue of the twelve months before and of the twelve reviewed,
    of the customers who ordered in the twelve before); ``None`` where there is nothing to add up.
    """
    before = pc.fill_null(pc.greater(rows["n0"], 0), False)
    kept = rows.filter(before)
    return {
        "first_order_at": pc.min(rows["first_any_at"]).as_py(),
        "margin_year": pc.sum(rows["margin_year"]).as_py(),
        "rev0": pc.sum(kept["rev0"]).as_py(),
        "rev1": pc.sum(kept["rev1"]).as_py(),
    }
