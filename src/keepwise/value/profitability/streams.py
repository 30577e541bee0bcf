"""The sources of a customer's amounts, each a stream of one shape, and their months kept once per run.

Every source (order lines, staff time, concessions, advocacy) is a stream of raw, unrounded amounts per
customer, month key and source currency (:func:`~keepwise.value.profitability.base._stream`). A ledger sums
them; :func:`monthly_amounts` keeps the sums of every source but the referral margin per customer and calendar
month for the rest of a run (a review asks for four periods' ledgers), so a period's ledger only adds up its
months. Sums of exact decimals do not depend on their grouping, so the figures are the same either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

import ibis
import ibis.expr.types as ir

from keepwise.config import ValueAssumptions
from keepwise.features.orders import priced_lines
from keepwise.store import Store
from keepwise.store.memo import active, kept, once
from keepwise.value.profitability.base import (
    _RAW_COLUMNS,
    MONEY,
    Key,
    Period,
    _in_window,
    _month_key,
    _stream,
    _times,
    too_large_to_keep,
)
from keepwise.value.profitability.cost_to_serve import _cost_to_serve

__all__ = [
    "PERIODS",
    "amount_streams",
    "plan_periods",
    "planned",
    "planned_streams",
    "referral_parts_of",
    "referral_streams",
    "segment_amounts",
    "segment_sums_of",
]


def _code(cfg: ValueAssumptions) -> str:
    """The reporting currency of a resolved ``[value]`` section (:func:`resolve_currency`)."""
    assert cfg.reporting_currency is not None, "resolve_currency first"
    return cfg.reporting_currency


def _customers(store: Store, reporting: str) -> ir.Table:
    c = store.table("customers")
    return c.select(
        customer_id=c.customer_id,
        ccy=ibis.coalesce(c.currency, ibis.literal(reporting)),
        acquired_at=c.acquired_at,
    )


def _order_lines(store: Store, rate: Decimal | None) -> ir.Table:
    """Each order line's revenue and cost of goods, exact (:func:`keepwise.features.orders.priced_lines`)."""
    lines = priced_lines(store, margin_rate=rate)
    return lines.select(
        customer_id=lines.customer_id,
        ordered_at=lines.ordered_at,
        cur=lines.currency,
        revenue=_times(lines.quantity, lines.unit_price),
        cogs=_times(lines.quantity, lines.unit_cost),
    )


def _sales(store: Store, per: Period, by_month: Key, rate: Decimal | None) -> ir.Table:
    lines = _order_lines(store, rate)
    lines = lines.filter(_in_window(lines.ordered_at, per)).mutate(m=_month_key(lines.ordered_at, by_month))
    agg = lines.group_by(["customer_id", "m", "cur"]).aggregate(
        revenue=lines.revenue.sum(), cogs=lines.cogs.sum()
    )
    return _stream(agg, revenue=agg.revenue, cogs=agg.cogs)


def _concessions(store: Store, per: Period, cust: ir.Table, by_month: Key) -> ir.Table:
    i = store.table("incidents")
    i = i.filter(i.concession_amount.notnull())
    when = ibis.coalesce(i.resolved_at, i.opened_at)
    i = i.mutate(when=when).filter(_in_window(when, per))
    j = i.left_join(cust, i.customer_id == cust.customer_id)
    j = j.select(
        customer_id=j.customer_id,
        m=_month_key(j.when, by_month),
        cur=ibis.coalesce(j.currency, j.ccy),
        amount=j.concession_amount,
    )
    agg = j.group_by(["customer_id", "m", "cur"]).aggregate(amount=j.amount.sum())
    return _stream(agg, concessions=agg.amount)


