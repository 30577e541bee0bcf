"""Drawing what happens around the orders: incidents, staff time, exits, advocacy, consent, win-backs, wins.

Each ``draw_*`` function fills its part of the :class:`~keepwise.datasets.simulate.world.World` from its own
random stream (see :func:`keepwise.datasets.simulate.build_world`).
"""

from __future__ import annotations

import numpy as np

from keepwise.datasets.simulate.world import (
    ACTIVITIES,
    CHANNEL_COST,
    CHANNELS,
    CONCESSION_EFFECT,
    INCIDENT_LOGIT,
    INCIDENT_P,
    N_COMPETITORS,
    REASON_P_BUSINESS,
    REASON_P_RETAIL,
    REASONS,
    STAFF,
    WIN_REASON_P,
    WINBACK_ATTEMPT_P,
    WINBACK_BASE,
    FloatArray,
    IntArray,
    World,
    choice_by_row,
    group_rank,
    poisson_times,
    round_cents,
    seconds,
    sigmoid,
    value_z,
)


def draw_incidents(
    w: World, rng: np.random.Generator, o_c: IntArray, o_t: FloatArray, tau: FloatArray
) -> None:
    """Complaints after orders of base customers; a customer who leaves after one drops out then."""
    end, n, p = w.end, w.n, w.params
    rate = p.incident_per_order * np.where(w.heavy, 2.0, 1.0)
    sel = (w.cohort[o_c] == 0) & (rng.random(len(o_c)) < rate[o_c])
    ic = o_c[sel]
    opened = seconds(o_t[sel] + rng.uniform(0.2, 10.0, len(ic)))
    ok = opened < np.minimum(tau[ic], end)
    ic, opened = ic[ok], opened[ok]
    k = len(ic)
    cat = rng.choice(len(INCIDENT_P), k, p=INCIDENT_P)
    z = value_z(w)
    rank = np.empty(n)
    rank[np.argsort(z, kind="stable")] = np.arange(n) / max(n, 1)
    logit0 = np.asarray(INCIDENT_LOGIT)[cat] + 0.25 * z[ic] + rng.normal(0.0, 0.5, k)
    effect = np.maximum(np.asarray(CONCESSION_EFFECT)[cat] + 0.2 * z[ic], 0.2)
    p_without, p_with = sigmoid(logit0), sigmoid(logit0 - effect)
    resolved = seconds(opened + rng.uniform(0.1, 7.0, k))
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
    left_at = seconds(opened + rng.uniform(2.0, 12.0, k))
    d_inc = np.full(n, np.inf)
    np.minimum.at(d_inc, ic, np.where(left, left_at, np.inf))
    d_inc[d_inc >= end] = np.inf
    base = w.cohort == 0
    natural = base & (tau < end) & (tau <= d_inc)
    by_incident = base & np.isfinite(d_inc) & (d_inc < tau)
    w.drop[natural] = seconds(tau[natural])
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


def draw_service(w: World, rng: np.random.Generator) -> None:
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


def draw_exits(w: World, rng: np.random.Generator) -> None:
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
    lost_at = seconds(np.where(lost, w.drop, 0.0) + rng.random(n) * gap)
    w.exit_lost_at = np.where(lost, np.maximum(lost_at, w.drop), np.nan)
    named = (reason == REASONS.index("competitor")) | ((reason == 0) & (rng.random(n) < 0.4))
    w.exit_competitor = np.where(lost & named, rng.integers(0, N_COMPETITORS, n), -1)
    w.exit_variant = rng.integers(0, 3, n)
    base = np.array([WINBACK_BASE.get(r, 0.0) for r in REASONS])
    b = base[np.maximum(reason, 0)]
    logit = np.log(np.maximum(b, 1e-9) / np.maximum(1 - b, 1e-9))
    pw = sigmoid(logit + 0.3 * value_z(w) + rng.normal(0.0, 0.4, n))
    w.p_winback = np.where(lost & (b > 0), pw, np.where(lost, 0.0, np.nan))


def draw_advocacy(w: World, rng: np.random.Generator) -> None:
    """Referrals (the referrer was a customer, still active, before the referral), case studies, reviews."""
    n = w.n
    referral = CHANNELS.index("referral")
    referred = np.flatnonzero(w.channel == referral)
    at = seconds(w.acq[referred] - rng.uniform(1.0, 21.0, len(referred)))
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


def draw_consent(w: World, rng: np.random.Generator) -> None:
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
    cc, kk, g = np.concatenate(cust), np.concatenate(kind), seconds(np.concatenate(granted))
    revoke = (kk > 0) & (rng.random(len(cc)) < 0.12)
    rev = np.where(revoke, seconds(g + (0.05 + 0.9 * rng.random(len(cc))) * (w.end - g)), np.nan)
    order = np.lexsort((kk, cc))
    w.con_cust, w.con_kind, w.con_granted, w.con_revoked = cc[order], kk[order], g[order], rev[order]
    w.con_source = rng.integers(0, 4, len(cc))


def draw_winback(w: World, rng: np.random.Generator) -> None:
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
    at = seconds(np.where(lost, np.nan_to_num(w.exit_lost_at, nan=0.0), 0.0) + rng.uniform(lo, hi, n))
    tried = lost & (rng.random(n) < p_try) & (at < w.end)
    won = rng.random(n) < np.nan_to_num(w.p_winback, nan=0.0)
    idx = np.flatnonzero(tried)
    order = np.argsort(at[idx], kind="stable")
    idx = idx[order]
    w.wb_cust = idx
    w.wb_t = at[idx]
    w.wb_reason = np.where(known[idx], w.reason[idx], len(REASONS))
    w.wb_won = won[idx]


def draw_wins(w: World, rng: np.random.Generator) -> None:
    """Why each customer chose the business (by acquisition channel); recorded for some at acquisition."""
    n = w.n
    cum = np.cumsum(np.asarray(WIN_REASON_P), axis=1)
    w.win_reason = choice_by_row(rng.random(n), cum, w.channel)
    w.win_recorded = rng.random(n) < w.params.win_recorded_share
    w.win_variant = rng.integers(0, 2, n)
