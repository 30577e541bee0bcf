"""Uplift learners, Qini/uplift curves and cost-aware targeting on a business with known responses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from keepwise.exceptions import KeepwiseInputError
from keepwise.experiments.simulate import FEATURES, policy_profit, run_trial, simulate_offers
from keepwise.experiments.uplift import make_learner, plan, qini_area, qini_curve, uplift_area


def test_qini_and_uplift_curves_by_hand():
    # y: 1, 0, 1, 0 for treated, control, treated, control, already in score order.
    curve = qini_curve([1, 0, 1, 0], [True, False, True, False], [4, 3, 2, 1])
    assert curve["qini"].tolist() == [0.0, 0.0, 1.0, 2.0, 2.0]
    assert curve["uplift"].tolist() == [0.0, 0.0, 2.0, 3.0, 4.0]
    assert qini_area([1, 0, 1, 0], [True, False, True, False], [4, 3, 2, 1]) == pytest.approx(0.0)
    assert uplift_area([1, 0, 1, 0], [True, False, True, False], [4, 3, 2, 1]) == pytest.approx(-0.25)


def test_qini_curve_matches_a_brute_force_loop():
    rng = np.random.default_rng(0)
    y, w, s = rng.gamma(1.0, 10.0, 200), rng.random(200) < 0.5, rng.normal(size=200)
    curve = qini_curve(y, w, s)
    order = np.argsort(-s, kind="stable")
    for k in (1, 7, 50, 133, 200):
        top = order[:k]
        nt, nc = w[top].sum(), (~w[top]).sum()
        rt, rc = y[top][w[top]].sum(), y[top][~w[top]].sum()
        assert curve["qini"][k] == pytest.approx(rt - rc * nt / nc if nc else 0.0)
        assert curve["uplift"][k] == pytest.approx((rt / nt - rc / nc) * k if nt and nc else 0.0)


@pytest.fixture(scope="module")
def business():
    world = simulate_offers(16_000, seed=0)
    trial = run_trial(world, seed=1)
    population = simulate_offers(20_000, seed=2)
    return world, trial, population


def _policy(population, planned: pd.DataFrame) -> np.ndarray:
    offers = planned.set_index("customer_id")["offer"].reindex(population.features["customer_id"])
    return offers.replace("none", "control").to_numpy()


def test_uplift_targeting_beats_treat_all_none_and_churn_risk(business):
    _, trial, population = business
    X, Xp = trial[list(FEATURES)], population.features[list(FEATURES)]
    value = 0.35 * Xp["orders_12m"] * Xp["aov"]  # next year's margin if retained, known from the features
    learner = make_learner("dr", threads=1).fit(X, trial["arm"], trial["retained"])
    planned = plan(learner.predict(Xp), population.costs, value=value, ids=population.features["customer_id"])
    policy = _policy(population, planned)
    uplift = policy_profit(population, policy)
    treated = int((policy != "control").sum())
    treat_all = max(policy_profit(population, np.repeat(t, len(Xp))) for t in population.treatments)
    # churn risk alone: the riskiest customers (by a churn model on the control arm), as many as uplift
    # treats, each offer tried and the better one kept
    control = trial[trial["arm"] == "control"]
    with threadpool_limits(limits=1):
        risk_model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(
            control[list(FEATURES)], 1 - control["retained"]
        )
        risk = risk_model.predict_proba(Xp)[:, 1]
    riskiest = np.argsort(-risk, kind="stable")[:treated]
    by_risk = []
    for t in population.treatments:
        p = np.repeat("control", len(Xp)).astype(object)
        p[riskiest] = t
        by_risk.append(policy_profit(population, p))
    oracle_net = population.effect.to_numpy() - np.array([population.costs[t] for t in population.treatments])
    oracle = float(np.clip(oracle_net.max(axis=1), 0, None).sum())
    assert uplift > 0  # treat none earns 0 incremental profit
    assert uplift > treat_all
    assert uplift > max(by_risk)
    assert uplift > 0.3 * oracle  # and it captures a real share of what perfect knowledge would earn
    assert treat_all < 0
    assert set(np.unique(policy)) == {"control", "call", "discount"}  # more than one treatment is used


@pytest.mark.parametrize("kind", ["t", "x", "dr"])
def test_every_learner_ranks_customers_by_their_true_response(business, kind):
    _, trial, population = business
    X, Xp = trial[list(FEATURES)], population.features[list(FEATURES)]
    effects = make_learner(kind, threads=1).fit(X, trial["arm"], trial["retained"]).predict(Xp)
    assert list(effects.columns) == ["call", "discount"]
    truth = (
        population.churn["control"].to_numpy()[:, None] - population.churn[["call", "discount"]].to_numpy()
    )
    for j in range(2):
        assert np.corrcoef(effects.iloc[:, j], truth[:, j])[0, 1] > 0.3


def test_qini_area_of_a_learner_is_positive_on_a_held_out_trial(business):
    _, trial, _ = business
    half = len(trial) // 2
    fit, held = trial.iloc[:half], trial.iloc[half:]
    learner = make_learner("t", threads=1).fit(fit[list(FEATURES)], fit["arm"], fit["retained"])
    held = held[held["arm"].isin(["control", "discount"])]
    score = learner.predict(held[list(FEATURES)])["discount"]
    area = qini_area(held["retained"], held["arm"] == "discount", score)
    random_area = qini_area(held["retained"], held["arm"] == "discount", np.arange(len(held)))
    assert area > 5.0  # retained customers over random targeting, averaged over cuts
    assert abs(random_area) < area / 2


def test_continuous_profit_outcome_runs_and_points_the_right_way(business):
    _, trial, population = business
    X, Xp = trial[list(FEATURES)], population.features[list(FEATURES)]
    effects = make_learner("dr", threads=1).fit(X, trial["arm"], trial["profit"]).predict(Xp)
    assert np.corrcoef(effects["discount"], population.effect["discount"])[0, 1] > 0.2


def test_plan_respects_costs_budget_and_maximum_count():
    effects = pd.DataFrame(
        {"call": [100.0, 30.0, 10.0, 50.0], "discount": [80.0, 90.0, 5.0, 40.0]}, index=["a", "b", "c", "d"]
    )
    costs = {"call": 20.0, "discount": 45.0}
    free = plan(effects, costs)
    assert free.set_index("customer_id")["offer"].to_dict() == {
        "a": "call",
        "b": "discount",
        "c": "none",
        "d": "call",
    }
    assert free["net"].tolist() == [80.0, 45.0, 30.0, 0.0]
    assert free["reason"].iloc[0] == "call: predicted to add 100.00 margin for a cost of 20.00 (net 80.00)"
    capped = plan(effects, costs, max_count=1)
    assert (capped["offer"] != "none").sum() == 1 and capped["customer_id"].iloc[0] == "a"
    budget = plan(effects, costs, budget=40.0)  # a and d (net per cost 4.0 and 1.5); b costs 45
    assert set(budget.loc[budget["offer"] != "none", "customer_id"]) == {"a", "d"}
    value = plan(effects / 100.0, costs, value=[100.0, 100.0, 100.0, 100.0])
    assert value["net"].tolist() == pytest.approx([80.0, 45.0, 30.0, 0.0])
    with pytest.raises(KeepwiseInputError, match="no cost given for offer"):
        plan(effects, {"call": 1.0})


def test_learner_mistakes():
    X = np.zeros((100, 2))
    with pytest.raises(KeepwiseInputError, match="no customer is in the control arm 'control'"):
        make_learner("t").fit(X, ["a"] * 100, np.zeros(100))
    with pytest.raises(KeepwiseInputError, match="learner 'z' is not one of"):
        make_learner("z")
    with pytest.raises(KeepwiseInputError, match="not fitted yet"):
        make_learner("x").predict(X)
