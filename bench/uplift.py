"""Uplift targeting against treat-all, treat-none and churn-risk targeting on a business with known responses.

Run: ``python bench/uplift.py [--trial 20000] [--population 50000] [--seed 0] [--small]``. Prints a Markdown
table of expected incremental profit (true individual responses, keepwise.experiments.simulate) for each
policy, then how honest each plan's money is: the learner's predicted incremental margin of the customers it
treats, the margin measured on the trial's holdout with its 90% interval (``plan_uplift``), and the truth,
before (a fixed 150 boosting rounds, no holdout) and after (early stopping, measured on the holdout), on a
trial of 4,000 customers (the size where issue 17 found a 2.6x overstatement) and on ``--trial``.
``--small`` (what ``make bench`` runs): a trial of 4,000 and a population of 6,000.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from keepwise.experiments.simulate import FEATURES, OfferWorld, policy_profit, run_trial, simulate_offers
from keepwise.experiments.targeting import fit_uplift, plan_uplift, score_uplift
from keepwise.experiments.uplift import make_learner, plan


def _truth(pop: OfferWorld, offers: np.ndarray) -> float:
    return sum(float(pop.effect[t][offers == t].sum()) for t in pop.treatments)


def honesty(trial_size: int, pop: OfferWorld, seed: int) -> list[str]:
    """Predicted, measured and true incremental margin of a DR-learner's plan, before and after."""
    trial = run_trial(simulate_offers(trial_size, seed=seed), seed=seed + 1)
    customers = pop.features.assign(margin=pop.value)
    before = HistGradientBoostingRegressor(
        max_iter=150, learning_rate=0.05, min_samples_leaf=100, random_state=0
    )
    learner = make_learner("dr", model=before, threads=1).fit(
        trial[list(FEATURES)], trial["arm"], trial["retained"]
    )
    old = plan(
        learner.predict(pop.features[list(FEATURES)]), pop.costs, value=pop.value, ids=range(len(pop.value))
    )
    old = old.sort_values("customer_id")
    offers = old["offer"].to_numpy()
    truth = _truth(pop, offers)
    predicted = float(old["incremental_margin"].sum())
    rows = [
        f"| {trial_size:,} | before: 150 rounds | {int((offers != 'none').sum()):,} | {predicted:,.0f} | "
        f"none | {truth:,.0f} | {predicted / truth:.2f} |"
    ]
    fitted = fit_uplift(
        trial, arm_column="arm", outcome="retained", features=FEATURES, learner="dr", value_column="margin"
    )
    saved = {
        "learner": fitted.learner,
        "features": list(FEATURES),
        "outcome": "retained",
        "holdout": fitted.holdout,
    }
    new = plan_uplift(score_uplift(saved, customers), pop.costs, value_column="margin")
    given = new.customers.set_index("customer_id")["offer"].reindex(pop.features["customer_id"]).to_numpy()
    truth = _truth(pop, given)
    s = new.summary
    low, high = s["incremental_margin_interval"]
    rows.append(
        f"| {trial_size:,} | after: early stopping, holdout | {s['treated']:,} | "
        f"{s['predicted_incremental_margin']:,.0f} | "
        f"{s['incremental_margin']:,.0f} ({low:,.0f} to {high:,.0f}) | "
        f"{truth:,.0f} | {s['predicted_incremental_margin'] / truth:.2f} |"
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trial", type=int, default=20_000)
    parser.add_argument("--population", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--small", action="store_true", help="a trial of 4,000 and a population of 6,000")
    args = parser.parse_args()
    if args.small:
        args.trial, args.population = 4_000, 6_000
    trial = run_trial(simulate_offers(args.trial, seed=args.seed), seed=args.seed + 1)
    pop = simulate_offers(args.population, seed=args.seed + 2)
    X, Xp = trial[list(FEATURES)], pop.features[list(FEATURES)]
    value = (0.35 * Xp["orders_12m"] * Xp["aov"]).to_numpy()
    n = len(Xp)
    rows: list[tuple[str, float, int]] = [("treat no one", 0.0, 0)]
    for t in pop.treatments:
        rows.append((f"treat everyone with {t}", policy_profit(pop, np.repeat(t, n)), n))
    counts = []
    for kind in ("t", "x", "dr"):
        for outcome in ("retained", "profit"):
            learner = make_learner(kind, threads=1).fit(X, trial["arm"], trial[outcome])
            planned = plan(
                learner.predict(Xp),
                pop.costs,
                value=value if outcome == "retained" else None,
                ids=pop.features["customer_id"],
            )
            offers = planned.set_index("customer_id")["offer"].reindex(pop.features["customer_id"])
            policy = offers.replace("none", "control").to_numpy()
            k = int((policy != "control").sum())
            counts.append(k)
            rows.append((f"uplift, {kind.upper()}-learner on {outcome}", policy_profit(pop, policy), k))
    control = trial[trial["arm"] == "control"]
    with threadpool_limits(limits=1):
        risk = (
            HistGradientBoostingClassifier(max_iter=100, random_state=0)
            .fit(control[list(FEATURES)], 1 - control["retained"])
            .predict_proba(Xp)[:, 1]
        )
    order = np.argsort(-risk, kind="stable")
    for k in sorted({counts[4], n // 5}):  # as many as the DR-learner on retention treats; a fifth
        for t in pop.treatments:
            policy = np.repeat("control", n).astype(object)
            policy[order[:k]] = t
            rows.append((f"churn risk: top {k:,} with {t}", policy_profit(pop, policy), k))
    net = pop.effect.to_numpy() - np.array([pop.costs[t] for t in pop.treatments])
    oracle = np.clip(net.max(axis=1), 0, None)
    rows.append(("perfect knowledge (upper bound)", float(oracle.sum()), int((oracle > 0).sum())))
    print(f"trial {args.trial:,} customers (control, call, discount), population {n:,}, seed {args.seed}")
    print()
    print("| policy | customers treated | expected incremental profit |")
    print("|---|---:|---:|")
    for name, profit, k in rows:
        print(f"| {name} | {k:,} | {profit:,.0f} |")
    print()
    print(
        "DR-learner on retained: the plan's incremental margin, predicted, measured on the holdout and true"
    )
    print()
    print("| trial | model | treated | predicted | measured (90% interval) | true | predicted / true |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for size in sorted({4_000, args.trial}):
        for line in honesty(size, pop, args.seed):
            print(line)


if __name__ == "__main__":
    main()
