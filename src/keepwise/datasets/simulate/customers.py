"""Drawing customers and what they buy: catalogue, customers, cohorts, purchase times, order lines, returns.

Each ``draw_*`` function fills its part of the :class:`~keepwise.datasets.simulate.world.World` from its own
random stream (see :func:`keepwise.datasets.simulate.build_world`), so the same seed gives the same world and
a change to one process does not reshuffle the others.
"""

from __future__ import annotations

import numpy as np

from keepwise.datasets.simulate.world import (
    CATEGORIES,
    CHANNEL_P,
    N_FIRST,
    N_LAST,
    FloatArray,
    IntArray,
    World,
    choice_by_row,
    month_of,
    poisson_times,
    regular_times,
    round_cents,
    seconds,
)


def draw_catalogue(w: World, rng: np.random.Generator) -> None:
    """Products of each range with x.99 list prices (log-uniform in the range) and unit costs."""
    cats, prices, costs = [], [], []
    for c, (_, count, lo, hi) in enumerate(CATEGORIES):
        price = np.exp(rng.uniform(np.log(lo), np.log(hi), count))
        price[0] = lo
        price = np.sort(np.round(price, 0) - 0.01)  # x.99 prices, sorted within the range
        cats.append(np.full(count, c))
        prices.append(price)
        costs.append(round_cents(price * rng.uniform(0.35, 0.70, count)))
    w.prod_cat = np.concatenate(cats)
    w.prod_price = np.concatenate(prices)
    w.prod_cost = np.concatenate(costs)


def draw_customers(w: World, rng: np.random.Generator) -> None:
    """Acquisition times, channels, acquisition costs, segments, names and languages."""
    n, p, end = w.n, w.params, w.end
    n0 = round(p.initial_share * n)
    hi = end - min(7.0, 0.1 * end)
    lo = min(30.0, 0.5 * hi)
    acq = np.concatenate((rng.random(n0) * lo, lo + rng.random(n - n0) * (hi - lo)))
    w.acq = seconds(np.sort(acq))
    w.channel = rng.choice(len(CHANNEL_P), n, p=CHANNEL_P)
    w.lam = rng.gamma(p.r, 1.0 / p.alpha, n)
    w.mu = rng.gamma(p.s, 1.0 / p.beta, n)
    w.nu = rng.gamma(p.q, 1.0 / p.v, n)
    w.prefs = rng.dirichlet(np.full(len(CATEGORIES), p.category_concentration), n)
    # Segment follows spend loosely (a covariate worth having): the biggest spenders are mostly enterprise.
    score = np.log(p.p / w.nu) + rng.normal(0.0, 0.5, n)
    rank = np.empty(n)
    rank[np.argsort(score, kind="stable")] = np.arange(n) / max(n, 1)
    retail, smb = p.segment_p[0], p.segment_p[0] + p.segment_p[1]
    w.segment = np.where(rank < retail, 0, np.where(rank < smb, 1, 2))
    heavy = np.zeros(n, bool)
    heavy[rng.choice(n, round(p.heavy_cost_share * n), replace=False)] = True
    w.heavy = heavy
    w.language_pl = rng.random(n) < 0.15
    w.first_name = rng.integers(0, N_FIRST, n)
    w.last_name = rng.integers(0, N_LAST, n)
    w.cohort = np.zeros(n, np.int64)
    w.drop = np.full(n, np.inf)
    w.drop_cause = np.zeros(n, np.int64)
    w.interval = np.full(n, np.nan)
    w.pattern_at = np.full(n, np.nan)
    w.aov_factor = np.full(n, np.nan)
    w.dropped_cat = np.full(n, -1, np.int64)
    w.referred_by = np.full(n, -1, np.int64)


