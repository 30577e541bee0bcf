"""Uplift targeting against treat-all, treat-none and churn-risk targeting on a business with known responses.

Run: ``python bench/uplift.py [--trial 20000] [--population 50000] [--seed 0]``. Prints a Markdown table of
expected incremental profit (true individual responses, keepwise.experiments.simulate) for each policy.
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits

from keepwise.experiments.simulate import FEATURES, policy_profit, run_trial, simulate_offers
from keepwise.experiments.uplift import make_learner, plan


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trial", type=int, default=20_000)
    parser.add_argument("--population", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()