def _advocacy_rows(store: Store, per: Period, cust: ir.Table, by_month: Key) -> ir.Table:
    """The advocacy rows of the window with their month key and currency (else the customer's)."""
    a = store.table("advocacy")
    a = a.filter(_in_window(a["at"], per))
    return a.left_join(cust, a.customer_id == cust.customer_id).select(
        customer_id=a.customer_id,
        kind=a.kind,
        m=_month_key(a["at"], by_month),
        referred=a.referred_customer_id,
        value=a.value,
        cur=ibis.coalesce(a.currency, cust.ccy),
    )


def _advocacy(a: ir.Table, cfg: ValueAssumptions) -> list[ir.Table]:
    """Advocacy's own values and the configured values of rows without one (referral margins aside)."""
    own = a.filter(a.value.notnull())
    own = own.group_by(["customer_id", "m", "cur"]).aggregate(amount=own.value.sum())
    streams = [_stream(own, advocacy_value=own.amount)]

    configured = {"case_study": cfg.case_study_value, "review": cfg.review_value}
    if cfg.referral_value is not None:
        configured["referral"] = cfg.referral_value
    for kind, amount in configured.items():
        if amount == 0:
            continue
        rows = a.filter(a.value.isnull() & (a.kind == kind))
        rows = rows.group_by(["customer_id", "m"]).aggregate(n=rows.count())
        rows = rows.mutate(cur=ibis.literal(_code(cfg)))
        value = rows.n.cast("decimal(18, 0)") * ibis.literal(amount, type=MONEY)
        streams.append(_stream(rows, advocacy_value=value))
    return streams


def _referral_margin(
    store: Store, per: Period, adv: ir.Table, cust: ir.Table, cfg: ValueAssumptions
) -> ir.Table:
    """Gross margin of each referred customer's first year, credited to the referrer in the referral month."""
    refs = adv.filter(adv.value.isnull() & (adv.kind == "referral") & adv.referred.notnull())
    refs = refs.select(referrer=refs.customer_id, ref_m=refs.m, referred=refs.referred)
    lines = _order_lines(store, cfg.default_margin_rate)
    lines = lines.filter(lines.customer_id.isin(refs.referred) & (lines.ordered_at < ibis.literal(per.end)))
    first_order = lines.group_by("customer_id").aggregate(first_at=lines.ordered_at.min())
    starts = first_order.left_join(cust, first_order.customer_id == cust.customer_id).select(
        rid=first_order.customer_id, year_start=ibis.coalesce(cust.acquired_at, first_order.first_at)
    )
    j = lines.inner_join(starts, lines.customer_id == starts.rid)
    j = j.filter((j.ordered_at >= j.year_start) & (j.ordered_at < j.year_start + ibis.interval(days=365)))
    margin = j.group_by(["customer_id", "cur"]).aggregate(margin=(j.revenue - j.cogs).sum())
    k = refs.inner_join(margin, refs.referred == margin.customer_id)
    k = k.select(customer_id=k.referrer, m=k.ref_m, cur=k.cur, margin=k.margin)
    agg = k.group_by(["customer_id", "m", "cur"]).aggregate(margin=k.margin.sum())
    return _stream(agg, advocacy_value=agg.margin)


def amount_streams(
    store: Store,
    per: Period,
    cust: ir.Table,
    cfg: ValueAssumptions,
    by_month: Key,
    *,
    referrals: bool = True,
) -> list[ir.Table]:
    """Every stream of the window: sales, cost to serve, concessions, advocacy (referral margins if asked)."""
    adv = _advocacy_rows(store, per, cust, by_month)
    streams = [
        _sales(store, per, by_month, cfg.default_margin_rate),
        _cost_to_serve(store, per, by_month),
        _concessions(store, per, cust, by_month),
        *_advocacy(adv, cfg),
    ]
    if referrals:
        streams.extend(referral_streams(store, per, cust, cfg, by_month, adv))
    return streams


