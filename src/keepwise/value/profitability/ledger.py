"""The customer ledger: sales, cost to serve, concessions and advocacy per customer, in one currency.

Every source of amounts is a stream of the same shape (:func:`~keepwise.value.profitability.base._stream`);
the streams are unioned, converted and summed in the engine (see :mod:`keepwise.value.profitability`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import ibis
import ibis.expr.types as ir
import pandas as pd

from keepwise.config import Config, ValueAssumptions, load_config
from keepwise.exceptions import KeepwiseInputError
from keepwise.features.orders import priced_lines
from keepwise.store import Store, as_store
from keepwise.store.currencies import listed, missing_rates
from keepwise.store.memo import kept, once
from keepwise.value.profitability.base import (
    _FX,
    _RAW_COLUMNS,
    _ZERO,
    FIELDS,
    MONEY,
    CurrencyView,
    Period,
    View,
    _div60,
    _in_window,
    _month_key,
    _round4,
    _stream,
    _times,
    frame,
    latest_month,
    period,
    too_large_to_keep,
)
from keepwise.value.profitability.cost_to_serve import _check_rates, _cost_to_serve
from keepwise.value.profitability.currency import resolve_currency

__all__ = ["customer_ledger", "profitability", "totals"]


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


def _sales(store: Store, per: Period, by_month: bool, rate: Decimal | None) -> ir.Table:
    lines = _order_lines(store, rate)
    lines = lines.filter(_in_window(lines.ordered_at, per)).mutate(m=_month_key(lines.ordered_at, by_month))
    agg = lines.group_by(["customer_id", "m", "cur"]).aggregate(
        revenue=lines.revenue.sum(), cogs=lines.cogs.sum()
    )
    return _stream(agg, revenue=agg.revenue, cogs=agg.cogs)


def _concessions(store: Store, per: Period, cust: ir.Table, by_month: bool) -> ir.Table:
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


def _advocacy(
    store: Store, per: Period, cust: ir.Table, cfg: ValueAssumptions, by_month: bool
) -> list[ir.Table]:
    a = store.table("advocacy")
    a = a.filter(_in_window(a["at"], per))
    a = a.left_join(cust, a.customer_id == cust.customer_id).select(
        customer_id=a.customer_id,
        kind=a.kind,
        m=_month_key(a["at"], by_month),
        referred=a.referred_customer_id,
        value=a.value,
        cur=ibis.coalesce(a.currency, cust.ccy),
    )
    streams: list[ir.Table] = []

    own = a.filter(a.value.notnull())
    own = own.group_by(["customer_id", "m", "cur"]).aggregate(amount=own.value.sum())
    streams.append(_stream(own, advocacy_value=own.amount))

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

    if cfg.referral_value is None:
        streams.append(_referral_margin(store, per, a, cust, cfg))
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


def _currencies(store: Store, per: Period, reporting: str) -> set[str]:
    """Every currency an amount in the window (or a customer) is in."""
    return set(_currencies_before(store, per.end, reporting))


@once
def _currencies_before(store: Store, end: datetime, reporting: str) -> frozenset[str]:
    """Every currency of an amount before ``end`` (or of a customer or a staff rate), and ``reporting``.

    Once per run and end: a review's month and twelve months end together.
    """
    parts = []
    for name, ts in (("orders", "ordered_at"), ("incidents", "opened_at"), ("advocacy", "at")):
        t = store.table(name)
        parts.append(t.filter(t[ts] < ibis.literal(end)).select(cur=t.currency).distinct())
    for name in ("staff_rates", "customers"):
        t = store.table(name)
        parts.append(t.select(cur=t.currency).distinct())
    found = ibis.union(*parts, distinct=True).to_pyarrow().column("cur").to_pylist()
    return frozenset({c for c in found if c is not None} | {reporting})


def _fx_pairs(currencies: set[str], cfg: ValueAssumptions) -> ir.Table:
    """Factor from each currency to each other one, through the reporting currency."""
    reporting = _code(cfg)
    rates = {reporting: Decimal(1), **cfg.fx}
    missing = sorted(c for c in currencies if c not in rates)
    if missing:
        raise KeepwiseInputError(
            f"no exchange rate for {listed(missing)}: "
            + missing_rates("amounts", currencies, reporting, missing)
        )
    q = Decimal("1e-12")
    rows = [
        {"src": a, "dst": b, "factor": Decimal(1) if a == b else (rates[a] / rates[b]).quantize(q)}
        for a in sorted(currencies)
        for b in sorted(currencies)
    ]
    schema = ibis.schema({"src": "string", "dst": "string", "factor": _FX})
    return ibis.memtable(pd.DataFrame(rows), schema=schema)


@once
def customer_ledger(
    store: Store,
    month: str | None = None,
    *,
    view: View = "month",
    currency: CurrencyView = "reporting",
    by_month: bool = False,
    config: Config | None = None,
) -> ir.Table:
    """Per-customer profitability as an Ibis expression (nothing runs until it is executed).

    Parameters
    ----------
    store:
        The store (:func:`keepwise.store.connect`; an Ibis backend is accepted too).
    month:
        ``YYYY-MM``, the last month of the period; ``None``: the latest month with data.
    view:
        ``"month"``, ``"ttm"`` (trailing twelve months) or ``"lifetime"`` (all history up to the month).
    currency:
        ``"reporting"`` (the configured reporting currency) or ``"customer"`` (each customer's own).
    by_month:
        One row per customer and month (column ``month_index``) instead of one per customer.
    config:
        Assumptions; ``None`` reads ``keepwise.toml`` from the working directory.

    Returns
    -------
    ibis.Table
        ``customer_id``, ``currency``, the :data:`FIELDS` as ``DECIMAL(18, 4)`` and ``operating_profit``;
        one row per customer with any order line, time log, concession or advocacy in the period.
    """
    store = as_store(store)
    cfg = resolve_currency(store, config or load_config())[0].value
    reporting = _code(cfg)
    per = period(month or latest_month(store), view)
    _check_rates(store, per)
    cust = _customers(store, reporting)
    streams = [
        _sales(store, per, by_month, cfg.default_margin_rate),
        _cost_to_serve(store, per, by_month),
        _concessions(store, per, cust, by_month),
        *_advocacy(store, per, cust, cfg, by_month),
    ]
    amounts = ibis.union(*streams, distinct=False)
    keys = ["customer_id", "m"] if by_month else ["customer_id"]

    currencies = _currencies(store, per, reporting)
    if currencies == {reporting}:
        converted = amounts.mutate(currency=ibis.literal(reporting))
    else:
        pairs = _fx_pairs(currencies, cfg)
        if currency == "customer":
            amounts = amounts.left_join(cust.select("customer_id", "ccy"), "customer_id")
            target = ibis.coalesce(amounts.ccy, ibis.literal(reporting))
        else:
            target = ibis.literal(reporting)
        amounts = amounts.mutate(dst=target)
        j = amounts.inner_join(pairs, [amounts.cur == pairs.src, amounts.dst == pairs.dst])
        converted = j.select(
            customer_id=j.customer_id,
            m=j.m,
            currency=j.dst,
            **{c: (j[c].cast("decimal(38, 8)") * j.factor).cast("decimal(38, 20)") for c in _RAW_COLUMNS},
        )
    agg = converted.group_by([*keys, "currency"]).aggregate(**{c: converted[c].sum() for c in _RAW_COLUMNS})
    agg = agg.mutate(
        revenue=_round4(agg.revenue),
        cogs=_round4(agg.cogs),
        cost_to_serve=_div60(agg.cts_minute_cost),
        concessions=_round4(agg.concessions),
        advocacy_value=_round4(agg.advocacy_value),
    )
    gm = (agg.revenue - agg.cogs).cast(MONEY)
    operating = (gm - agg.cost_to_serve - agg.concessions).cast(MONEY)
    out = agg.mutate(
        gross_margin=gm,
        operating_profit=operating,
        profit=(operating + agg.advocacy_value).cast(MONEY),
    )
    cols = ["customer_id", *(["m"] if by_month else []), "currency", *FIELDS, "operating_profit"]
    out = out.select(*cols)
    if by_month:
        out = out.rename(month_index="m")
    with too_large_to_keep():  # in a run (a review) the ledger is computed here, once, for every figure after
        return kept(store, out, "ledger")


def profitability(
    store: Store,
    month: str | None = None,
    *,
    view: View = "month",
    currency: CurrencyView = "reporting",
    config: Config | None = None,
) -> pd.DataFrame:
    """Each customer's revenue, margin, cost to serve, concessions, advocacy value, profit and tier.

    Parameters
    ----------
    store:
        The store (:func:`keepwise.store.connect`; an Ibis backend is accepted too).
    month:
        ``YYYY-MM``; ``None``: the latest month with an order line or a time log.
    view:
        ``"month"``, ``"ttm"`` (trailing twelve months ending with ``month``) or ``"lifetime"``.
    currency:
        ``"reporting"`` or ``"customer"`` (each customer's own currency; tiers then rank mixed currencies, so
        use it for statements, not for tiers).
    config:
        Assumptions; ``None`` reads ``keepwise.toml`` from the working directory.

    Returns
    -------
    pandas.DataFrame
        One row per customer active in the period, most profitable first: ``customer_id``, ``currency``, the
        money :data:`FIELDS` and ``operating_profit`` as :class:`decimal.Decimal`, then ``rank`` (1 = most
        profitable), ``quintile`` (1 = top 20%) and ``tier`` (platinum, gold, iron, lead; see
        :mod:`keepwise.value.tiers`). ``df.attrs`` holds ``month``, ``view``, ``start`` and ``end``.

    Examples
    --------
    >>> df = profitability(store, "2024-05")  # doctest: +SKIP
    >>> df.loc[df.tier == "lead", ["customer_id", "profit"]]  # doctest: +SKIP
    """
    from keepwise.value.tiers import assign_tiers

    store = as_store(store)
    cfg = resolve_currency(store, config or load_config())[0]
    month = month or latest_month(store)
    ledger = customer_ledger(store, month, view=view, currency=currency, config=cfg)
    df = frame(assign_tiers(ledger, cfg.value), sort_by="rank")
    per = period(month, view)
    df.attrs.update(
        month=per.month,
        view=view,
        start=per.start.isoformat() if per.start else None,
        end=per.end.isoformat(),
    )
    return df


def totals(ledger: ir.Table) -> dict[str, Decimal]:
    """Sum of each money field over the customers of a :func:`customer_ledger` expression (in the engine)."""
    names = [*FIELDS, "operating_profit"]
    with too_large_to_keep():
        row = ledger.aggregate(**{f: ledger[f].sum() for f in names}).to_pyarrow().to_pylist()[0]
    return {f: (row[f] if row[f] is not None else _ZERO) for f in names}
