"""Every period of a run in one query: the ledgers, ranks and tiers of all of them, with a period column.

A review shows the month and the twelve months, each against the same view a month earlier: four ledgers,
their tiers, totals, whale curves and tier movements. Instead of one ledger, one tier frame and one total per
period, :func:`ranked_periods` computes one engine table of every period's customers (column ``pid``, the
period's place in the list), ranked within each period by one window partitioned by period, and the figures a
document prints are small queries of it: :func:`period_stats` (totals, tier counts and the whale curve's
headline sums of every period, one row each), :func:`movements` (who moved between tiers, for every period
and the same view a month earlier), :func:`curve_points` and :func:`customers_of` (one period's customers,
or only its last few). Nothing per customer comes to Python unless a document lists every customer.

The figures are those of :func:`~keepwise.value.profitability.ledger.customer_ledger`,
:func:`~keepwise.value.profitability.ledger.profitability` and :func:`~keepwise.value.whale.whale_curve` for
each period: the same exact sums, rounded once, ranked by the same order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar, cast

import ibis
import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from keepwise.config import Config
from keepwise.exceptions import KeepwiseInputError
from keepwise.store import Store
from keepwise.store.memo import active, kept, once
from keepwise.value.profitability.base import (
    _RAW_COLUMNS,
    FIELDS,
    Period,
    _stream,
    frame,
    month_label,
    parse_month,
    period,
    too_large_to_keep,
)
from keepwise.value.profitability.cost_to_serve import _check_rates
from keepwise.value.profitability.currency import resolve_currency
from keepwise.value.profitability.ledger import _currencies, customer_ledger, ledger_of
from keepwise.value.profitability.streams import (
    PERIODS,
    _code,
    _customers,
    _window,
    amount_streams,
    planned,
    referral_parts_of,
)
from keepwise.value.tiers import _LEVEL, TIERS, assign_tiers
from keepwise.value.whale import WhaleHeadline, curve_of, headline_of, wanted_ranks

__all__ = ["Ranked", "curve_points", "customers_of", "movements", "period_stats", "ranked_periods"]

#: A customer's row of a period, as :func:`~keepwise.value.profitability.profitability` has it.
COLUMNS = ("customer_id", "currency", *FIELDS, "operating_profit", "rank", "quintile", "tier")
_TOTALS = (*FIELDS, "operating_profit")
_ZERO = Decimal("0.0000")
R = TypeVar("R")


@dataclass(frozen=True)
class Ranked:
    """The ranked ledgers of some periods in one engine table.

    Attributes
    ----------
    table:
        One row per period and customer: ``pid``, the :data:`COLUMNS` and ``n`` (the period's customers).
    periods:
        The periods of the table; ``pid`` is a period's place in it.
    """

    table: ir.Table
    periods: tuple[Period, ...]

    def pid(self, per: Period) -> int:
        """The ``pid`` of period ``per``."""
        return self.periods.index(per)


def ranked_periods(store: Store, periods: Sequence[Period], config: Config) -> Ranked:
    """The ranked ledgers of ``periods`` (and of every other period the run planned) as one table.

    In a run whose plan (:func:`~keepwise.value.profitability.streams.plan_periods`) holds every period asked
    for, the table is made once for all the planned periods, from the run's kept segment sums; otherwise
    (outside a run, a period not planned, an amount too large to keep) from each period's own
    :func:`~keepwise.value.profitability.customer_ledger`.
    """
    cfg = resolve_currency(store, config)[0]
    cache = active(store)
    plan: tuple[Period, ...] = () if cache is None else cache.get(PERIODS, ())
    if all(p in plan for p in periods) and all(planned(store, p) is not None for p in plan):
        try:
            return Ranked(_planned_table(store, cfg, plan), plan)
        except KeepwiseInputError:  # some amount too large: only a period with it may fail, as below
            pass
    return Ranked(_separate_table(store, cfg, tuple(periods)), tuple(periods))


def _ranked(ledger: ir.Table, cfg: Config) -> ir.Table:
    """Rank, quintile, tier and ``n`` of each period's customers (``ledger`` has the period in ``m``)."""
    t = assign_tiers(ledger, cfg.value, group_by="m", count="n")
    return t.select(*COLUMNS, pid=t.m.cast("int64"), n=t.n)


@once
def _planned_table(store: Store, cfg: Config, periods: tuple[Period, ...]) -> ir.Table:
    """:func:`ranked_periods` of a run's planned periods, from its kept sums, once into the engine."""
    value = cfg.value
    found = [planned(store, p) for p in periods]
    plan = found[0][0] if found[0] is not None else None
    assert plan is not None
    for p in periods:
        _check_rates(store, p)
    spans = ibis.memtable(
        pa.table(
            {
                "pid": pa.array(range(len(periods)), type=pa.int64()),
                "first": pa.array([f[1] for f in found if f is not None], type=pa.int64()),
                "last": pa.array([f[2] for f in found if f is not None], type=pa.int64()),
            }
        )
    )
    reporting = _code(value)
    cust = _customers(store, reporting)
    # each source summed per customer, segment and currency (one pass over the lines), each segment's rows
    # given to every period it belongs to; the ledger then sums them per period: one grouping, not three
    segments = ibis.union(*amount_streams(store, _window(plan), cust, value, plan[0], referrals=False))
    j = segments.inner_join(spans, (segments.m >= spans["first"]) & (segments.m <= spans["last"]))
    streams = [j.select("customer_id", m=j.pid, cur=j.cur, **{c: j[c] for c in _RAW_COLUMNS})]
    if value.referral_value is None:
        streams.append(_referrals(*referral_parts_of(store, value, plan), spans))
    amounts = streams[0] if len(streams) == 1 else ibis.union(*streams, distinct=False)
    currencies = set().union(*(_currencies(store, p, reporting) for p in periods))
    ledger = ledger_of(amounts, ["customer_id", "m"], currencies, value, cust)
    with too_large_to_keep():
        return kept(store, _ranked(ledger, cfg), "ranked")


def _referrals(refs: ir.Table, margins: ir.Table, spans: ir.Table) -> ir.Table:
    """:func:`~keepwise.value.profitability.streams.referral_sums` of every period (``m``: its pid)."""
    r = refs.inner_join(spans, (refs.ref_m >= spans["first"]) & (refs.ref_m <= spans["last"]))
    r = r.select(referrer=r.referrer, referred=r.referred, rpid=r.pid)
    mg = margins.inner_join(spans, margins.lm <= spans["last"])
    mg = mg.group_by(["pid", "customer_id", "cur"]).aggregate(margin=mg.margin.sum())
    k = r.inner_join(mg, (r.rpid == mg.pid) & (r.referred == mg.customer_id))
    k = k.select(customer_id=k.referrer, m=k.rpid, cur=k.cur, margin=k.margin)
    return _stream(k, advocacy_value=k.margin)  # summed with every other amount by the ledger


def _separate_table(store: Store, cfg: Config, periods: tuple[Period, ...]) -> ir.Table:
    """:func:`ranked_periods` from each period's own ledger (kept for the rest of a run, if in one)."""
    parts = []
    for i, p in enumerate(periods):
        ledger = customer_ledger(store, p.month, view=p.view, config=cfg)
        parts.append(_ranked(ledger.mutate(m=ibis.literal(i, type="int64")), cfg))
    table = parts[0] if len(parts) == 1 else ibis.union(*parts, distinct=False)
    with too_large_to_keep():
        return kept(store, table, "ranked")


# ------------------------------------------------------------------------------- what documents read of it


@dataclass(frozen=True)
class Stats:
    """What a document prints of one period's customers as a whole.

    Attributes
    ----------
    customers:
        Customers active in the period.
    totals:
        Sum of each money field (and ``operating_profit``) over them.
    tiers:
        Per tier, top first: ``tier``, ``customers``, ``customer_share`` (%) and ``profit``, as
        :func:`keepwise.value.tiers.tier_summary` has them.
    headline:
        The whale curve's headline figures.
    positive:
        Customers with a positive profit (where the curve peaks).
    """

    customers: int
    totals: dict[str, Decimal]
    tiers: list[dict[str, Any]]
    headline: WhaleHeadline
    positive: int


def _in_run(store: Store, ranked: Ranked, what: str, compute: Callable[[], R]) -> R:
    """``compute()`` once per run and ``ranked`` table (every time outside a run)."""
    cache = active(store)
    if cache is None:
        return compute()
    key = ("profitability", what, ranked.table.op(), ranked.periods)
    if key not in cache:
        cache[key] = compute()
    return cast(R, cache[key])


def period_stats(store: Store, ranked: Ranked) -> dict[int, Stats]:
    """Totals, tiers and whale headline of every period of ``ranked``, from one query (once per run)."""
    return _in_run(store, ranked, "stats", lambda: _stats(ranked.table, ranked.periods))


def _stats(t: ir.Table, periods: tuple[Period, ...]) -> dict[int, Stats]:
    """:func:`period_stats`, computed."""
    positive, negative = t.profit > 0, t.profit < 0
    sums: dict[str, Any] = {
        "n": t.count(),
        "total": t.profit.sum(),
        "n_pos": positive.sum(),
        "pos": t.profit.sum(where=positive),
        "n_neg": negative.sum(),
        "neg": t.profit.sum(where=negative),
        "top20": t.profit.sum(where=t["rank"] <= (t.n * 0.2).round(6).ceil()),
        **{f"sum_{f}": t[f].sum() for f in _TOTALS},
    }
    for tier in TIERS:
        sums[f"n_{tier}"] = (t.tier == tier).sum()
        sums[f"p_{tier}"] = t.profit.sum(where=t.tier == tier)
    with too_large_to_keep():
        rows = t.group_by("pid").aggregate(**sums).to_pyarrow().to_pylist()
    found = {int(r["pid"]): r for r in rows}
    out: dict[int, Stats] = {}
    for pid in range(len(periods)):
        r: dict[str, Any] = found.get(pid) or dict.fromkeys(sums)  # no customer in the period: no sums
        n = int(r["n"] or 0)
        tiers = [
            {
                "tier": tier,
                "customers": int(r[f"n_{tier}"] or 0),
                "customer_share": round(100 * int(r[f"n_{tier}"] or 0) / n, 2) if n else 0.0,
                "profit": r[f"p_{tier}"] if r[f"p_{tier}"] is not None else _ZERO,
            }
            for tier in TIERS
        ]
        totals = {f: (r[f"sum_{f}"] if r[f"sum_{f}"] is not None else _ZERO) for f in _TOTALS}
        out[pid] = Stats(n, totals, tiers, headline_of(r), int(r["n_pos"] or 0))
    return out


def movements(store: Store, ranked: Ranked) -> dict[tuple[int, int], dict[str, Any]]:
    """Tier movement of every period of ``ranked`` against the same view a month earlier, if among them.

    Keyed by (pid after, pid before); each value is :func:`keepwise.value.tiers.movement_summary`'s: the
    counts ``up``, ``down``, ``same``, ``new`` and ``gone`` and the from-to ``matrix``. One query.
    """
    return _in_run(store, ranked, "movements", lambda: _movements(ranked.table, ranked.periods))


def _movements(t: ir.Table, periods: tuple[Period, ...]) -> dict[tuple[int, int], dict[str, Any]]:
    """:func:`movements`, computed."""
    pairs = {}
    for i, p in enumerate(periods):
        earlier = period(month_label(parse_month(p.month) - 1), p.view)
        if earlier in periods:
            pairs[i] = periods.index(earlier)
    if not pairs:
        return {}
    after_of = {b: a for a, b in pairs.items()}
    after = t.filter(t.pid.isin(list(pairs))).select(pair=t.pid, cid=t.customer_id, tier_after=t.tier)
    before = t.filter(t.pid.isin(list(after_of)))
    pair = ibis.cases(*((before.pid == b, a) for b, a in after_of.items())).cast("int64")
    before = before.select(bpair=pair, bcid=before.customer_id, tier_before=before.tier)
    j = after.outer_join(before, [after.pair == before.bpair, after.cid == before.bcid])
    j = j.select(pair=ibis.coalesce(j.pair, j.bpair), tier_before=j.tier_before, tier_after=j.tier_after)
    rows = j.group_by(["pair", "tier_before", "tier_after"]).aggregate(k=j.count()).to_pyarrow().to_pylist()
    out: dict[tuple[int, int], dict[str, Any]] = {}
    for a, b in pairs.items():
        counts = dict.fromkeys(("up", "down", "same", "new", "gone"), 0)
        matrix = {x: dict.fromkeys(TIERS, 0) for x in TIERS}
        for r in rows:
            if r["pair"] != a:
                continue
            tb, ta, k = r["tier_before"], r["tier_after"], int(r["k"])
            if ta is None:
                counts["gone"] += k
            elif tb is None:
                counts["new"] += k
            else:
                matrix[tb][ta] += k
                lb, la = _LEVEL[tb], _LEVEL[ta]
                counts["up" if la < lb else "down" if la > lb else "same"] += k
        out[(a, b)] = {**counts, "matrix": matrix}
    return out


def customers_of(ranked: Ranked, per: Period, *, last: int | None = None) -> pd.DataFrame:
    """The customers of period ``per``, most profitable first (the :func:`profitability` frame's columns).

    ``last``: only that many of the least profitable (the ranks after ``n - last``), still most profitable
    first.
    """
    t = ranked.table
    t = t.filter(t.pid == ranked.pid(per))
    if last is not None:
        t = t.filter(t["rank"] > t.n - last)
    df = frame(t.select(*COLUMNS), sort_by="rank")
    df.attrs.update(
        month=per.month,
        view=per.view,
        start=per.start.isoformat() if per.start else None,
        end=per.end.isoformat(),
    )
    return df


def curve_points(ranked: Ranked, per: Period, stats: Stats, *, points: int = 400) -> pd.DataFrame:
    """The whale curve of period ``per`` (:func:`keepwise.value.whale.whale_curve`'s frame)."""
    n, total = stats.customers, stats.headline.total_profit
    if n == 0:
        return curve_of(None, 0, total)
    t = ranked.table
    t = t.filter(t.pid == ranked.pid(per)).select("rank", "profit")
    cum = t.mutate(cumulative=t.profit.cumsum(order_by=t["rank"]))
    want = ibis.memtable(
        pa.table({"want_rank": pa.array(wanted_ranks(n, stats.positive, points), type=pa.int64())})
    )
    picked = cum.inner_join(want, cum["rank"] == want.want_rank)
    rows = picked.select("rank", "cumulative").to_pyarrow().sort_by("rank").to_pandas()
    return curve_of(rows, n, total)