def referral_streams(
    store: Store,
    per: Period,
    cust: ir.Table,
    cfg: ValueAssumptions,
    by_month: Key,
    adv: ir.Table | None = None,
) -> list[ir.Table]:
    """The referral margin stream of the window (none when a referral has a configured value).

    A referred customer's first-year margin is counted as far as the store knows it at the period's end, so
    this stream depends on the end.
    """
    if cfg.referral_value is not None:
        return []
    if adv is None:
        adv = _advocacy_rows(store, per, cust, by_month)
    return [_referral_margin(store, per, adv, cust, cfg)]


# ------------------------------------------------------------------------------------- periods of one run

#: The run's cache entry holding the plan: the periods' bounds and whether one of them is a lifetime.
_PLAN = ("profitability", "plan")
#: The run's cache entry holding the planned periods themselves, in the order given.
PERIODS = ("profitability", "periods")
Plan = tuple[tuple[datetime, ...], bool]


def plan_periods(store: Store, periods: Iterable[Period]) -> None:
    """Say which periods' ledgers a run will ask for (a review: the month and the twelve months, twice).

    Their amounts are then summed once per customer, currency and segment between the periods' bounds
    (:func:`segment_amounts`), and each period's ledger adds up its segments. The first plan of a run holds;
    a period outside it (or outside a run) is read directly. Sums of exact decimals do not depend on their
    grouping, so the figures are the same either way.
    """
    cache = active(store)
    if cache is None or _PLAN in cache:
        return
    periods = list(periods)
    bounds = sorted({p.end for p in periods} | {p.start for p in periods if p.start is not None})
    cache[_PLAN] = (tuple(bounds), any(p.start is None for p in periods))
    cache[PERIODS] = tuple(dict.fromkeys(periods))


def planned(store: Store, per: Period) -> tuple[Plan, int, int] | None:
    """The run's plan and the first and last of its segments that make up ``per`` (``None``: not planned)."""
    cache = active(store)
    plan: Plan | None = None if cache is None else cache.get(_PLAN)
    if plan is None or per.end not in plan[0]:
        return None
    bounds, lifetime = plan
    last = bounds.index(per.end)  # segment i holds [bounds[i - 1], bounds[i])
    if per.start is None:
        return (plan, 0, last) if lifetime else None
    if per.start not in bounds:
        return None
    return plan, bounds.index(per.start) + 1, last


def _window(plan: Plan) -> Period:
    """Everything a plan's periods cover: up to its last bound, from its first unless one is a lifetime."""
    bounds, lifetime = plan
    return Period(month="", view="lifetime", start=None if lifetime else bounds[0], end=bounds[-1])


@once
def segment_amounts(store: Store, cfg: ValueAssumptions, plan: Plan) -> ir.Table:
    """Every source's raw amounts but the referral margin per customer, segment ``m`` and currency.

    Computed once per run into a temporary table (:func:`keepwise.store.memo.kept`): ``customer_id``, ``m``,
    ``cur`` and the raw columns, each the exact sum of its segment.
    """
    with too_large_to_keep():
        return kept(store, segment_sums_of(store, cfg, plan), "segments")


def segment_sums_of(store: Store, cfg: ValueAssumptions, plan: Plan) -> ir.Table:
    """:func:`segment_amounts` as an expression (nothing computed)."""
    cust = _customers(store, _code(cfg))
    streams = amount_streams(store, _window(plan), cust, cfg, plan[0], referrals=False)
    amounts = ibis.union(*streams, distinct=False)
    sums = {c: amounts[c].sum() for c in _RAW_COLUMNS}
    return amounts.group_by(["customer_id", "m", "cur"]).aggregate(**sums)


def segment_sums(segments: ir.Table, first: int, last: int) -> ir.Table:
    """Segments ``first`` to ``last`` of :func:`segment_amounts`, summed per customer and currency."""
    t = segments.filter((segments.m >= first) & (segments.m <= last))
    agg = t.group_by(["customer_id", "cur"]).aggregate(**{c: t[c].sum() for c in _RAW_COLUMNS})
    return _stream(agg.mutate(m=ibis.literal(0, type="int64")), **{c: agg[c] for c in _RAW_COLUMNS})


