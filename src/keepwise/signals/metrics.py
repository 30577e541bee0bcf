"""Retention metrics: monthly retention by acquisition cohort, revenue retention, reactivations.

Definitions
-----------
* A customer's **cohort** is the calendar month of their first purchase.
* A customer is **active** in a month when they made a purchase in it.
* **Retention** of a cohort ``k`` months after acquisition = active customers of the cohort in that month /
  the cohort's size (the cohort heat map).
* **No-purchase rate** (``no_purchase_rate``) of a cohort in a month = the share of its customers active in
  the month before who made no purchase this month; the overall rate does the same over all customers. It
  was called ``churn_rate`` until issue 17: a customer who skips a month has not churned, so it is named for
  what it measures (the key ``churn_rate`` is gone; nothing outside the review read it but the trend chart).
* **Revenue retention** (net) over the twelve months ending with the review month = revenue in those months
  from the customers who bought in the twelve months before / the revenue those customers brought then. It
  needs 24 months of history; ``revenue_retention_history_months`` says how many the orders cover (from the
  first order to the end of the month, at most 24); a shorter history makes the "year before" a part year
  and the report says so.
* A **reactivation** is a purchase after at least 180 days without one (the ledger's inactivity floor).

Everything is aggregated in the engine; only counts per cohort and month come back.
"""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from keepwise.features.orders import days_between
from keepwise.signals.inputs import to_frame
from keepwise.signals.period import ReviewPeriod, add_months

__all__ = ["REACTIVATION_DAYS", "REVENUE_RETENTION_MONTHS", "cohort_activity", "compute_metrics"]

REACTIVATION_DAYS = 180.0


def _active_months(ords: ir.Table, days: ir.Table | None = None) -> ir.Table:
    """Each customer's active months, with their cohort and whether they were retained.

    ``days``: the purchase days with their gaps (:func:`keepwise.signals.customers.days_with_gaps`): the
    months are read from them (fewer rows than the orders), each with ``reactivated`` (1 when a purchase day
    of the month came at least :data:`REACTIVATION_DAYS` after the one before, else 0).
    """
    if days is None:
        p = ords.filter(ords.value > 0)
        m = p.group_by(["customer_id", p.ordered_at.truncate("M").name("month")]).aggregate()
    else:
        m = days.group_by(["customer_id", days.day.truncate("M").name("month")]).aggregate(
            reactivated=days.count(where=days.gap >= REACTIVATION_DAYS)
        )
        m = m.mutate(reactivated=(m.reactivated > 0).cast("int64"))
    w = ibis.window(group_by=m.customer_id, order_by=m.month)
    gap_days = days_between(m.month, m.month.lag().over(w))
    # the cohort (first active month) over the same window's partition: one pass, no join back
    # previous active month exactly one calendar month earlier (month starts are 28-31 days apart)
    return m.mutate(
        cohort=m.month.min().over(ibis.window(group_by=m.customer_id)),
        retained=ibis.coalesce(gap_days <= 31, False),
    )


def cohort_activity(ords: ir.Table, days: ir.Table | None = None) -> pd.DataFrame:
    """Active and retained customers per cohort and month.

    ``days``: the purchase days with their gaps (:func:`keepwise.signals.customers.days_with_gaps`), read
    instead of the orders; the result then also counts the reactivated customers.

    Returns
    -------
    pandas.DataFrame
        ``cohort``, ``month``, ``active`` (customers with a purchase in the month), ``retained`` (of those,
        customers also active the month before), with ``days`` ``reactivated`` (of those, customers whose
        purchase came after :data:`REACTIVATION_DAYS` days or more without one).
    """
    m = _active_months(ords, days)
    sums = {"active": m.customer_id.count(), "retained": m.retained.sum()}
    if days is not None:
        sums["reactivated"] = m.reactivated.sum()
    agg = m.group_by(["cohort", "month"]).aggregate(**sums)
    return to_frame(agg).sort_values(["cohort", "month"]).reset_index(drop=True)


