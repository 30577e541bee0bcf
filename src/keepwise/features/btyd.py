"""BTYD sufficient statistics in the engine: purchase days, per-customer ``(x, t_x, T, zbar)`` and histograms.

Per-customer summaries are Ibis group-bys over purchase days, so they run on DuckDB and Spark alike; only the
compressed histogram of unique ``(x, t_x, T)`` tuples with their counts comes back to Python, for fitting
the models of :mod:`keepwise.models` (``keepwise fit``, ``keepwise clv``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis
import pandas as pd

from keepwise.exceptions import KeepwiseInputError
from keepwise.features.orders import SECONDS_PER_DAY, order_lines, orders
from keepwise.models.data import days_per_unit
from keepwise.store import Store, as_store

__all__ = [
    "bgbb_histogram",
    "customer_summary",
    "exited_after_last_purchase",
    "histogram",
    "purchase_days_until",
    "rft_histogram",
    "spend_exclusions",
    "spend_histogram",
]


def purchase_days_until(store: Store, end: date | None) -> tuple[Any, date]:
    """Purchase days (Ibis) up to and including ``end`` (default: the last order's day) and that end.

    A purchase day is a UTC day with an order of value >= 0: zero-value orders (free or fully discounted
    items) are purchase occasions, as in the CDNOW data behind the published estimates; returns (negative
    orders) are not. (``keepwise.features.purchase_days`` keeps only value > 0, which drops 8 of the 2,357
    CDNOW sample customers.)
    """
    store = as_store(store)
    if not store.has_table("orders"):
        raise KeepwiseInputError(
            "the store has no orders table: load orders first (keepwise load orders.csv)"
        )
    before = None if end is None else datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    ords = orders(order_lines(store, before=before))
    p = ords.filter(ords.value >= 0)
    days = p.group_by(["customer_id", p.ordered_at.truncate("D").name("day")]).aggregate(value=p.value.sum())
    if end is None:
        last = store.to_pandas(days.day.max())
        if last is None or pd.isna(last):
            raise KeepwiseInputError("the store has no purchases (orders with a positive value) to fit on")
        end = pd.Timestamp(last).date()
    return days, end


def customer_summary(days: Any, end: date, time_unit: str) -> Any:
    """Per customer (Ibis): ``x`` repeat purchase days, ``t_x``, ``T``, ``zbar`` and ``zero_repeats``.

    ``t_x`` and ``T`` are in ``time_unit``; ``zbar`` is the mean value of the repeat purchase days (0 without
    any); ``T`` runs from the first purchase day to ``end``, so both ``t_x`` and ``T`` are whole days divided
    by the unit. ``zero_repeats`` counts the repeat purchase days whose orders were all worth 0 (free items,
    full discounts): they are purchase occasions, but the spend model cannot use them
    (:func:`spend_histogram`).
    """
    unit = days_per_unit(time_unit) * SECONDS_PER_DAY
    first = days.day.min().over(group_by=days.customer_id)
    d = days.mutate(first=first)
    end_s = ibis.literal(datetime(end.year, end.month, end.day, tzinfo=UTC)).epoch_seconds()
    agg = d.group_by("customer_id").aggregate(
        n=d.day.count(),
        first_s=d.first.min().epoch_seconds(),
        last_s=d.day.max().epoch_seconds(),
        repeat_value=d.value.sum(where=d.day > d.first),
        zero_repeats=((d.day > d.first) & (d.value <= 0)).cast("int64").sum(),
    )
    x = (agg.n - 1).cast("float64")
    return agg.select(
        customer_id=agg.customer_id,
        x=x,
        # float64 before dividing: Spark would divide whole seconds by the literal as a DECIMAL (8 places)
        t_x=((agg.last_s - agg.first_s).cast("float64") / unit).round(10),
        T=((end_s - agg.first_s).cast("float64") / unit).round(10),
        zbar=ibis.ifelse(x > 0, agg.repeat_value.cast("float64") / x, 0.0),
        zero_repeats=agg.zero_repeats.fill_null(0),
    )


def histogram(table: Any, keys: list[str]) -> pd.DataFrame:
    """Unique values of ``keys`` with their ``count``, grouped in the engine, in the order of ``keys``.

    The engine returns groups in any order; sorting them makes a fit on the histogram repeatable to the last
    digit (a sum over rows in another order differs in its last bits).
    """
    h = table.group_by(keys).aggregate(count=table.count()).to_pandas()
    return h.sort_values(keys, kind="stable").reset_index(drop=True)


def rft_histogram(summary: Any) -> pd.DataFrame:
    """The compressed histogram: unique ``(x, t_x, T)`` with ``count`` (computed in the engine)."""
    return histogram(summary, ["x", "t_x", "T"])


def spend_histogram(summary: Any) -> pd.DataFrame:
    """Unique ``(x, zbar)`` of the customers the spend model can fit on, with ``count``.

    Those are the customers with repeat purchases, every one of them worth more than 0: the Gamma-Gamma model
    takes each purchase's value to be gamma-distributed, so a purchase worth 0 is outside the model (and a
    mean of 0 has no likelihood at all). :func:`spend_exclusions` counts the customers left out.
    """
    keep = summary.x > 0
    if "zero_repeats" in summary.columns:
        keep = keep & (summary.zero_repeats == 0)
    return histogram(summary.filter(keep), ["x", "zbar"])


def spend_exclusions(summary: Any) -> dict[str, int]:
    """How many customers with repeat purchases :func:`spend_histogram` leaves out, counted in the engine.

    Returns
    -------
    dict
        ``repeat_customers`` (customers with ``x > 0``), ``left_out`` (of them, those with a repeat purchase
        day worth 0), ``zero_mean`` (of those, the ones whose repeat purchases are all worth 0) and
        ``zero_days`` (repeat purchase days worth 0).
    """
    s = summary.filter(summary.x > 0)
    agg = s.aggregate(
        repeat_customers=s.count(),
        left_out=(s.zero_repeats > 0).cast("int64").sum(),
        zero_mean=(s.zbar <= 0).cast("int64").sum(),
        zero_days=s.zero_repeats.sum(),
    )
    row = agg.to_pandas().iloc[0]
    return {k: 0 if pd.isna(row[k]) else int(row[k]) for k in agg.columns}


def exited_after_last_purchase(store: Store, days: Any, end: date) -> Any | None:
    """Customers with a recorded exit on or before ``end`` and on or after their last purchase day (Ibis).

    The same rule as the lost-customer ledger's "lost explicitly" (``exits.lost_at`` on or after the last
    purchase): as of ``end`` such a customer is known to have left, whatever the purchase model says.
    ``days`` are the purchase days of :func:`purchase_days_until`. Returns ``customer_id``, ``lost_at`` (the
    latest exit), or ``None`` when the store records no exits.
    """
    store = as_store(store)
    if not store.has_table("exits"):
        return None
    before = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    ex = store.table("exits")
    ex = ex.filter(ex.lost_at < ibis.literal(before))
    ex = ex.group_by("customer_id").aggregate(lost_at=ex.lost_at.max())
    last = days.group_by("customer_id").aggregate(last_day=days.day.max())
    joined = ex.inner_join(last, "customer_id")
    return joined.filter(joined.lost_at >= joined.last_day).select("customer_id", "lost_at")


def bgbb_histogram(days: Any, end: date, time_unit: str) -> pd.DataFrame:
    """Discrete-time histogram for BG/BB: opportunities are whole periods after the first purchase's.

    ``n`` = completed periods from the first purchase day to ``end``; ``x`` = periods 1..n with a purchase,
    ``t_x`` = the last of them (0 if none).
    """
    unit = days_per_unit(time_unit) * SECONDS_PER_DAY
    first = days.day.min().over(group_by=days.customer_id)
    d = days.mutate(first=first)
    end_s = ibis.literal(datetime(end.year, end.month, end.day, tzinfo=UTC)).epoch_seconds()
    since_first = (d.day.epoch_seconds() - d.first.epoch_seconds()).cast("float64")
    d = d.mutate(
        period=(since_first / unit).floor().cast("int64"),
        n=((end_s - d.first.epoch_seconds()).cast("float64") / unit).floor().cast("int64"),
    )
    d = d.filter(d.period <= d.n)
    per = d.group_by(["customer_id", "period", "n"]).aggregate()
    rep = per.period > 0
    agg = per.group_by(["customer_id", "n"]).aggregate(x=rep.cast("int64").sum(), t_x=per.period.max())
    h = histogram(agg, ["x", "t_x", "n"])
    return h[h["n"] > 0]
