"""Cost to serve: staff minutes on each customer priced at the rate valid at each log, and unused capacity.

Time-driven activity-based costing (Kaplan and Anderson, "Time-Driven Activity-Based Costing", Harvard
Business Review, November 2004): see :mod:`keepwise.value.profitability`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from keepwise.config import Config, load_config
from keepwise.exceptions import KeepwiseInputError
from keepwise.money import shown
from keepwise.store import Store, as_store
from keepwise.store.currencies import missing_rates
from keepwise.store.memo import active, once
from keepwise.value.profitability.base import (
    _FOREVER,
    Key,
    Period,
    View,
    _in_window,
    _index,
    _month_key,
    _month_start,
    _stream,
    _times,
    latest_month,
    period,
)

__all__ = ["capacity_words", "unused_capacity"]


def _rate_periods(store: Store) -> ir.Table:
    """Each staff rate with the moment the next one takes over (``valid_to``, far future for the last)."""
    r = store.table("staff_rates")
    nxt = r.valid_from.lead().over(group_by=r.staff_id, order_by=r.valid_from)
    return r.select(
        rate_staff=r.staff_id,
        valid_from=r.valid_from,
        valid_to=ibis.coalesce(nxt, ibis.literal(_FOREVER)),
        hourly_cost=r.hourly_cost,
        cur=r.currency,
        practical=r.practical_minutes_per_month,
    )


@once
def _rate_rows(store: Store) -> list[dict[str, Any]]:
    """:func:`_rate_periods` as rows (once per run: the month's and the twelve months' capacity read them)."""
    return list(_rate_periods(store).to_pyarrow().to_pylist())


def _priced_logs(store: Store, per: Period) -> ir.Table:
    """Time logs in the window joined to the rate valid when each started."""
    logs = store.table("time_logs")
    logs = logs.filter(_in_window(logs.started_at, per))
    rates = _rate_periods(store)
    j = logs.inner_join(
        rates,
        [
            logs.staff_id == rates.rate_staff,
            logs.started_at >= rates.valid_from,
            logs.started_at < rates.valid_to,
        ],
    )
    return j.select(
        customer_id=j.customer_id,
        staff_id=j.staff_id,
        valid_from=j.valid_from,
        started_at=j.started_at,
        cur=j.cur,
        minutes=j.minutes,
        raw_cost=_times(j.minutes, j.hourly_cost),
    )


def _unrated_logs(store: Store, per: Period) -> ir.Table:
    """The time logs of the window that started before their staff member's first rate (or have none)."""
    logs = store.table("time_logs")
    logs = logs.filter(_in_window(logs.started_at, per))
    first = store.table("staff_rates").group_by("staff_id").aggregate(first_rate=lambda t: t.valid_from.min())
    j = logs.left_join(first, logs.staff_id == first.staff_id)
    return j.filter(j.first_rate.isnull() | (j.started_at < j.first_rate))


@once
def _unrated_by_month(store: Store) -> list[dict[str, Any]]:
    """Per month index ``m`` with unrated time logs: their number ``n``, least ``staff`` and first ``at``.

    Once per run: a review checks four periods, and this list is nearly always empty.
    """
    bad = _unrated_logs(store, Period(month="", view="lifetime", start=None, end=_FOREVER))
    bad = bad.mutate(m=_month_key(bad.started_at, True))
    found = bad.group_by("m").aggregate(n=bad.count(), staff=bad.staff_id.min(), at=bad.started_at.min())
    return list(found.to_pyarrow().to_pylist())


def _check_rates(store: Store, per: Period) -> None:
    """Every time log in the window must have a staff rate; say which do not."""
    if active(store) is None:
        bad = _unrated_logs(store, per)
        found = bad.aggregate(n=bad.count(), staff=bad.staff_id.min(), at=bad.started_at.min()).to_pyarrow()
        row = found.to_pylist()[0]
    else:  # in a run: the months of the window from the run's one look
        first, last = per.first_index, per.last_index
        months = [r for r in _unrated_by_month(store) if first is None or r["m"] >= first]
        months = [r for r in months if r["m"] <= last]
        row = {"n": sum(r["n"] for r in months)}
        for key in ("staff", "at"):  # the least of the months' least (a SQL min: nulls left out)
            row[key] = min((r[key] for r in months if r[key] is not None), default=None)
    if row["n"]:
        raise KeepwiseInputError(
            f"{row['n']} time log(s) have no staff rate valid when they started (e.g. staff '{row['staff']}' "
            f"at {row['at']}); add a staff_rates row with an earlier valid_from"
        )


def _cost_to_serve(store: Store, per: Period, by_month: Key) -> ir.Table:
    logs = _priced_logs(store, per)
    logs = logs.mutate(m=_month_key(logs.started_at, by_month))
    agg = logs.group_by(["customer_id", "m", "cur"]).aggregate(raw=logs.raw_cost.sum())
    return _stream(agg, cts_minute_cost=agg.raw)


# ------------------------------------------------------------------------------------------ unused capacity


