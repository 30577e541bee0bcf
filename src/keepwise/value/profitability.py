"""Customer profitability: what each customer really brings in, month by month.

For each customer and month, all in the engine (Ibis over the store, nothing per row in Python):

- ``revenue``: sum of quantity x unit price over order lines; returns are negative quantities, so revenue is
  net of returns;
- ``cogs``: sum of quantity x unit cost (the line's own cost, else the product's standard cost, else zero;
  a returned unit takes its cost back out);
- ``gross_margin`` = revenue - cogs;
- ``cost_to_serve``: time-driven activity-based costing (Kaplan and Anderson, "Time-Driven Activity-Based
  Costing", Harvard Business Review, November 2004): minutes logged on the customer x the cost per minute of
  the staff member *at the time of the log* (``staff_rates`` row with the latest ``valid_from`` not after
  ``started_at``; a rate change in the middle of a month prices each log at its own rate). The cost per minute
  is the cost of capacity supplied over practical capacity, i.e. ``hourly_cost / 60`` when ``hourly_cost`` is
  the cost of one hour of practical capacity. Capacity paid for but not used is *not* put on customers: it is
  its own line, :func:`unused_capacity`;
- ``concessions``: ``incidents.concession_amount``, in the month the incident was resolved (opened, if it is
  not resolved yet);
- ``advocacy_value``: for a referral, its own ``value`` if given, else the configured referral value, else the
  gross margin of the referred customer's first year (the 365 days from their ``acquired_at``, or first
  order; as much of it as the store knows at the end of the period); case studies and reviews: their own
  ``value``, else the configured value. Counted in the month of the advocacy;
- ``profit`` = gross_margin - cost_to_serve - concessions + advocacy_value.

Totals over customers are therefore the customers' *value*: a referred customer's first-year margin counts
once in their own gross margin and once in the referrer's advocacy value. ``operating_profit`` (profit without
advocacy value) sums to what the books show.

Money stays exact: ``DECIMAL`` in the engine and :class:`decimal.Decimal` in Python. Line amounts are exact
8-place products in 64-bit decimals (an overflow is an error, never a wrong figure), summed unrounded, and
each figure of a result row (a customer, or a customer and month) is rounded once to 4 places at the end,
half away from zero. The one division, minute-cost / 60, is exact with half-up rounding (see ``_div60``).
So a lifetime figure is the exact total rounded once; the monthly figures add up to it to within 0.0001
per month (cost to serve and converted amounts only: sums of prices x quantities need no rounding).

Currencies: every amount carries its currency. Amounts are converted to the reporting currency (or to each
customer's own currency) with the fixed rates in ``keepwise.toml`` (``[value.fx]``, 1 unit = rate reporting
currency; the cross rate between two non-reporting currencies is rate_a / rate_b to 12 decimal places). A
currency without a rate is an error that names it. A customer without a currency, and an incident or
advocacy row without one, is taken to be in the customer's currency, else the reporting currency.

Months are calendar months in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from keepwise.config import Config, ValueAssumptions, load_config
from keepwise.exceptions import KeepwiseInputError

__all__ = [
    "COMPONENTS",
    "FIELDS",
    "Period",
    "customer_ledger",
    "frame",
    "latest_month",
    "month_label",
    "period",
    "profitability",
    "totals",
    "unused_capacity",
]

View = Literal["month", "ttm", "lifetime"]
CurrencyView = Literal["reporting", "customer"]

#: Amounts computed from the records, in the order they are added up.
COMPONENTS: tuple[str, ...] = ("revenue", "cogs", "cost_to_serve", "concessions", "advocacy_value")
#: Every money field of a customer's row, as the JSON output lists them.
FIELDS: tuple[str, ...] = (
    "revenue",
    "cogs",
    "gross_margin",
    "cost_to_serve",
    "concessions",
    "advocacy_value",
    "profit",
)

#: A customer's amount for a period: ``DECIMAL(18, 4)`` like the store's money, so the engine works on 64-bit
#: integers (an amount of 10^14 or more is an overflow error, never a silent wrong figure).
MONEY = "decimal(18, 4)"
#: Sums before rounding: exact products of two 4-place decimals.
_RAW = "decimal(18, 8)"
_FX = "decimal(38, 12)"
_ZERO = Decimal("0.0000")
_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    """The months a view covers: ``[start, end)`` in UTC, ending with ``month``."""

    month: str
    view: View
    start: datetime | None
    end: datetime

    @property
    def first_index(self) -> int | None:
        """Month index (year x 12 + month - 1) of the first month, ``None`` for all history."""
        return None if self.start is None else _index(self.start)

    @property
    def last_index(self) -> int:
        """Month index of the last month (``month``)."""
        return _index(self.end) - 1


def _index(ts: datetime) -> int:
    return ts.year * 12 + ts.month - 1


def _month_start(index: int) -> datetime:
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def month_label(index: int) -> str:
    """``YYYY-MM`` for a month index (year x 12 + month - 1)."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def parse_month(month: str) -> int:
    """The month index of ``YYYY-MM``; anything else is a :class:`KeepwiseInputError`."""
    try:
        ts = datetime.strptime(month, "%Y-%m")
    except (TypeError, ValueError):
        raise KeepwiseInputError(
            f"month '{month}' is not understood; write it as YYYY-MM, e.g. 2024-05"
        ) from None
    return ts.year * 12 + ts.month - 1