@once
def referral_parts(store: Store, cfg: ValueAssumptions, plan: Plan) -> tuple[ir.Table, ir.Table]:
    """The referrals and the referred customers' first-year margins per segment of a plan, kept once per run.

    ``refs``: ``referrer``, ``ref_m`` (segment of the referral) and ``referred``, one row per referral without
    a value of its own. ``margins``: ``customer_id`` (a referred customer), ``lm`` (segment of the order line,
    0 for lines before the plan's first bound), ``cur`` and ``margin``, the exact sum of those lines in the
    customer's first year (the 365 days from ``acquired_at``, else from their first order). A period ending
    at the bound of segment ``e`` credits the margins of segments up to ``e``: the lines before its end, as
    :func:`_referral_margin` counts them (a first order after the end leaves no line before it either way).
    """
    refs, margins = referral_parts_of(store, cfg, plan)
    with too_large_to_keep():
        return kept(store, refs, "referrals"), kept(store, margins, "referred_margins")


def referral_parts_of(store: Store, cfg: ValueAssumptions, plan: Plan) -> tuple[ir.Table, ir.Table]:
    """:func:`referral_parts` as expressions (nothing computed)."""
    bounds = plan[0]
    cust = _customers(store, _code(cfg))
    adv = _advocacy_rows(store, _window(plan), cust, bounds)
    refs = adv.filter(adv.value.isnull() & (adv.kind == "referral") & adv.referred.notnull())
    refs = refs.select(referrer=refs.customer_id, ref_m=refs.m, referred=refs.referred)
    lines = _order_lines(store, cfg.default_margin_rate)
    lines = lines.filter(
        lines.customer_id.isin(refs.referred) & (lines.ordered_at < ibis.literal(bounds[-1]))
    )
    first_order = lines.group_by("customer_id").aggregate(first_at=lines.ordered_at.min())
    starts = first_order.left_join(cust, first_order.customer_id == cust.customer_id).select(
        rid=first_order.customer_id, year_start=ibis.coalesce(cust.acquired_at, first_order.first_at)
    )
    j = lines.inner_join(starts, lines.customer_id == starts.rid)
    j = j.filter((j.ordered_at >= j.year_start) & (j.ordered_at < j.year_start + ibis.interval(days=365)))
    j = j.mutate(lm=_month_key(j.ordered_at, bounds))
    margins = j.group_by(["customer_id", "lm", "cur"]).aggregate(margin=(j.revenue - j.cogs).sum())
    return refs, margins


def referral_sums(refs: ir.Table, margins: ir.Table, first: int, last: int) -> ir.Table:
    """:func:`_referral_margin` of segments ``first`` to ``last`` from the kept :func:`referral_parts`."""
    r = refs.filter((refs.ref_m >= first) & (refs.ref_m <= last))
    r = r.mutate(m=ibis.literal(0, type="int64"))
    mg = margins.filter(margins.lm <= last)
    mg = mg.group_by(["customer_id", "cur"]).aggregate(margin=mg.margin.sum())
    k = r.inner_join(mg, r.referred == mg.customer_id)
    k = k.select(customer_id=k.referrer, m=k.m, cur=k.cur, margin=k.margin)
    agg = k.group_by(["customer_id", "m", "cur"]).aggregate(margin=k.margin.sum())
    return _stream(agg, advocacy_value=agg.margin)


def planned_streams(store: Store, per: Period, cfg: ValueAssumptions) -> list[ir.Table] | None:
    """The streams of a planned period (:func:`plan_periods`) from the run's kept sums; else ``None``."""
    found = planned(store, per)
    if found is None:
        return None
    plan, first, last = found
    streams = [segment_sums(segment_amounts(store, cfg, plan), first, last)]
    if cfg.referral_value is None:
        streams.append(referral_sums(*referral_parts(store, cfg, plan), first, last))
    return streams
