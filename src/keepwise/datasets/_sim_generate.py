"""Drawing a :class:`~keepwise.datasets._sim_world.World`: one function per process, each with its own stream.

Each process draws from its own child of ``numpy.random.SeedSequence(seed)``, so the same seed gives the same
world, and a change to one process does not reshuffle the others.
"""

from __future__ import annotations

import numpy as np

from keepwise.datasets._sim_world import (
    ACTIVITIES,
    CATEGORIES,
    CHANNEL_COST,
    CHANNEL_P,
    CHANNELS,
    CONCESSION_EFFECT,
    INCIDENT_LOGIT,
    INCIDENT_P,
    REASON_P_BUSINESS,
    REASON_P_RETAIL,
    REASONS,
    STAFF,
    WIN_REASON_P,
    WINBACK_ATTEMPT_P,
    WINBACK_BASE,
    FloatArray,
    IntArray,
    Params,
    World,
    choice_by_row,
    group_rank,
    month_of,
    poisson_times,
    regular_times,
    round_cents,
    sigmoid,
)

_STREAMS = (
    "catalogue",
    "customers",
    "cohorts",
    "purchases",
    "incidents",
    "spend",
    "lines",
    "returns",
    "service",
    "exits",
    "advocacy",
    "consent",
    "winback",
    "wins",
)
_DAY_SECONDS = 86400.0
#: Number of first and last names in :mod:`keepwise.datasets.simulate` (kept in step with the lists there).
N_FIRST = 40
N_LAST = 40
N_COMPETITORS = 4


def build_world(n: int, edges: FloatArray, seed: int, params: Params) -> World:
    """Draw every process for ``n`` customers over the months whose boundaries (days) are ``edges``."""
    children = np.random.SeedSequence(seed).spawn(len(_STREAMS))
    rng = {name: np.random.default_rng(child) for name, child in zip(_STREAMS, children, strict=True)}
    w = World(n=n, end=float(edges[-1]), month_edges=edges, params=params)
    _catalogue(w, rng["catalogue"])
    _customers(w, rng["customers"])
    _cohorts(w, rng["cohorts"])
    o_c, o_t, o_kind, tau = _purchase_times(w, rng["purchases"])
    _incidents(w, rng["incidents"], o_c, o_t, tau)
    keep = o_t < w.drop[o_c]
    _lines(w, rng["spend"], rng["lines"], o_c[keep], o_t[keep], o_kind[keep])
    _returns(w, rng["returns"])
    _service(w, rng["service"])
    _exits(w, rng["exits"])
    _advocacy(w, rng["advocacy"])
    _consent(w, rng["consent"])
    _winback(w, rng["winback"])
    _wins(w, rng["wins"])
    return w


def _seconds(t: FloatArray) -> FloatArray:
    """Round times (days) to whole seconds, as everything is written."""
    return np.rint(t * _DAY_SECONDS) / _DAY_SECONDS


def _catalogue(w: World, rng: np.random.Generator) -> None:
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


def _customers(w: World, rng: np.random.Generator) -> None:
    n, p, end = w.n, w.params, w.end
    n0 = round(p.initial_share * n)
    hi = end - min(7.0, 0.1 * end)
    lo = min(30.0, 0.5 * hi)
    acq = np.concatenate((rng.random(n0) * lo, lo + rng.random(n - n0) * (hi - lo)))
    w.acq = _seconds(np.sort(acq))
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


def _cohorts(w: World, rng: np.random.Generator) -> None:
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
    w.pattern_at[stopped] = _seconds(rng.uniform(earliest_stop, latest_stop, len(stopped)))
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
    w.pattern_at[dc] = _seconds(rng.uniform(e[months - 6], e[months - 3], len(dc)))
    w.dropped_cat[dc] = rng.integers(0, len(CATEGORIES), len(dc))
    w.interval[dc] = rng.uniform(25.0, 35.0, len(dc))
    lam_other = rng.uniform(0.15, 0.35, len(dc))
    w.lam[dc] = lam_other + 7.0 / w.interval[dc]
    w.mu[w.cohort != 0] = np.nan