def period(month: str, view: View = "month") -> Period:
    """The UTC window of ``view`` ending with ``month``.

    Parameters
    ----------
    month:
        ``YYYY-MM``, the last month of the window.
    view:
        ``"month"`` (that month), ``"ttm"`` (the trailing twelve months ending with it) or ``"lifetime"``
        (everything up to its end).
    """
    index = parse_month(month)
    end = _month_start(index + 1)
    if view == "month":
        start: datetime | None = _month_start(index)
    elif view == "ttm":
        start = _month_start(index - 11)
    elif view == "lifetime":
        start = None
    else:
        raise KeepwiseInputError(f"view '{view}' is not one of: month, ttm, lifetime")
    return Period(month=month_label(index), view=view, start=start, end=end)


def latest_month(store: Any) -> str:
    """The last month with an order line or a time log (``YYYY-MM``, UTC)."""
    orders = store.table("orders")
    logs = store.table("time_logs")
    last = [orders.ordered_at.max().execute(), logs.started_at.max().execute()]
    found = [pd.Timestamp(t) for t in last if t is not None and not pd.isna(t)]
    if not found:
        raise KeepwiseInputError("the store has no orders and no time logs yet; load your records first")
    newest = max(t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC") for t in found)
    return f"{newest.year:04d}-{newest.month:02d}"


# --------------------------------------------------------------------------------------------------- engine


def _month_of(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Month index of a timestamp in UTC (the session runs in UTC)."""
    return ts.year() * 12 + ts.month() - 1


def _in_window(ts: ir.TimestampValue, per: Period) -> ir.BooleanValue:
    cond = ts < ibis.literal(per.end)
    if per.start is not None:
        cond = cond & (ts >= ibis.literal(per.start))
    return cond


def _round4(x: ir.NumericValue) -> ir.DecimalValue:
    """Round an 8-place sum half away from zero to 4 places, typed ``DECIMAL(18, 4)``.

    The sum (``DECIMAL(38, 8)`` in DuckDB, 128-bit) is first narrowed to ``DECIMAL(18, 8)``: 128-bit decimal
    rounding is ~40x slower, and a customer's amount for a period is far below 10^10.
    """
    return x.cast(_RAW).round(4).cast(MONEY)


def _times(a: ir.NumericValue, b: ir.NumericValue) -> ir.DecimalValue:
    """Exact product of two ``DECIMAL(18, 4)`` values, ``DECIMAL(18, 8)`` (overflow is an error)."""
    return (a * b).cast(_RAW)


def _div60(total: ir.NumericValue) -> ir.DecimalValue:
    """``total / 60`` rounded half up to 4 places, exactly, in 64-bit decimal arithmetic.

    DuckDB divides decimals in floating point, so the quotient is only a candidate ``c``; the exact remainder
    ``d = total - 60c`` corrects it: the answer is ``c + 0.0001`` if ``d >= 0.003``, ``c - 0.0001`` if
    ``d < -0.003``, else ``c`` (the floating-point candidate is never more than one unit off for totals
    below 10^10).
    """
    x = total.cast(_RAW)
    c = (x.cast("float64") / 60).round(4).cast(MONEY)
    d = (x - (c * 60).cast(MONEY)).cast(_RAW)
    unit = ibis.literal(Decimal("0.0001"), type=MONEY)
    half = ibis.literal(Decimal("0.003"), type=MONEY)
    return ibis.cases((d >= half, c + unit), (d < -half, c - unit), else_=c).cast(MONEY)


def _customers(store: Any, reporting: str) -> ir.Table:
    c = store.table("customers")
    return c.select(
        customer_id=c.customer_id,
        ccy=ibis.coalesce(c.currency, ibis.literal(reporting)),
        acquired_at=c.acquired_at,
    )


def _month_key(ts: ir.TimestampValue, by_month: bool) -> ir.IntegerValue:
    """The month index when results are wanted per month, else a constant (no per-row date arithmetic)."""
    return _month_of(ts) if by_month else ibis.literal(0, type="int64")


#: Columns of every stream: raw (unrounded, 8-place) amounts in the source currency. ``cts_minute_cost`` is
#: minutes x hourly cost, i.e. 60 x the cost to serve; it is divided by 60 once, after summing.
_RAW_COLUMNS = ("revenue", "cogs", "cts_minute_cost", "concessions", "advocacy_value")


def _stream(t: ir.Table, **amounts: ir.Value) -> ir.Table:
    """One source of amounts in the common shape: customer, month key, source currency, every raw amount."""
    cols: dict[str, Any] = {"customer_id": t.customer_id, "m": t.m.cast("int64"), "cur": t.cur}
    for name in _RAW_COLUMNS:
        cols[name] = amounts[name].cast(_RAW) if name in amounts else ibis.literal(_ZERO, type=_RAW)
    return t.select(**cols)


def _order_lines(store: Any) -> ir.Table:
    orders = store.table("orders")
    products = store.table("products")
    std = products.select(pid=products.product_id, std_cost=products.unit_cost)
    j = orders.left_join(std, orders.product_id == std.pid)
    cost = ibis.coalesce(j.unit_cost, j.std_cost, ibis.literal(_ZERO, type="decimal(18, 4)"))
    return j.select(
        customer_id=j.customer_id,
        ordered_at=j.ordered_at,
        cur=j.currency,
        revenue=_times(j.quantity, j.unit_price),
        cogs=_times(j.quantity, cost),
    )


def _sales(store: Any, per: Period, by_month: bool) -> ir.Table:
    lines = _order_lines(store)
    lines = lines.filter(_in_window(lines.ordered_at, per)).mutate(m=_month_key(lines.ordered_at, by_month))
    agg = lines.group_by(["customer_id", "m", "cur"]).aggregate(
        revenue=lines.revenue.sum(), cogs=lines.cogs.sum()
    )
    return _stream(agg, revenue=agg.revenue, cogs=agg.cogs)


def _rate_periods(store: Any) -> ir.Table:
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


def _priced_logs(store: Any, per: Period) -> ir.Table:
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


def _check_rates(store: Any, per: Period) -> None:
    """Every time log in the window must have a staff rate; say which do not."""
    logs = store.table("time_logs")
    logs = logs.filter(_in_window(logs.started_at, per))
    first = store.table("staff_rates").group_by("staff_id").aggregate(first_rate=lambda t: t.valid_from.min())
    j = logs.left_join(first, logs.staff_id == first.staff_id)
    bad = j.filter(j.first_rate.isnull() | (j.started_at < j.first_rate))
    found = bad.aggregate(n=bad.count(), staff=bad.staff_id.min(), at=bad.started_at.min()).to_pyarrow()
    row = found.to_pylist()[0]
    if row["n"]:
        raise KeepwiseInputError(
            f"{row['n']} time log(s) have no staff rate valid when they started (e.g. staff '{row['staff']}' "
            f"at {row['at']}); add a staff_rates row with an earlier valid_from"
        )


def _cost_to_serve(store: Any, per: Period, by_month: bool) -> ir.Table:
    logs = _priced_logs(store, per)
    logs = logs.mutate(m=_month_key(logs.started_at, by_month))
    agg = logs.group_by(["customer_id", "m", "cur"]).aggregate(raw=logs.raw_cost.sum())
    return _stream(agg, cts_minute_cost=agg.raw)


def _concessions(store: Any, per: Period, cust: ir.Table, by_month: bool) -> ir.Table:
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
    store: Any, per: Period, cust: ir.Table, cfg: ValueAssumptions, by_month: bool
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
        rows = rows.mutate(cur=ibis.literal(cfg.reporting_currency))
        value = rows.n.cast("decimal(18, 0)") * ibis.literal(amount, type=MONEY)
        streams.append(_stream(rows, advocacy_value=value))

    if cfg.referral_value is None:
        streams.append(_referral_margin(store, per, a, cust))
    return streams


def _referral_margin(store: Any, per: Period, adv: ir.Table, cust: ir.Table) -> ir.Table:
    """Gross margin of each referred customer's first year, credited to the referrer in the referral month."""
    refs = adv.filter(adv.value.isnull() & (adv.kind == "referral") & adv.referred.notnull())
    refs = refs.select(referrer=refs.customer_id, ref_m=refs.m, referred=refs.referred)
    lines = _order_lines(store)
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


def _currencies(store: Any, per: Period, reporting: str) -> set[str]:
    """Every currency an amount in the window (or a customer) is in."""
    parts = []
    for name, ts in (("orders", "ordered_at"), ("incidents", "opened_at"), ("advocacy", "at")):
        t = store.table(name)
        parts.append(t.filter(t[ts] < ibis.literal(per.end)).select(cur=t.currency).distinct())
    for name in ("staff_rates", "customers"):
        t = store.table(name)
        parts.append(t.select(cur=t.currency).distinct())
    found = ibis.union(*parts, distinct=True).to_pyarrow().column("cur").to_pylist()
    return {c for c in found if c is not None} | {reporting}


def _fx_pairs(currencies: set[str], cfg: ValueAssumptions) -> ir.Table:
    """Factor from each currency to each other one, through the reporting currency."""
    rates = {cfg.reporting_currency: Decimal(1), **cfg.fx}
    missing = sorted(c for c in currencies if c not in rates)
    if missing:
        raise KeepwiseInputError(
            f"no exchange rate for {', '.join(missing)}; add them under [value.fx] in keepwise.toml "
            f"(1 unit = how much {cfg.reporting_currency})"
        )
    q = Decimal("1e-12")
    rows = [
        {"src": a, "dst": b, "factor": Decimal(1) if a == b else (rates[a] / rates[b]).quantize(q)}
        for a in sorted(currencies)
        for b in sorted(currencies)
    ]
    schema = ibis.schema({"src": "string", "dst": "string", "factor": _FX})
    return ibis.memtable(pd.DataFrame(rows), schema=schema)


def customer_ledger(
    store: Any,
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
        Ibis backend of the store (:func:`keepwise.store.connect`).
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
    cfg = (config or load_config()).value
    per = period(month or latest_month(store), view)
    _check_rates(store, per)
    cust = _customers(store, cfg.reporting_currency)
    streams = [
        _sales(store, per, by_month),
        _cost_to_serve(store, per, by_month),
        _concessions(store, per, cust, by_month),
        *_advocacy(store, per, cust, cfg, by_month),
    ]
    amounts = ibis.union(*streams, distinct=False)
    keys = ["customer_id", "m"] if by_month else ["customer_id"]

    currencies = _currencies(store, per, cfg.reporting_currency)
    if currencies == {cfg.reporting_currency}:
        converted = amounts.mutate(currency=ibis.literal(cfg.reporting_currency))
    else:
        pairs = _fx_pairs(currencies, cfg)
        if currency == "customer":
            amounts = amounts.left_join(cust.select("customer_id", "ccy"), "customer_id")
            target = ibis.coalesce(amounts.ccy, ibis.literal(cfg.reporting_currency))
        else:
            target = ibis.literal(cfg.reporting_currency)
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
    return out


def profitability(
    store: Any,
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
        Ibis backend of the store (:func:`keepwise.store.connect`).
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

    cfg = config or load_config()
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


def frame(expr: ir.Table, *, sort_by: str | None = None) -> pd.DataFrame:
    """Execute ``expr`` into pandas through Arrow, money as :class:`decimal.Decimal`.

    Ibis' own ``to_pandas`` converts decimals value by value (50 s for a million customers); Arrow's
    conversion takes about 2 s. Sorting, if asked, is done on the Arrow table: ``ORDER BY`` after the ranking
    window costs the engine more than the window itself.
    """
    table = expr.to_pyarrow()
    if sort_by is not None:
        table = table.sort_by(sort_by)
    return table.to_pandas()


def totals(ledger: ir.Table) -> dict[str, Decimal]:
    """Sum of each money field over the customers of a :func:`customer_ledger` expression (in the engine)."""
    names = [*FIELDS, "operating_profit"]
    row = ledger.aggregate(**{f: ledger[f].sum() for f in names}).to_pyarrow().to_pylist()[0]
    return {f: (row[f] if row[f] is not None else _ZERO) for f in names}


# ------------------------------------------------------------------------------------------ unused capacity


def unused_capacity(
    store: Any,
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
    cfg = (config or load_config()).value
    per = period(month or latest_month(store), view)
    rates = _rate_periods(store).to_pyarrow().to_pylist()
    logs = _priced_logs(store, per)
    used = (
        logs.group_by(["staff_id", "valid_from"])
        .aggregate(minutes=logs.minutes.sum(), raw=logs.raw_cost.sum())
        .to_pyarrow()
        .to_pylist()
    )
    used_by = {(u["staff_id"], u["valid_from"]): u for u in used}
    fx = {cfg.reporting_currency: Decimal(1), **cfg.fx}
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
                f"no exchange rate for {r['cur']}; add it under [value.fx] in keepwise.toml"
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
            "currency": cfg.reporting_currency,
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