def capacity_words(
    minutes: Decimal | str, cost: Decimal | str, currency: str, month: str | None = None
) -> str:
    """Unused staff capacity in words; negative unused capacity is said as time worked over capacity.

    "Staff capacity paid for but not used on customers in 2024-06: $1,200.00 (900 minutes); it is not
    charged to any customer." or "Staff worked 7,055 minutes over capacity in 2024-06; all of it is in
    customers' cost to serve, so no capacity went unused." (never "-$5,403.18 of unused capacity").
    """
    m, c = Decimal(str(minutes)), Decimal(str(cost))
    when = f" in {month}" if month else ""
    if m < 0:
        return (
            f"Staff worked {-m:,.0f} minutes over capacity{when}; all of it is in customers' cost to serve, "
            "so no capacity went unused."
        )
    if m == 0:
        return f"Staff worked exactly their capacity{when}: none went unused."
    return (
        f"Staff capacity paid for but not used on customers{when}: {shown(c, currency)} ({m:,.0f} minutes); "
        "it is not charged to any customer."
    )


def unused_capacity(
    store: Store,
    month: str | None = None,
    *,
    view: View = "month",
    config: Config | None = None,
) -> pd.DataFrame:
    """Capacity paid for but not used on customers, per staff member, in the reporting currency.

    Each rate period supplies ``practical_minutes_per_month`` in every calendar month it covers, pro rata by
    time for a rate that starts or ends within a month; a staff member supplies capacity from their first
    ``valid_from`` on. Used minutes are the logged minutes priced at the rate valid at each log.
    Unused = supplied - used, in minutes and in money (``minutes x hourly_cost / 60``); negative means more
    time was logged than the practical capacity. Staff without ``practical_minutes_per_month`` are left out
    (capacity unknown). Staff rows are few, so the pro-rating runs in Python with exact fractions; the used
    minutes come from the engine, per staff member and rate period.

    Returns
    -------
    pandas.DataFrame
        ``staff_id``, ``supplied_minutes``, ``used_minutes``, ``unused_minutes``, ``supplied_cost``,
        ``used_cost``, ``unused_cost`` (Decimal, 4 places) and ``currency`` (the reporting currency).
    """
    from keepwise.value.profitability.currency import reporting_currency

    store = as_store(store)
    cfg = (config or load_config()).value
    reporting = reporting_currency(store, config or load_config())
    per = period(month or latest_month(store), view)
    rates = _rate_rows(store)
    logs = _priced_logs(store, per)
    used = (
        logs.group_by(["staff_id", "valid_from"])
        .aggregate(minutes=logs.minutes.sum(), raw=logs.raw_cost.sum())
        .to_pyarrow()
        .to_pylist()
    )
    used_by = {(u["staff_id"], u["valid_from"]): u for u in used}
    fx = {reporting: Decimal(1), **cfg.fx}
    first_month = per.first_index
    if first_month is None:
        starts = [r["valid_from"] for r in rates]
        first_month = _index(min(starts)) if starts else per.last_index
    months = [(_month_start(i), _month_start(i + 1)) for i in range(first_month, per.last_index + 1)]

    rows: dict[str, dict[str, Fraction]] = {}
    for r in rates:
        if r["practical"] is None:
            continue
        if r["cur"] not in fx:
            raise KeepwiseInputError(
                f"no exchange rate for {r['cur']}: "
                + missing_rates("staff rates", {r["cur"], reporting}, reporting, [r["cur"]])
            )
        per_min = Fraction(r["hourly_cost"]) / 60 * Fraction(fx[r["cur"]])
        supplied = Fraction(0)
        for m_start, m_end in months:
            lo, hi = max(m_start, r["valid_from"]), min(m_end, r["valid_to"])
            if hi > lo:
                share = Fraction(int((hi - lo).total_seconds()), int((m_end - m_start).total_seconds()))
                supplied += Fraction(r["practical"]) * share
        u = used_by.get((r["rate_staff"], r["valid_from"]))
        used_min = Fraction(u["minutes"]) if u else Fraction(0)
        acc = rows.setdefault(r["rate_staff"], {k: Fraction(0) for k in ("sm", "um", "sc", "uc")})
        acc["sm"] += supplied
        acc["um"] += used_min
        acc["sc"] += supplied * per_min
        acc["uc"] += used_min * per_min

    def dec(x: Fraction) -> Decimal:
        return (Decimal(x.numerator) / Decimal(x.denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP)

    out = [
        {
            "staff_id": staff,
            "supplied_minutes": dec(a["sm"]),
            "used_minutes": dec(a["um"]),
            "unused_minutes": dec(a["sm"] - a["um"]),
            "supplied_cost": dec(a["sc"]),
            "used_cost": dec(a["uc"]),
            "unused_cost": dec(a["sc"] - a["uc"]),
            "currency": reporting,
        }
        for staff, a in sorted(rows.items())
    ]
    columns = [
        "staff_id",
        "supplied_minutes",
        "used_minutes",
        "unused_minutes",
        "supplied_cost",
        "used_cost",
        "unused_cost",
        "currency",
    ]
    return pd.DataFrame(out, columns=columns)