def draw_cohorts(w: World, rng: np.random.Generator) -> None:
    """Plant the patterns (needs at least 12 months, else every customer is a base customer)."""
    months = len(w.month_edges) - 1
    if months < 12:
        return
    e, p, n = w.month_edges, w.params, w.n

    def count(share: float) -> int:
        return max(1, round(share * n)) if n >= 20 else round(share * n)

    def pick(k: int, latest_acq: float) -> IntArray:
        idx = np.flatnonzero((w.cohort == 0) & (w.acq <= max(latest_acq, min(30.0, e[1]))))
        chosen = np.sort(rng.choice(idx, min(k, len(idx)), replace=False))
        return chosen

    # stopped_regular: monthly buyers for a year or more, who stop 2 to 5 months before the end.
    earliest_stop, latest_stop = e[months - 5], e[months - 2]
    stopped = pick(count(p.stopped_regular_share), earliest_stop - 365.0)
    w.cohort[stopped] = 2
    w.pattern_at[stopped] = seconds(rng.uniform(earliest_stop, latest_stop, len(stopped)))
    w.drop[stopped] = w.pattern_at[stopped]
    w.drop_cause[stopped] = 3
    # regular: the same buyers who keep going to the end (the control for stopped_regular).
    regular = pick(count(p.regular_share), earliest_stop - 365.0)
    w.cohort[regular] = 1
    both = np.concatenate((stopped, regular))
    w.interval[both] = rng.uniform(27.0, 33.0, len(both))
    w.lam[both] = 7.0 / w.interval[both]
    # aov_decline: frequent active buyers whose order value falls in each of the last three months.
    aov = pick(count(p.aov_decline_share), e[months - 3] - 180.0)
    w.cohort[aov] = 3
    w.lam[aov] = rng.uniform(0.3, 0.6, len(aov))
    w.pattern_at[aov] = e[months - 3]
    w.aov_factor[aov] = 1.0 - rng.uniform(0.20, 0.35, len(aov))
    # dropped_category: a range bought monthly next to others, given up 3 to 6 months before the end.
    dc = pick(count(p.dropped_category_share), e[months - 6] - 180.0)
    w.cohort[dc] = 4
    w.pattern_at[dc] = seconds(rng.uniform(e[months - 6], e[months - 3], len(dc)))
    w.dropped_cat[dc] = rng.integers(0, len(CATEGORIES), len(dc))
    w.interval[dc] = rng.uniform(25.0, 35.0, len(dc))
    lam_other = rng.uniform(0.15, 0.35, len(dc))
    w.lam[dc] = lam_other + 7.0 / w.interval[dc]
    w.mu[w.cohort != 0] = np.nan


def draw_purchase_times(
    w: World, rng: np.random.Generator
) -> tuple[IntArray, FloatArray, IntArray, FloatArray]:
    """Order times: the first order at acquisition, then each cohort's process. Kind 1/2 = dc streams."""
    end, n = w.end, w.n
    base = np.flatnonzero(w.cohort == 0)
    tau = np.full(n, np.inf)
    tau[base] = w.acq[base] + rng.exponential(7.0 / w.mu[base])
    parts_c: list[IntArray] = []
    parts_t: list[FloatArray] = []
    parts_k: list[IntArray] = []

    def add(c: IntArray, t: FloatArray, kind: int) -> None:
        parts_c.append(c)
        parts_t.append(t)
        parts_k.append(np.full(len(c), kind))

    # base (Pareto/NBD) and aov_decline (Poisson, alive to the end): a first order, then Poisson events.
    poisson = np.flatnonzero((w.cohort == 0) | (w.cohort == 3))
    t1 = np.minimum(tau[poisson], end)
    add(poisson, w.acq[poisson], 0)
    add(*poisson_times(rng, poisson, w.acq[poisson], t1, w.lam[poisson] / 7.0), 0)
    # regular and stopped_regular
    reg = np.flatnonzero((w.cohort == 1) | (w.cohort == 2))
    add(*regular_times(rng, reg, w.acq[reg], np.minimum(w.drop[reg], end), w.interval[reg], 1.5), 0)
    # dropped_category: stream 1 (the range, monthly until the pattern date), stream 2 (the rest, Poisson)
    dc = np.flatnonzero(w.cohort == 4)
    add(*regular_times(rng, dc, w.acq[dc], w.pattern_at[dc], w.interval[dc], 3.0), 1)
    lam_other = w.lam[dc] - 7.0 / w.interval[dc]
    c2, t2 = poisson_times(rng, dc, w.acq[dc] + 1.0, np.full(len(dc), end), lam_other / 7.0)
    add(c2, t2, 2)
    after = np.zeros(n, bool)
    after[c2[t2 >= w.pattern_at[c2]]] = True
    lacking = dc[~after[dc]]
    add(lacking, w.pattern_at[lacking] + rng.random(len(lacking)) * (end - w.pattern_at[lacking]), 2)
    c = np.concatenate(parts_c)
    t = seconds(np.concatenate(parts_t))
    kind = np.concatenate(parts_k)
    return c, t, kind, tau


