"""Concession policies on simulated businesses: the advisor against naive rules and the oracles.

Run: ``.venv/bin/python bench/decisions.py`` (a few minutes on two cores: five businesses of 8,000 customers,
two cost levels, one fitted advisor per business); ``--quick`` for the smoke run of ``make bench`` (3,000
customers, 1x only, about a minute); ``--seeds 1 --scales 1`` for one. Prints three Markdown tables:
realised profit (share of the realised oracle); the advisor's expected profit under the true chances (share
of the expected oracle's) with the shares of the realised oracle its rule would reach with the true loss or
the true reduction in place of its estimates; and the models the advisor chose on each business (drop-out
model by holdout fit, effect model by likelihood-ratio tests).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from keepwise.decisions.policy import compare_scales

COLUMNS = (
    "always_yes",
    "always_no",
    "top20",
    "advisor",
    "advisor_counter_granted",
    "expected_oracle",
    "oracle",
)


def _models(r: dict[str, Any]) -> str:
    """The drop-out and effect models the advisor chose, with the figures that chose them."""
    adv = r["advisor"]
    d = adv.dropout
    holdout = ", ".join(
        f"{c['model']} {c['rmse']:.3f}" + (f" (z {c['z']:.1f})" if "z" in c else "")
        for c in d.holdout
        if "rmse" in c
    )
    tests = "; ".join(
        f"{t['model']}: LR {t['lr_statistic']:.1f}, p = {t['p_value']:.2f}"
        for t in adv.effect.tests
        if "p_value" in t
    )
    return (
        f"| {r['seed']} | {d.chosen} | {d.n_schedule} | {holdout or d.reason} | {adv.effect.model} | "
        f"{tests or adv.effect.source} |"
    )


def main(
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4), scales: tuple[float, ...] = (1.0, 3.0), customers: int = 8000
) -> list[dict[str, Any]]:
    """Print the three tables for each business (seed) at each cost level; return the results."""
    results: list[dict[str, Any]] = []
    print("| seed | cost x | incidents | " + " | ".join(COLUMNS) + " | advisor gain share |")
    print("|---" * (len(COLUMNS) + 4) + "|")
    for seed in seeds:
        t = time.process_time()
        for r in compare_scales(customers=customers, seed=seed, cost_scales=scales):
            results.append(r)
            cells = [f"{r['profit'][c]:,.0f} ({r['share_of_oracle'][c]:.0%})" for c in COLUMNS]
            print(
                f"| {seed} | {r['cost_scale']:g} | {r['n_incidents']} | "
                + " | ".join(cells)
                + f" | {r['gain_share']['advisor']:.0%} |"
            )
        print(f"seed {seed}: {time.process_time() - t:.0f} s CPU", file=sys.stderr)
    print()
    print(
        "| seed | cost x | advisor, share of realised oracle | advisor expected, share of expected oracle's "
        "| rule with true loss | rule with true reduction | expected oracle, share of realised oracle |"
    )
    print("|---" * 7 + "|")
    for r in results:
        w = r["what_if_share"]
        print(
            f"| {r['seed']} | {r['cost_scale']:g} | {r['share_of_oracle']['advisor']:.1%} | "
            f"{r['expected_share']['advisor']:.1%} | {w['true_loss']:.1%} | {w['true_reduction']:.1%} | "
            f"{r['share_of_oracle']['expected_oracle']:.1%} |"
        )
    print()
    print("| seed | drop-out model | schedule buyers | holdout RMSE (purchase days) | effect | tests |")
    print("|---" * 6 + "|")
    for r in results:
        if r["cost_scale"] == results[0]["cost_scale"]:
            print(_models(r))
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 3.0])
    ap.add_argument("--customers", type=int, default=8000)
    ap.add_argument("--quick", action="store_true", help="3,000 customers a business, 1x only (make bench)")
    a = ap.parse_args()
    if a.quick:
        a.customers, a.scales = 3000, [1.0]
    main(tuple(a.seeds), tuple(a.scales), a.customers)
