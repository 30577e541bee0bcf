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
from keepwise.store import Store, as_store
from keepwise.store.currencies import listed, missing_rates, record_currencies
from keepwise.store.memo import active, kept, once
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
    _round4,
    frame,
    latest_month,
    period,
    too_large_to_keep,
)
from keepwise.value.profitability.cost_to_serve import _check_rates
from keepwise.value.profitability.currency import resolve_currency
from keepwise.value.profitability.streams import _code, _customers, amount_streams, planned_streams

__all__ = ["customer_ledger", "profitability", "totals"]


def _currencies(store: Store, per: Period, reporting: str) -> set[str]:
    """Every currency an amount in the window (or a customer) is in."""
    if active(store) is None:
        return set(_currencies_before(store, per.end, reporting))
    # in a run: the records' currencies are known (resolving the reporting currency read them): if there is
    # no other, no period has one
    if set().union(*record_currencies(store).values()) <= {reporting}:
        return {reporting}
    # else one look at when each currency first appears answers every period's question
    return {c for c, first in _first_seen(store) if first is None or first < per.end} | {reporting}


@once
def _first_seen(store: Store) -> list[tuple[str, datetime | None]]:
    """Each currency of an amount with its first moment (``None``: of a customer or a staff rate, always)."""
    parts = []
    for name, ts in (("orders", "ordered_at"), ("incidents", "opened_at"), ("advocacy", "at")):
        t = store.table(name)
        t = t.filter(t[ts].notnull() & t.currency.notnull())
        parts.append(t.group_by(cur=t.currency).aggregate(first=t[ts].min(), always=ibis.literal(False)))
    first_type = parts[0].schema()["first"]
    for name in ("staff_rates", "customers"):
        t = store.table(name)
        t = t.filter(t.currency.notnull()).select(cur=t.currency).distinct()
        parts.append(t.mutate(first=ibis.null().cast(first_type), always=ibis.literal(True)))
    rows = ibis.union(*parts, distinct=False).to_pyarrow().to_pylist()
    return [(r["cur"], None if r["always"] else r["first"]) for r in rows]


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


def _streams(
    store: Store, per: Period, cust: ir.Table, cfg: ValueAssumptions, by_month: bool
) -> list[ir.Table]:
    """The period's amounts: in a run that planned it, its segments' sums kept once for every period.

    Otherwise (outside a run, per month, or if some amount of the planned periods overflows: then only a
    period with it is an error) the period's sources are read directly.
    """
    if not by_month:
        try:
            streams = planned_streams(store, per, cfg)
        except KeepwiseInputError:
            streams = None
        if streams is not None:
            return streams
    return amount_streams(store, per, cust, cfg, by_month)


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
    streams = _streams(store, per, cust, cfg, by_month)
    amounts = streams[0] if len(streams) == 1 else ibis.union(*streams, distinct=False)
    keys = ["customer_id", "m"] if by_month else ["customer_id"]

    currencies = _currencies(store, per, reporting)
    out = ledger_of(amounts, keys, currencies, cfg, cust, currency)
    if by_month:
        out = out.rename(month_index="m")
    with too_large_to_keep():  # in a run (a review) the ledger is computed here, once, for every figure after
        return kept(store, out, "ledger")


def ledger_of(
    amounts: ir.Table,
    keys: list[str],
    currencies: set[str],
    cfg: ValueAssumptions,
    cust: ir.Table,
    currency: CurrencyView = "reporting",
) -> ir.Table:
    """Streams of raw amounts converted, summed per ``keys`` and currency, rounded once: a ledger.

    ``keys`` is ``["customer_id"]`` or ``["customer_id", "m"]`` (``m`` kept: a month, or a period of
    :mod:`~keepwise.value.profitability.periods`); ``currencies`` every currency the amounts may be in.
    """
    reporting = _code(cfg)
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
    by_m = ["m"] if "m" in keys else []
    return out.select("customer_id", *by_m, "currency", *FIELDS, "operating_profit")


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