def _purchase_times(w: World, rng: np.random.Generator) -> tuple[IntArray, FloatArray, IntArray, FloatArray]:
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
    t = _seconds(np.concatenate(parts_t))
    kind = np.concatenate(parts_k)
    return c, t, kind, tau


def _value_z(w: World) -> FloatArray:
    """Standardised log of expected spend a week: the customer value that shapes incident responses."""
    v = np.log(w.lam * w.params.p / w.nu)
    sd = float(v.std()) or 1.0
    return (v - float(np.median(v))) / sd


def _incidents(w: World, rng: np.random.Generator, o_c: IntArray, o_t: FloatArray, tau: FloatArray) -> None:
    """Complaints after orders of base customers; a customer who leaves after one drops out then."""
    end, n, p = w.end, w.n, w.params
    rate = p.incident_per_order * np.where(w.heavy, 2.0, 1.0)
    sel = (w.cohort[o_c] == 0) & (rng.random(len(o_c)) < rate[o_c])
    ic = o_c[sel]
    opened = _seconds(o_t[sel] + rng.uniform(0.2, 10.0, len(ic)))
    ok = opened < np.minimum(tau[ic], end)
    ic, opened = ic[ok], opened[ok]
    k = len(ic)
    cat = rng.choice(len(INCIDENT_P), k, p=INCIDENT_P)
    z = _value_z(w)
    rank = np.empty(n)
    rank[np.argsort(z, kind="stable")] = np.arange(n) / max(n, 1)
    logit0 = np.asarray(INCIDENT_LOGIT)[cat] + 0.25 * z[ic] + rng.normal(0.0, 0.5, k)
    effect = np.maximum(np.asarray(CONCESSION_EFFECT)[cat] + 0.2 * z[ic], 0.2)
    p_without, p_with = sigmoid(logit0), sigmoid(logit0 - effect)
    resolved = _seconds(opened + rng.uniform(0.1, 7.0, k))
    is_open = (resolved >= end) | ((opened > end - 10.0) & (rng.random(k) < 0.5))
    status = np.where(is_open, 0, np.where(rng.random(k) < 0.15, 2, 1))
    granted = ~is_open & (rng.random(k) < 0.15 + 0.5 * rank[ic])
    mean_spend = p.p / w.nu[ic]
    amount = np.select(
        [cat == 0, cat == 1, cat == 2],
        [rng.uniform(5, 25, k), mean_spend * rng.uniform(0.4, 1.0, k), rng.uniform(10, 60, k)],
        rng.uniform(20, 120, k),
    )
    amount = np.where(granted, np.maximum(np.rint(amount), 1.0) * 100, 0).astype(np.int64)
    u = rng.random(k)
    left_if_conceded, left_if_refused = u < p_with, u < p_without
    left = np.where(granted, left_if_conceded, left_if_refused)
    left_at = _seconds(opened + rng.uniform(2.0, 12.0, k))
    d_inc = np.full(n, np.inf)
    np.minimum.at(d_inc, ic, np.where(left, left_at, np.inf))
    d_inc[d_inc >= end] = np.inf
    base = w.cohort == 0
    natural = base & (tau < end) & (tau <= d_inc)
    by_incident = base & np.isfinite(d_inc) & (d_inc < tau)
    w.drop[natural] = _seconds(tau[natural])
    w.drop[by_incident] = d_inc[by_incident]
    w.drop_cause[natural] = 1
    w.drop_cause[by_incident] = 2
    keep = opened < w.drop[ic]
    order = np.argsort(opened[keep], kind="stable")

    def kept(a: np.ndarray) -> np.ndarray:
        return a[keep][order]

    w.inc_cust, w.inc_opened, w.inc_cat = kept(ic), kept(opened), kept(cat)
    w.inc_status, w.inc_resolved = kept(status), np.where(kept(is_open), np.nan, kept(resolved))
    w.inc_granted, w.inc_amount = kept(granted), kept(amount)
    w.inc_p_with, w.inc_p_without = kept(p_with), kept(p_without)
    w.inc_left_if_conceded, w.inc_left_if_refused = kept(left_if_conceded), kept(left_if_refused)
    caused = left & (w.drop_cause[ic] == 2) & (left_at == w.drop[ic])
    w.inc_caused_exit = kept(caused)
    w.inc_value_z = kept(z[ic])
    w.inc_variant = rng.integers(0, 3, len(w.inc_cust))