def _naive(values: Any) -> pd.Series:
    """Month starts as naive UTC timestamps (engines differ in whether truncation keeps the zone)."""
    return pd.Series(pd.to_datetime(values, utc=True)).dt.tz_convert(None)


def _naive_ts(moment: Any) -> pd.Timestamp:
    ts = pd.Timestamp(moment)
    return ts.tz_convert(None) if ts.tzinfo is not None else ts


def _months_between(a: pd.Timestamp, b: pd.Timestamp) -> int:
    return (b.year * 12 + b.month) - (a.year * 12 + a.month)


def compute_metrics(
    ords: ir.Table,
    period: ReviewPeriod,
    cohorts: int = 12,
    *,
    days: ir.Table | None = None,
    figures: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """All retention metrics for the review, as JSON-able data.

    Parameters
    ----------
    ords:
        Orders before the end of the review month.
    period:
        The review month.
    cohorts:
        How many of the latest cohorts the heat map shows.
    days:
        The purchase days of ``ords`` (:func:`keepwise.features.purchase_days`), when already computed.
    figures:
        :func:`keepwise.signals.customers.scalars` of the review's customer table: revenue retention and the
        months of history are taken from it instead of adding up the orders again.

    Returns
    -------
    dict
        ``cohorts`` (rows of cohort, months_since, size, active, retention, no_purchase_rate), ``monthly``
        (month, active, new, retained, no_purchase_rate, reactivated, revenue), ``revenue_retention`` (with
        ``revenue_retention_history_months``: the months of history it was computed on, of the 24 it
        needs) and ``reactivations`` (in the review month), ``no_purchase_rate`` (the review month's).
    """
    gapped = days is not None and "gap" in days.columns  # each day's gap computed once for the run
    act = cohort_activity(ords, days if gapped else None)
    act["cohort"] = _naive(act["cohort"])
    act["month"] = _naive(act["month"])
    size = act[act["cohort"] == act["month"]].set_index("cohort")["active"]
    prev_active = act.assign(month=act["month"].map(lambda m: m + pd.DateOffset(months=1)))
    prev_active = prev_active.rename(columns={"active": "active_prev"})[["cohort", "month", "active_prev"]]
    act = act.merge(prev_active, on=["cohort", "month"], how="left")
    act["size"] = act["cohort"].map(size)
    act["months_since"] = [_months_between(c, m) for c, m in zip(act["cohort"], act["month"], strict=True)]
    act["retention"] = act["active"] / act["size"]
    act["no_purchase_rate"] = 1 - act["retained"] / act["active_prev"]
    first = _naive_ts(add_months(period.start, -(cohorts - 1)))
    heat = act[act["cohort"] >= first]
    cohort_rows = [
        {
            "cohort": c.strftime("%Y-%m"),
            "months_since": int(k),
            "size": int(s),
            "active": int(a),
            "retention": round(float(r), 4),
            "no_purchase_rate": None if pd.isna(ch) else round(float(ch), 4),
        }
        for c, k, s, a, r, ch in zip(
            heat["cohort"],
            heat["months_since"],
            heat["size"],
            heat["active"],
            heat["retention"],
            heat["no_purchase_rate"],
            strict=True,
        )
    ]
    # overall by month
    by_month = act.groupby("month").agg(active=("active", "sum"), retained=("retained", "sum")).sort_index()
    new = act[act["months_since"] == 0].set_index("month")["active"]
    by_month["new"] = new.reindex(by_month.index).fillna(0).astype(int)
    by_month["active_prev"] = by_month["active"].shift(1)
    by_month["no_purchase_rate"] = 1 - by_month["retained"] / by_month["active_prev"]

    if gapped:  # the reactivated customers of each month came with the cohorts
        react = act.groupby("month", as_index=False).agg(reactivated=("reactivated", "sum"))
        react = react[react["reactivated"] > 0]
    else:
        if days is None:
            p = ords.filter(ords.value > 0)
            days = p.group_by(["customer_id", p.ordered_at.truncate("D").name("day")]).aggregate()
        days = days.select("customer_id", "day")
        w = ibis.window(group_by=days.customer_id, order_by=days.day)
        # the window column first, then the filter: Spark cannot filter on a window expression directly
        gaps = days.mutate(gap=days_between(days.day, days.day.lag().over(w)))
        re = gaps.filter(gaps.gap >= REACTIVATION_DAYS)
        react = to_frame(
            re.group_by(re.day.truncate("M").name("month")).aggregate(reactivated=re.customer_id.nunique())
        )
        react["month"] = _naive(react["month"])
    rev = ords.group_by(ords.ordered_at.truncate("M").name("month")).aggregate(revenue=ords.value.sum())
    rev_df = to_frame(rev)
    rev_df["month"] = _naive(rev_df["month"])
    by_month = by_month.join(react.set_index("month"), how="left").join(rev_df.set_index("month"), how="left")
    by_month["reactivated"] = by_month["reactivated"].fillna(0).astype(int)
    monthly = [
        {
            "month": m.strftime("%Y-%m"),
            "active": int(r["active"]),
            "new": int(r["new"]),
            "retained": int(r["retained"]),
            "no_purchase_rate": (
                None if pd.isna(r["no_purchase_rate"]) else round(float(r["no_purchase_rate"]), 4)
            ),
            "reactivated": int(r["reactivated"]),
            "revenue": f"{r['revenue']:.2f}" if pd.notna(r["revenue"]) else "0.00",
        }
        for m, r in by_month.iterrows()
        if isinstance(m, pd.Timestamp)
    ]
    key = _naive_ts(period.start)
    churn_this = by_month["no_purchase_rate"].get(key)
    react_this: Any = by_month["reactivated"].get(key, 0)
    return {
        "cohorts": cohort_rows,
        "monthly": monthly,
        "no_purchase_rate": (
            None if churn_this is None or pd.isna(churn_this) else round(float(churn_this), 4)
        ),
        "reactivations": int(react_this),
        "revenue_retention": _revenue_retention(ords, period, figures),
        "revenue_retention_history_months": _history_months(ords, period, figures),
    }


#: Months of history revenue retention needs: the twelve months reviewed and the twelve before.
REVENUE_RETENTION_MONTHS = 24


def _history_months(ords: ir.Table, period: ReviewPeriod, figures: dict[str, Any] | None = None) -> int:
    """Calendar months from the first order's month to the review month, at most 24 (0 without orders).

    ``figures``: :func:`keepwise.signals.customers.scalars` of the review's customer table, if fetched.
    """
    if figures is not None:
        first = figures["first_order_at"]
    else:
        first = ords.aggregate(first=ords.ordered_at.min()).to_pyarrow().to_pylist()[0]["first"]
    if first is None:
        return 0
    months = _months_between(_naive_ts(first), _naive_ts(period.start)) + 1
    return max(0, min(REVENUE_RETENTION_MONTHS, months))


def _revenue_retention(
    ords: ir.Table, period: ReviewPeriod, figures: dict[str, Any] | None = None
) -> float | None:
    """Net revenue retention of the twelve months (``None`` without revenue in the twelve before).

    ``figures``: :func:`keepwise.signals.customers.scalars` of the review's customer table, if fetched.
    """
    if figures is not None:
        if not figures["rev0"]:
            return None
        return round(float((figures["rev1"] or 0) / figures["rev0"]), 4)
    y0, y1, end = (
        ibis.literal(t) for t in (add_months(period.year_start, -12), period.year_start, period.end)
    )
    before = (ords.ordered_at >= y0) & (ords.ordered_at < y1)
    after = (ords.ordered_at >= y1) & (ords.ordered_at < end)
    per = ords.group_by("customer_id").aggregate(
        rev0=ords.value.sum(where=before), rev1=ords.value.sum(where=after), n0=before.cast("int64").sum()
    )
    per = per.filter(per.n0 > 0)
    tot = per.aggregate(r0=per.rev0.sum(), r1=per.rev1.sum()).to_pyarrow().to_pylist()[0]
    if not tot["r0"]:
        return None
    return round(float((tot["r1"] or 0) / tot["r0"]), 4)
