"""Concession policies compared on a simulated business whose truth knows each customer's real response.

:func:`compare_policies` simulates a business (:func:`keepwise.datasets.simulate`), loads it into an in-memory
store, builds a :class:`~keepwise.decisions.concession.ConcessionAdvisor` from the history before a cut date
(``train_months`` into the period), and asks it about every later incident, with the history known at the
time of the incident. Each incident comes with an amount the representative asks for: the simulator's own
concession amount where one was granted, else an amount drawn by the simulator's rule for the category
(late 5-25, damaged 40-100% of the customer's mean order, billing 10-60, quality 20-120), times
``cost_scale``.

The truth of each incident says whether the customer would have left with and without a concession
(``left_if_conceded``, ``left_if_refused``: one draw decides both). What a customer who stays is worth is
also taken from the truth: their true purchase rate, mean spend, margin rate and cost to serve a week, over
the advisor's horizon, discounted, with their true drop-out rate::

    V = (lambda x mean spend x margin rate - cost to serve a week) x (1 - exp(-(mu + d) H)) / (mu + d)

A customer who leaves loses V, plus the replacement cost when V > 0 (the average true acquisition cost), plus
the word-of-mouth loss (the same configured figure the advisor uses: it is an assumption, not something the
simulator models). The profit of a policy over the test incidents is::

    sum over incidents of (V if stayed) - (replacement + word of mouth if left) - concessions granted

Policies: ``always_yes``, ``always_no``, ``top20`` (yes only for the top 20% of customers by profit up to
the cut: the pyramid's platinum and gold), ``advisor`` (yes when it approves; a counter-offer counts as a
no, since the truth knows nothing about a smaller amount; ``advisor_counter_granted`` counts it as granted
at the counter amount), ``oracle`` (yes exactly when the truth says the concession keeps a customer whose
loss exceeds its cost) and ``expected_oracle`` (knows the true chances and values, not the draw).

Two measurements separate skill from luck and say where the advisor's shortfall comes from:

- **expected profit**: each policy's profit under the true chances instead of the realised draw,
  ``sum of (1 - p) V - p (loss - V) - cost granted`` with ``p`` the true chance of leaving with or without
  the concession; its share of the expected oracle's is free of the luck of which customers happened to
  leave (on a business with few profitable incidents a handful of draws moves the realised share by
  points);
- **what if**: the advisor's rule (grant when estimated reduction x estimated loss covers the amount)
  with the true loss in place of its estimate, with the true reduction in place of its estimate, and with
  both (that is the expected oracle), as shares of the realised oracle: the gap each estimate accounts for.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from keepwise.config import Config, DecisionAssumptions
from keepwise.store import Store

__all__ = ["POLICIES", "compare_policies", "compare_scales"]

POLICIES = (
    "always_yes",
    "always_no",
    "top20",
    "advisor",
    "advisor_counter_granted",
    "expected_oracle",
    "oracle",
)


def _asked(
    truth_inc: pd.DataFrame, mean_spend: pd.Series, rng: np.random.Generator, scale: float
) -> np.ndarray:
    k = len(truth_inc)
    cat = truth_inc["category"].to_numpy()
    spend = truth_inc["customer_id"].map(mean_spend).to_numpy(float)
    drawn = np.select(
        [cat == "late", cat == "damaged", cat == "billing"],
        [rng.uniform(5, 25, k), spend * rng.uniform(0.4, 1.0, k), rng.uniform(10, 60, k)],
        rng.uniform(20, 120, k),
    )
    drawn = np.maximum(np.rint(drawn), 1.0)
    own = truth_inc["concession_amount"].to_numpy(float)
    return np.where(truth_inc["concession_granted"].to_numpy(bool) & (own > 0), own, drawn) * scale


def compare_policies(
    customers: int = 8000,
    months: int = 24,
    seed: int = 0,
    train_months: int = 14,
    cost_scale: float = 1.0,
    config: Config | None = None,
    *,
    business: Any = None,
    store: Store | None = None,
) -> dict[str, Any]:
    """Total profit of each concession policy on the incidents after the cut (see the module docstring).

    ``business`` and ``store``: a simulated business (:func:`keepwise.datasets.simulate` with ``customers``,
    ``months`` and ``seed``) already loaded into ``store``; by default one is simulated and loaded into an
    in-memory store. :func:`compare_scales` evaluates several amounts with one fitted advisor.

    Returns
    -------
    dict
        ``profit`` {policy: float}, ``granted`` {policy: count}, ``n_incidents``, ``share_of_oracle``
        {policy: profit / oracle profit}, ``gain_share`` {policy: (profit - always_no) / (oracle -
        always_no)}, ``expected_profit`` {policy: profit under the true chances}, ``expected_share``
        {policy: expected profit / the expected oracle's}, ``what_if_share`` {``true_loss``,
        ``true_reduction``, ``rule_as_estimated``: share of the oracle of the advisor's rule with the true
        figure in place of its estimate}, ``effect`` (the advisor's effect description), ``decisions``
        (counts), ``detail`` (one row per incident: the true and estimated loss, reduction and chances, the
        parts of the estimated future margin, the decision and the realised responses).
    """
    return compare_scales(
        customers, months, seed, train_months, (cost_scale,), config, business=business, store=store
    )[0]


def compare_scales(
    customers: int = 8000,
    months: int = 24,
    seed: int = 0,
    train_months: int = 14,
    cost_scales: tuple[float, ...] = (1.0,),
    config: Config | None = None,
    *,
    business: Any = None,
    store: Store | None = None,
) -> list[dict[str, Any]]:
    """:func:`compare_policies` at each of ``cost_scales``, with one simulated business and one advisor."""
    from keepwise.datasets import simulate
    from keepwise.decisions.concession import ConcessionAdvisor
    from keepwise.store import connect
    from keepwise.store.ingest import load_frame
    from keepwise.store.schema import load_order
    from keepwise.value.profitability import profitability

    cfg_all = config or Config()
    cfg = cfg_all.decisions
    biz = business if business is not None else simulate(customers=customers, months=months, seed=seed)
    if store is None:
        store = connect("duckdb://:memory:")
        for name in load_order(set(biz.tables)):
            load_frame(store, name, biz.tables[name], source=name)
    start = pd.Timestamp(biz.truth["start"])
    end = pd.Timestamp(biz.truth["end"])
    cut = start + pd.DateOffset(months=train_months)
    advisor = ConcessionAdvisor(store, cfg_all, as_of=cut.to_pydatetime())

    tc = pd.DataFrame.from_dict(biz.truth["customers"], orient="index")
    ti = pd.DataFrame.from_dict(biz.truth["incidents"], orient="index")
    ti.index.name = "incident_id"
    ti = ti.reset_index()
    opened = biz.incidents.set_index("incident_id")["opened_at"]
    ti["opened_at"] = pd.to_datetime(ti["incident_id"].map(opened), utc=True)
    test = ti[(ti["opened_at"] >= cut) & (ti["opened_at"] < end)].reset_index(drop=True)
    # true value of a customer who stays, from their true rates
    c = tc.loc[test["customer_id"]]
    alive_from = pd.to_datetime(c["acquired_at"], utc=True)
    alive_to = pd.to_datetime(c["dropped_out_at"], utc=True).fillna(end)
    alive_to = alive_to.where(alive_to < end, end)
    weeks_alive = ((alive_to - alive_from).dt.total_seconds() / (7 * 86400.0)).clip(lower=1.0).to_numpy()
    rev = c["revenue"].to_numpy(float)
    margin_rate = np.where(rev > 0, (rev - c["cogs"].to_numpy(float)) / np.where(rev > 0, rev, 1.0), 0.5)
    cts_week = c["cost_to_serve"].to_numpy(float) / weeks_alive
    weekly = c["lambda_per_week"].to_numpy(float) * c["mean_spend"].to_numpy(float) * margin_rate - cts_week
    mu = np.nan_to_num(c["mu_per_week"].to_numpy(float), nan=0.0)
    d = (1 + cfg.discount_rate) ** (1 / 52.18) - 1
    horizon = cfg.horizon_months * 52.18 / 12
    V = weekly * (1 - np.exp(-(mu + d) * horizon)) / (mu + d)
    replacement = float(tc["acquisition_cost"].mean())
    wom = float(advisor.word_of_mouth)
    loss = V + np.where(V > 0, replacement, 0.0) + wom

    # the top 20% by profit up to the cut
    month = (cut - pd.Timedelta(seconds=1)).strftime("%Y-%m")
    prof = profitability(store, month, view="lifetime", config=cfg_all)
    top = set(prof.loc[prof["quintile"] == 1, "customer_id"])

    queries = pd.DataFrame(
        {
            "customer_id": test["customer_id"].astype(str),
            "incident_id": test["incident_id"].astype(str),
            "category": test["category"].astype(str),
            "at": test["opened_at"],
        }
    )
    figures = advisor.figures_many(queries)
    truth = _Truth(test, loss, V, top)
    out = []
    for cost_scale in cost_scales:
        asked = _asked(test, tc["mean_spend"], np.random.default_rng(seed + 7919), cost_scale)
        r = _outcome(truth, figures, asked, cfg)
        out.append(
            {
                "seed": seed,
                "customers": customers,
                "n_incidents": len(test),
                "cost_scale": cost_scale,
                **r,
                "effect": advisor.effect.describe(),
                "advisor": advisor,
                "asked_total": round(float(asked.sum()), 2),
            }
        )
    return out


@dataclass
class _Truth:
    """The test incidents with their true responses, the true loss and value, and the top-20% customers."""

    test: pd.DataFrame
    loss: np.ndarray
    V: np.ndarray
    top: set[str]


def _outcome(
    truth: _Truth, figures: list[Any], asked: np.ndarray, cfg: DecisionAssumptions
) -> dict[str, Any]:
    """Each policy's realised and expected profit for one set of amounts asked (see the module docstring)."""
    from keepwise.decisions.concession import decide

    test, loss, V, top = truth.test, truth.loss, truth.V, truth.top
    left_yes = test["left_if_conceded"].to_numpy(bool)
    left_no = test["left_if_refused"].to_numpy(bool)
    p_yes = test["p_leave_with_concession"].to_numpy(float)
    p_no = test["p_leave_without_concession"].to_numpy(float)
    advice = [decide(f, Decimal(str(round(float(a), 2))), cfg) for f, a in zip(figures, asked, strict=True)]
    decisions = [a.decision for a in advice]
    counter_amount = np.array([float(a.recommended) if a.decision == "counter" else 0.0 for a in advice])
    est_loss = np.array([float(f.loss_if_leave) for f in figures])
    est_red = np.array([f.reduction for f in figures])
    dec = np.array(decisions)
    grant: dict[str, np.ndarray] = {
        "always_yes": np.ones(len(test), bool),
        "always_no": np.zeros(len(test), bool),
        "top20": test["customer_id"].isin(top).to_numpy(),
        "advisor": dec == "approve",
        "advisor_counter_granted": dec != "refuse",
        "expected_oracle": (p_no - p_yes) * loss > asked,
        "oracle": left_no & ~left_yes & (loss > asked),
    }
    profit: dict[str, float] = {}
    for name, g in grant.items():
        spent = (
            np.where(dec == "counter", counter_amount, asked) if name == "advisor_counter_granted" else asked
        )
        left = np.where(g, left_yes, left_no)
        profit[name] = float(np.sum(np.where(left, -(loss - V), V)) - np.sum(np.where(g, spent, 0.0)))
    # profit under the true chances, free of the draw
    expected: dict[str, float] = {}
    for name, g in grant.items():
        spent = (
            np.where(dec == "counter", counter_amount, asked) if name == "advisor_counter_granted" else asked
        )
        p_left = np.where(g, p_yes, p_no)
        expected[name] = float(
            np.sum((1 - p_left) * V - p_left * (loss - V)) - np.sum(np.where(g, spent, 0.0))
        )
    base, best = profit["always_no"], profit["oracle"]
    # the advisor's rule with the true loss and/or the true reduction in place of its estimates
    est_red_c = np.maximum(est_red, 0.0)
    what_if = {
        "true_loss": est_red_c * loss >= asked,
        "true_reduction": (p_no - p_yes) * est_loss >= asked,
        "rule_as_estimated": est_red_c * est_loss >= asked,
    }
    what_if_share = {
        k: round(
            float(
                np.sum(np.where(np.where(g, left_yes, left_no), -(loss - V), V))
                - np.sum(np.where(g, asked, 0.0))
            )
            / best,
            4,
        )
        for k, g in what_if.items()
    }
    detail = pd.DataFrame(
        {
            "incident_id": test["incident_id"],
            "category": test["category"],
            "asked": asked,
            "loss": loss,
            "value": V,
            "reduction": p_no - p_yes,
            "est_loss": est_loss,
            "est_reduction": est_red,
            "p_without": p_no,
            "p_with": p_yes,
            "est_p_without": np.array([f.p_without for f in figures]),
            "est_gross_margin": np.array([float(f.gross_margin or 0) for f in figures]),
            "est_cost_per_week": np.array([float(f.cost_per_week or 0) for f in figures]),
            "est_weeks": np.array([float(f.active_weeks or 0) for f in figures]),
            "decision": dec,
            "left_if_conceded": left_yes,
            "left_if_refused": left_no,
        }
    )
    return {
        "detail": detail,
        "profit": {k: round(v, 2) for k, v in profit.items()},
        "granted": {k: int(g.sum()) for k, g in grant.items()},
        "share_of_oracle": {k: round(v / best, 4) for k, v in profit.items()},
        "gain_share": {
            k: round((v - base) / (best - base), 4) if best != base else None for k, v in profit.items()
        },
        "expected_profit": {k: round(v, 2) for k, v in expected.items()},
        "expected_share": {k: round(v / expected["expected_oracle"], 4) for k, v in expected.items()},
        "what_if_share": what_if_share,
        "decisions": {k: int((dec == k).sum()) for k in ("approve", "counter", "refuse")},
    }