def _lines(
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


def _returns(w: World, rng: np.random.Generator) -> None:
    """A few percent of lines come back later as their own order with a negative quantity."""
    n_lines = len(w.line_t)
    sel = np.flatnonzero(rng.random(n_lines) < w.params.return_share)
    t = _seconds(w.line_t[sel] + rng.uniform(2.0, 30.0, len(sel)))
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


def _service(w: World, rng: np.random.Generator) -> None:
    """Staff rates (two change mid-month) and time logs: calls, e-mails, visits, quotes, complaints."""
    months = len(w.month_edges) - 1
    staff, cents, froms = [], [], []
    for who_, (_, _, hourly, _) in enumerate(STAFF):
        staff.append(who_)
        cents.append(round(hourly * 100))
        froms.append(0.0)
    for who_, m, rise in ((2, months // 2, 300), (0, months // 3, 400)):
        at = w.month_edges[m] + 14.0
        if at < w.end:
            staff.append(who_)
            cents.append(cents[who_] + rise)
            froms.append(at)
    w.rate_staff, w.rate_cents, w.rate_from = np.array(staff), np.array(cents), np.array(froms)
    p = w.params
    active_end = np.minimum(w.drop, w.end)
    who = np.arange(w.n)
    parts: list[tuple[IntArray, IntArray, FloatArray, IntArray, IntArray]] = []
    for a, (_, staff_ids, weights, mean, shape, per_month) in enumerate(ACTIVITIES):
        rate = np.asarray(per_month)[w.segment] / 30.44 * np.where(w.heavy, p.heavy_cost_visits, 1.0)
        c, t = poisson_times(rng, who, w.acq, active_end, rate)
        minutes = rng.gamma(shape, mean / shape, len(c)) * np.where(w.heavy[c], p.heavy_cost_minutes, 1.0)
        s = np.asarray(staff_ids)[rng.choice(len(staff_ids), len(c), p=weights)]
        parts.append((c, s, t, np.maximum(np.rint(minutes), 1).astype(np.int64), np.full(len(c), a)))
    # every incident takes a support call to handle
    c = w.inc_cust
    t = w.inc_opened + rng.uniform(0.0, 0.5, len(c))
    ok = t < active_end[c]
    minutes = np.maximum(np.rint(rng.gamma(3.0, 25.0 / 3.0, len(c))), 1).astype(np.int64)
    parts.append((c[ok], rng.choice([2, 3], len(c))[ok], t[ok], minutes[ok], np.full(int(ok.sum()), 4)))
    c, s, t, minutes, act = (np.concatenate(x) for x in zip(*parts, strict=True))
    sec = np.rint(t * 86400.0)
    sec += group_rank(c, s, sec)  # the key (customer, staff, started_at) is unique
    t = sec / 86400.0
    order = np.lexsort((s, c, t))
    w.log_cust, w.log_staff, w.log_t = c[order], s[order], t[order]
    w.log_minutes, w.log_activity = minutes[order], act[order]


def log_cost(w: World) -> FloatArray:
    """Cost (USD, unrounded) of each time log: minutes x the hourly cost valid when it started / 60."""
    hourly = np.zeros(len(w.log_t))
    for s in range(len(STAFF)):
        rows = np.flatnonzero(w.rate_staff == s)
        rows = rows[np.argsort(w.rate_from[rows], kind="stable")]
        m = w.log_staff == s
        idx = np.searchsorted(w.rate_from[rows], w.log_t[m], side="right") - 1
        hourly[m] = w.rate_cents[rows][np.maximum(idx, 0)] / 100.0
    return w.log_minutes * hourly / 60.0


def _exits(w: World, rng: np.random.Generator) -> None:
    """True reasons for every lost customer; a recorded exit for most; the chance of winning them back."""
    n, p = w.n, w.params
    lost = w.drop < w.end
    reason = np.full(n, -1, np.int64)
    idx = np.flatnonzero(lost)
    business = w.segment[idx] > 0
    u = rng.random(len(idx))
    r_retail = np.searchsorted(np.cumsum(REASON_P_RETAIL), u, side="right")
    r_business = np.searchsorted(np.cumsum(REASON_P_BUSINESS), u, side="right")
    reason[idx] = np.minimum(np.where(business, r_business, r_retail), len(REASONS) - 1)
    # who left after an incident left because of it
    caused = w.inc_caused_exit
    ic, icat = w.inc_cust[caused], w.inc_cat[caused]
    billing_price = rng.random(len(ic)) < 0.5
    by_cat = np.select(
        [icat == 0, icat == 1, icat == 2], [2, 2, np.where(billing_price, 0, 2)], REASONS.index("quality")
    )
    reason[ic] = by_cat
    w.reason = reason
    w.exit_recorded = lost & (rng.random(n) < p.exit_recorded_share)
    w.exit_unknown = w.exit_recorded & (rng.random(n) < p.exit_unknown_share)
    gap = np.where(lost, np.minimum(5.0, (w.end - w.drop) * 0.9), 0.0)
    lost_at = _seconds(np.where(lost, w.drop, 0.0) + rng.random(n) * gap)
    w.exit_lost_at = np.where(lost, np.maximum(lost_at, w.drop), np.nan)
    named = (reason == REASONS.index("competitor")) | ((reason == 0) & (rng.random(n) < 0.4))
    w.exit_competitor = np.where(lost & named, rng.integers(0, N_COMPETITORS, n), -1)
    w.exit_variant = rng.integers(0, 3, n)
    base = np.array([WINBACK_BASE.get(r, 0.0) for r in REASONS])
    b = base[np.maximum(reason, 0)]
    logit = np.log(np.maximum(b, 1e-9) / np.maximum(1 - b, 1e-9))
    pw = sigmoid(logit + 0.3 * _value_z(w) + rng.normal(0.0, 0.4, n))
    w.p_winback = np.where(lost & (b > 0), pw, np.where(lost, 0.0, np.nan))


def _advocacy(w: World, rng: np.random.Generator) -> None:
    """Referrals (the referrer was a customer, still active, before the referral), case studies, reviews."""
    n = w.n
    referral = CHANNELS.index("referral")
    referred = np.flatnonzero(w.channel == referral)
    at = _seconds(w.acq[referred] - rng.uniform(1.0, 21.0, len(referred)))
    before = np.searchsorted(w.acq, at, side="left")
    who = np.full(len(referred), -1, np.int64)
    todo = np.flatnonzero((before > 0) & (at > 0))
    for _ in range(8):
        pick = (rng.random(len(todo)) * before[todo]).astype(np.int64)
        ok = w.drop[pick] > at[todo]
        who[todo[ok]] = pick[ok]
        todo = todo[~ok]
        if len(todo) == 0:
            break
    found = who >= 0
    w.channel[referred[~found]] = 0  # no one could have referred them: they came through the web
    w.referred_by[referred[found]] = who[found]
    cost_mean = np.asarray(CHANNEL_COST)[w.channel]
    w.acq_cost = round_cents(rng.gamma(4.0, cost_mean / 4.0))
    ref_c, ref_t, ref_to = who[found], at[found], referred[found]
    # case studies: long-standing business customers; reviews: anyone, while active
    active_end = np.minimum(w.drop, w.end)
    span = active_end - w.acq
    eligible = np.flatnonzero((w.segment > 0) & (span > 180.0))
    cs = np.sort(rng.choice(eligible, min(len(eligible), round(0.005 * n)), replace=False))
    cs_t = w.acq[cs] + 90.0 + rng.random(len(cs)) * (span[cs] - 90.0)
    rv = np.sort(rng.choice(n, round(0.06 * n), replace=False))
    rv_t = w.acq[rv] + rng.random(len(rv)) * span[rv]
    c = np.concatenate((ref_c, cs, rv))
    kind = np.concatenate((np.zeros(len(ref_c)), np.ones(len(cs)), np.full(len(rv), 2))).astype(np.int64)
    sec = np.rint(np.concatenate((ref_t, cs_t, rv_t)) * 86400.0)
    bump = group_rank(c, kind, sec)
    sec = sec + np.where(kind == 0, -bump, bump)  # referrals move earlier: still before the referred joined
    t = sec / 86400.0
    order = np.lexsort((kind, c, t))
    w.adv_cust, w.adv_kind, w.adv_t = c[order], kind[order], t[order]
    w.adv_referred = np.concatenate((ref_to, np.full(len(cs) + len(rv), -1)))[order]


def _consent(w: World, rng: np.random.Generator) -> None:
    """E-mail service consent for most, marketing for many, SMS for some, revocations, and a few with none."""
    n, p = w.n, w.params
    has = rng.random(n) >= p.no_consent_share
    span = w.end - w.acq
    cust, kind, granted = [], [], []
    svc = np.flatnonzero(has & (rng.random(n) < 0.95))
    cust.append(svc)
    kind.append(np.zeros(len(svc), np.int64))
    granted.append(w.acq[svc])
    for k, share in ((1, 0.70), (2, 0.15)):
        m = np.flatnonzero(has & (rng.random(n) < share))
        later = rng.random(len(m)) < 0.3
        cust.append(m)
        kind.append(np.full(len(m), k))
        granted.append(w.acq[m] + np.where(later, rng.random(len(m)) * span[m] * 0.5, 0.0))
    cc, kk, g = np.concatenate(cust), np.concatenate(kind), _seconds(np.concatenate(granted))
    revoke = (kk > 0) & (rng.random(len(cc)) < 0.12)
    rev = np.where(revoke, _seconds(g + (0.05 + 0.9 * rng.random(len(cc))) * (w.end - g)), np.nan)
    order = np.lexsort((kk, cc))
    w.con_cust, w.con_kind, w.con_granted, w.con_revoked = cc[order], kk[order], g[order], rev[order]
    w.con_source = rng.integers(0, 4, len(cc))


def _winback(w: World, rng: np.random.Generator) -> None:
    """Past win-back attempts: some lost customers were approached 30-120 days after leaving.

    The business tries more of those whose reason it knows (except moved and closed, which it mostly leaves
    alone); the offer answers the reason it knew. Each came back with their true ``p_winback`` (0 for moved
    and closed). Purchases after a successful win-back are not simulated.
    """
    lost = w.drop < w.end
    n = w.n
    known = w.exit_recorded & ~w.exit_unknown
    gone = np.isin(w.reason, [REASONS.index("moved"), REASONS.index("closed")])
    p_try = np.where(
        known & ~gone, WINBACK_ATTEMPT_P[0], np.where(known, WINBACK_ATTEMPT_P[1], WINBACK_ATTEMPT_P[2])
    )
    lo, hi = w.params.winback_delay_days
    at = _seconds(np.where(lost, np.nan_to_num(w.exit_lost_at, nan=0.0), 0.0) + rng.uniform(lo, hi, n))
    tried = lost & (rng.random(n) < p_try) & (at < w.end)
    won = rng.random(n) < np.nan_to_num(w.p_winback, nan=0.0)
    idx = np.flatnonzero(tried)
    order = np.argsort(at[idx], kind="stable")
    idx = idx[order]
    w.wb_cust = idx
    w.wb_t = at[idx]
    w.wb_reason = np.where(known[idx], w.reason[idx], len(REASONS))
    w.wb_won = won[idx]


def _wins(w: World, rng: np.random.Generator) -> None:
    """Why each customer chose the business (by acquisition channel); recorded for some at acquisition."""
    n = w.n
    cum = np.cumsum(np.asarray(WIN_REASON_P), axis=1)
    w.win_reason = choice_by_row(rng.random(n), cum, w.channel)
    w.win_recorded = rng.random(n) < w.params.win_recorded_share
    w.win_variant = rng.integers(0, 2, n)
