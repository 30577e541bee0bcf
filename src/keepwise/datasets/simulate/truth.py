"""The truth behind a simulated business (``truth.json``).

True money per customer and month, incident counterfactuals, planted patterns and every parameter.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from keepwise.datasets.simulate.service import log_cost
from keepwise.datasets.simulate.world import (
    CATEGORIES,
    CHANNEL_COST,
    CHANNELS,
    COHORTS,
    CONCESSION_EFFECT,
    INCIDENT_CATEGORIES,
    INCIDENT_LOGIT,
    REASON_P_BUSINESS,
    REASON_P_RETAIL,
    REASONS,
    SEGMENTS,
    STAFF,
    WIN_REASON_P,
    WIN_REASONS,
    WINBACK_ATTEMPT_P,
    WINBACK_BASE,
    WINBACK_OFFERS,
    World,
)


def _iso(start: np.datetime64, days: np.ndarray) -> list[str | None]:
    days = np.asarray(days, dtype=float)
    ok = np.isfinite(days)
    sec = np.where(ok, np.rint(np.where(ok, days, 0.0) * 86400.0), 0).astype(np.int64)
    text = np.datetime_as_string(start + sec.astype("timedelta64[s]"), unit="s", timezone="UTC")
    return [t if k else None for t, k in zip(text.tolist(), ok.tolist(), strict=True)]


def _calendar_month(start: np.datetime64, days: np.ndarray) -> np.ndarray:
    sec = np.rint(np.asarray(days, dtype=float) * 86400.0).astype(np.int64)
    return (start + sec.astype("timedelta64[s]")).astype("datetime64[M]").astype(np.int64)


def money_totals(w: World, start: np.datetime64) -> dict[str, np.ndarray]:
    """True money per customer (USD floats) and the pieces needed for the monthly view."""
    n = w.n
    rev_line = (w.line_qty * w.line_price).astype(float)
    cogs_line = (w.line_qty * w.prod_cost[w.line_prod]).astype(float)
    cost = log_cost(w)
    revenue = np.bincount(w.line_cust, rev_line, n) / 100.0
    cogs = np.bincount(w.line_cust, cogs_line, n) / 100.0
    cts = np.bincount(w.log_cust, cost, n)
    conc = np.bincount(w.inc_cust, w.inc_amount.astype(float), n) / 100.0
    # referral value: the margin of the referred customer's first 365 days (within the period)
    first_year = w.line_t < w.acq[w.line_cust] + 365.0
    margin_first_year = np.bincount(w.line_cust[first_year], (rev_line - cogs_line)[first_year], n) / 100.0
    adv = np.zeros(n)
    ref = w.adv_kind == 0
    np.add.at(adv, w.adv_cust[ref], margin_first_year[w.adv_referred[ref]])
    fixed = np.where(
        w.adv_kind == 1, w.params.case_study_value, np.where(w.adv_kind == 2, w.params.review_value, 0)
    )
    np.add.at(adv, w.adv_cust, fixed)
    operating = revenue - cogs - cts - conc
    return {
        "revenue": revenue,
        "cogs": cogs,
        "cost_to_serve": cts,
        "concessions": conc,
        "advocacy_value": adv,
        "operating_profit": operating,
        "lifetime_profit": operating + adv,
        "minutes": np.bincount(w.log_cust, w.log_minutes.astype(float), n),
        "orders": np.bincount(w.line_cust[(w.line_no == 1) & (w.line_qty > 0)], minlength=n),
        "returns": np.bincount(w.line_cust[w.line_qty < 0], minlength=n),
        "rev_line": rev_line,
        "cogs_line": cogs_line,
        "log_cost": cost,
    }


def _monthly(w: World, start: np.datetime64, t: dict[str, np.ndarray]) -> list[dict[str, list[float]]]:
    m0 = int(start.astype("datetime64[M]").astype(np.int64))
    n_months = int(_calendar_month(start, np.array([w.end - 1e-6]))[0]) - m0 + 1
    out: list[dict[str, list[float]]] = [{} for _ in range(w.n)]
    sums = []
    for cust, when, value in (
        (w.line_cust, w.line_t, t["rev_line"] / 100.0),
        (w.line_cust, w.line_t, t["cogs_line"] / 100.0),
        (w.log_cust, w.log_t, t["log_cost"]),
        (w.inc_cust[w.inc_granted], w.inc_resolved[w.inc_granted], w.inc_amount[w.inc_granted] / 100.0),
    ):
        key = cust * n_months + (_calendar_month(start, when) - m0)
        sums.append(np.bincount(key, value, w.n * n_months))
    table = np.stack(sums, axis=1)
    nz = np.flatnonzero(np.any(table != 0, axis=1))
    labels = [str(np.datetime64(m0 + k, "M")) for k in range(n_months)]
    rows = np.round(table[nz], 4).tolist()
    for key, row in zip(nz.tolist(), rows, strict=True):
        c, k = divmod(key, n_months)
        out[c][labels[k]] = [round(row[0], 2), round(row[1], 2), row[2], round(row[3], 2)]
    return out


def _opt(values: np.ndarray, digits: int) -> list[float | None]:
    """Floats rounded to ``digits`` decimals; NaN and inf become None."""
    return [None if not np.isfinite(v) else round(v, digits) for v in np.asarray(values, float).tolist()]


def _sig(values: np.ndarray, digits: int) -> list[float | None]:
    """Floats rounded to ``digits`` significant digits; NaN and inf become None."""
    return [
        None if not np.isfinite(v) else float(f"{v:.{digits}g}") for v in np.asarray(values, float).tolist()
    ]


def build_truth(
    w: World,
    start: np.datetime64,
    seed: int,
    cid: pa.Array,
    iid: pa.Array,
    t: dict[str, np.ndarray],
    monthly: bool,
) -> dict[str, Any]:
    """``truth.json`` as a dict: per-customer and per-incident truth, the planted patterns and the parameters.

    ``cid`` and ``iid`` are the customer and incident ids, ``t`` the :func:`money_totals`; ``monthly`` adds
    each customer's per-month money.
    """
    p = w.params
    ids = cid.to_pylist()
    cat_names = [c[0] for c in CATEGORIES]
    cause_names = [None, "natural", "incident", "stopped_regular"]
    pattern_names = [None, None, "stopped_regular", "aov_decline", "dropped_category"]
    lost = w.drop < w.end
    dropped_at = np.where(lost, w.drop, np.nan)
    reason = [None if r < 0 else REASONS[r] for r in w.reason.tolist()]
    winnable = [None if r < 0 else REASONS[r] not in ("moved", "closed") for r in w.reason.tolist()]
    referred_by = [None if r < 0 else ids[r] for r in w.referred_by.tolist()]
    attempted_at = np.full(w.n, np.nan)
    attempted_at[w.wb_cust] = w.wb_t
    won_back: list[bool | None] = [None] * w.n
    for c, won in zip(w.wb_cust.tolist(), w.wb_won.tolist(), strict=True):
        won_back[c] = won
    columns: dict[str, list[Any]] = {
        "cohort": [COHORTS[c] for c in w.cohort.tolist()],
        "acquired_at": _iso(start, w.acq),
        "channel": [CHANNELS[c] for c in w.channel.tolist()],
        "segment": [SEGMENTS[s] for s in w.segment.tolist()],
        "lambda_per_week": _sig(w.lam, 6),
        "mu_per_week": _sig(w.mu, 6),
        "dropped_out": lost.tolist(),
        "dropped_out_at": _iso(start, dropped_at),
        "dropout_cause": [
            cause_names[c] if lost_ else None
            for c, lost_ in zip(w.drop_cause.tolist(), lost.tolist(), strict=True)
        ],
        "regular_interval_days": _opt(w.interval, 3),
        "nu": _sig(w.nu, 6),
        "mean_spend": _opt(p.p / w.nu, 2),
        "heavy_cost": w.heavy.tolist(),
        "referred_by": referred_by,
        "pattern": [pattern_names[c] for c in w.cohort.tolist()],
        "pattern_at": _iso(start, w.pattern_at),
        "true_reason": reason,
        "exit_recorded": w.exit_recorded.tolist(),
        "winnable": winnable,
        "p_winback": _opt(w.p_winback, 4),
        "winback_attempted_at": _iso(start, attempted_at),
        "won_back": won_back,
        "win_reason": [WIN_REASONS[r] for r in w.win_reason.tolist()],
        "win_recorded": w.win_recorded.tolist(),
        "orders": t["orders"].tolist(),
        "returns": t["returns"].tolist(),
        "minutes": t["minutes"].astype(np.int64).tolist(),
        "acquisition_cost": _opt(w.acq_cost / 100.0, 2),
    }
    for name in ("revenue", "cogs", "concessions", "advocacy_value", "operating_profit", "lifetime_profit"):
        columns[name] = _opt(t[name], 2)
    columns["cost_to_serve"] = _opt(t["cost_to_serve"], 4)
    if monthly:
        columns["monthly"] = list(_monthly(w, start, t))
    names = list(columns)
    customers = {
        ids[i]: dict(zip(names, row, strict=True))
        for i, row in enumerate(zip(*columns.values(), strict=True))
    }

    inc_ids = iid.to_pylist()
    end_days = np.minimum(w.drop[w.inc_cust], w.end)
    left = (w.drop[w.inc_cust] < w.end) & (w.drop[w.inc_cust] - w.inc_opened <= 60.0)
    stayed = ~left & (end_days - w.inc_opened >= 60.0)
    outcome = np.where(left, "left", np.where(stayed, "stayed", "pending")).tolist()
    inc_cols: dict[str, list[Any]] = {
        "customer_id": [ids[c] for c in w.inc_cust.tolist()],
        "category": [INCIDENT_CATEGORIES[c] for c in w.inc_cat.tolist()],
        "value_z": _opt(w.inc_value_z, 4),
        "concession_granted": w.inc_granted.tolist(),
        "concession_amount": _opt(w.inc_amount / 100.0, 2),
        "p_leave_with_concession": _opt(w.inc_p_with, 4),
        "p_leave_without_concession": _opt(w.inc_p_without, 4),
        "left_if_conceded": w.inc_left_if_conceded.tolist(),
        "left_if_refused": w.inc_left_if_refused.tolist(),
        "caused_exit": w.inc_caused_exit.tolist(),
        "outcome": outcome,
    }
    inc_names = list(inc_cols)
    incidents = {
        inc_ids[i]: dict(zip(inc_names, row, strict=True))
        for i, row in enumerate(zip(*inc_cols.values(), strict=True))
    }

    def members(k: int) -> list[str]:
        return [ids[i] for i in np.flatnonzero(w.cohort == k).tolist()]

    starts_at = _iso(start, w.pattern_at)
    patterns: dict[str, Any] = {
        "aov_decline": members(3),
        "stopped_regular": members(2),
        "dropped_category": [
            {"customer_id": ids[i], "category": cat_names[w.dropped_cat[i]], "at": starts_at[i]}
            for i in np.flatnonzero(w.cohort == 4).tolist()
        ],
        "regular": members(1),
        "heavy_cost": [ids[i] for i in np.flatnonzero(w.heavy).tolist()],
        "control": [ids[i] for i in np.flatnonzero(w.cohort <= 1).tolist()],
        "starts": {
            "aov_decline": {ids[i]: starts_at[i] for i in np.flatnonzero(w.cohort == 3).tolist()},
            "stopped_regular": {ids[i]: starts_at[i] for i in np.flatnonzero(w.cohort == 2).tolist()},
        },
    }
    params: dict[str, Any] = {
        **p.as_dict(),
        "pareto_nbd": {"r": p.r, "alpha": p.alpha, "s": p.s, "beta": p.beta, "unit": "week"},
        "gamma_gamma": {"p": p.p, "q": p.q, "v": p.v},
        "categories": [
            {"name": c[0], "products": c[1], "min_price": c[2], "max_price": c[3]} for c in CATEGORIES
        ],
        "channels": list(CHANNELS),
        "channel_mean_acquisition_cost": list(CHANNEL_COST),
        "incident_logit": dict(zip(INCIDENT_CATEGORIES, INCIDENT_LOGIT, strict=True)),
        "concession_effect": dict(zip(INCIDENT_CATEGORIES, CONCESSION_EFFECT, strict=True)),
        "reason_p_retail": dict(zip(REASONS, REASON_P_RETAIL, strict=True)),
        "reason_p_business": dict(zip(REASONS, REASON_P_BUSINESS, strict=True)),
        "winback_base": WINBACK_BASE,
        "winback_offers": {r: {"offer": o, "cost": c} for r, (o, c) in WINBACK_OFFERS.items()},
        "winback_attempt_p": dict(
            zip(("reason_recorded", "moved_or_closed_recorded", "no_reason"), WINBACK_ATTEMPT_P, strict=True)
        ),
        "win_reasons": list(WIN_REASONS),
        "win_reason_p": {
            ch: dict(zip(WIN_REASONS, row, strict=True))
            for ch, row in zip(CHANNELS, WIN_REASON_P, strict=True)
        },
        "staff": [
            {"staff_id": s[0], "role": s[1], "hourly_cost": s[2], "practical_minutes_per_month": s[3]}
            for s in STAFF
        ],
        "cost_to_serve": "sum over time_logs of minutes * hourly_cost(staff, valid at started_at) / 60",
        "monthly_fields": ["revenue", "cogs", "cost_to_serve", "concessions"],
        "months": len(w.month_edges) - 1,
    }
    end_iso = _iso(start, np.array([w.end]))[0]
    return {
        "seed": seed,
        "start": _iso(start, np.array([0.0]))[0],
        "end": end_iso,
        "params": params,
        "customers": customers,
        "incidents": incidents,
        "patterns": patterns,
    }
