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
    "histogram",
    "purchase_days_until",
    "rft_histogram",
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
    """Per customer (Ibis): ``x`` repeat purchase days, ``t_x``, ``T`` in ``time_unit`` and ``zbar``.

    ``zbar`` is the mean value of the repeat purchase days (0 without any); ``T`` runs from the first purchase
    day to ``end``, so both ``t_x`` and ``T`` are whole days divided by the unit.
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
    )
    x = (agg.n - 1).cast("float64")
    return agg.select(
        customer_id=agg.customer_id,
        x=x,
        # float64 before dividing: Spark would divide whole seconds by the literal as a DECIMAL (8 places)
        t_x=((agg.last_s - agg.first_s).cast("float64") / unit).round(10),
        T=((end_s - agg.first_s).cast("float64") / unit).round(10),
        zbar=ibis.ifelse(x > 0, agg.repeat_value.cast("float64") / x, 0.0),
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
    """Unique ``(x, zbar)`` of customers with repeat purchases, with ``count``."""
    return histogram(summary.filter(summary.x > 0), ["x", "zbar"])


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