def draw_lines(
    w: World,
    rng_spend: np.random.Generator,
    rng: np.random.Generator,
    o_c: IntArray,
    o_t: FloatArray,
    o_kind: IntArray,
) -> None:
    """Order values from the gamma-gamma process, split into 1-4 lines over products."""
    p = w.params
    z = rng_spend.gamma(p.p, 1.0 / w.nu[o_c])
    aov = (w.cohort[o_c] == 3) & (o_t >= np.nan_to_num(w.pattern_at[o_c], nan=np.inf))
    steps = month_of(w.month_edges, o_t[aov]) - month_of(w.month_edges, w.pattern_at[o_c[aov]]) + 1
    z[aov] *= w.aov_factor[o_c[aov]] ** steps
    k = np.where(
        o_kind == 1, 1 + (rng.random(len(o_c)) < 0.3), rng.choice(4, len(o_c), p=p.lines_p) + 1
    ).astype(np.int64)
    n_lines = int(k.sum())
    l_o = np.repeat(np.arange(len(o_c)), k)
    starts = np.concatenate(([0], np.cumsum(k)[:-1]))
    l_no = np.arange(n_lines) - np.repeat(starts, k) + 1
    share = rng.exponential(1.0, n_lines)
    share /= np.bincount(l_o, share, minlength=len(o_c))[l_o]
    amount = z[l_o] * share
    l_c = o_c[l_o]
    l_kind = o_kind[l_o]
    # categories: by the customer's preferences; dc stream 1 = the range, stream 2 = anything but it
    cum = np.cumsum(w.prefs, axis=1)
    cat = choice_by_row(rng.random(n_lines), cum, l_c)
    one = l_kind == 1
    cat[one] = w.dropped_cat[l_c[one]]
    two = np.flatnonzero(l_kind == 2)
    if len(two):
        pr = w.prefs[l_c[two]].copy()
        pr[np.arange(len(two)), w.dropped_cat[l_c[two]]] = 0.0
        pr /= pr.sum(axis=1, keepdims=True)
        cat[two] = choice_by_row(rng.random(len(two)), np.cumsum(pr, axis=1), np.arange(len(two)))
    # products: within the range, one priced between a twelfth of the line's amount and the amount
    prod = np.zeros(n_lines, np.int64)
    u = rng.random(n_lines)
    offsets = np.concatenate(([0], np.cumsum([c[1] for c in CATEGORIES])))
    for c in range(len(CATEGORIES)):
        m = np.flatnonzero(cat == c)
        prices = w.prod_price[offsets[c] : offsets[c + 1]]
        hi = np.maximum(np.searchsorted(prices, amount[m], side="right"), 1)
        lo = np.minimum(np.searchsorted(prices, amount[m] / 12.0, side="left"), hi - 1)
        prod[m] = offsets[c] + lo + (u[m] * (hi - lo)).astype(np.int64)
    qty = np.maximum(np.floor(amount / w.prod_price[prod]), 1).astype(np.int64)
    price = np.maximum(np.rint(amount * 100.0 / qty), 1).astype(np.int64)
    w.line_order, w.line_no, w.line_cust, w.line_t = l_o, l_no, l_c, o_t[l_o]
    w.line_prod, w.line_qty, w.line_price = prod, qty, price


def draw_returns(w: World, rng: np.random.Generator) -> None:
    """A few percent of lines come back later as their own order with a negative quantity."""
    n_lines = len(w.line_t)
    sel = np.flatnonzero(rng.random(n_lines) < w.params.return_share)
    t = seconds(w.line_t[sel] + rng.uniform(2.0, 30.0, len(sel)))
    ok = t < np.minimum(w.drop[w.line_cust[sel]], w.end)
    sel, t = sel[ok], t[ok]
    qty = -(1 + (rng.random(len(sel)) * w.line_qty[sel]).astype(np.int64))
    n_orders = int(w.line_order.max()) + 1 if n_lines else 0
    order = np.concatenate((w.line_order, n_orders + np.arange(len(sel))))
    cust = np.concatenate((w.line_cust, w.line_cust[sel]))
    times = np.concatenate((w.line_t, t))
    line_no = np.concatenate((w.line_no, np.ones(len(sel), np.int64)))
    # number orders by time, then customer, then the order they were drawn in
    first = line_no == 1
    o_ids, o_t, o_c = order[first], times[first], cust[first]
    rank = np.empty(len(o_ids), np.int64)
    rank[np.lexsort((o_ids, o_c, o_t))] = np.arange(len(o_ids))
    number = np.empty(len(o_ids), np.int64)
    number[o_ids] = rank
    new_order = number[order]
    srt = np.lexsort((line_no, new_order))
    w.line_order = new_order[srt]
    w.line_no = line_no[srt]
    w.line_cust = cust[srt]
    w.line_t = times[srt]
    w.line_prod = np.concatenate((w.line_prod, w.line_prod[sel]))[srt]
    w.line_qty = np.concatenate((w.line_qty, qty))[srt]
    w.line_price = np.concatenate((w.line_price, w.line_price[sel]))[srt]
