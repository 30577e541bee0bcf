"""Concession policies on simulated businesses: the advisor against naive rules and the oracles.

Run: ``.venv/bin/python bench/decisions.py`` (about a minute on two cores: five businesses, two cost levels;
``--seeds 1 --scales 1`` for one). Prints two Markdown tables: realised profit (share of the realised
oracle), and the advisor's expected profit under the true chances (share of the expected oracle's) with the
shares of the realised oracle its rule would reach with the true loss or the true reduction in place of its
estimates.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from keepwise.decisions.policy import compare_policies

COLUMNS = (
    "always_yes",
    "always_no",
    "top20",
    "advisor",
    "advisor_counter_granted",
    "expected_oracle",
    "oracle",
)


def main(
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4), scales: tuple[float, ...] = (1.0, 3.0), customers: int = 8000
) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    print("| seed | cost x | incidents | " + " | ".join(COLUMNS) + " | advisor gain share |")
    print("|---" * (len(COLUMNS) + 4) + "|")
    for seed in seeds:
        for scale in scales:
            t = time.perf_counter()
            r = compare_policies(customers=customers, seed=seed, cost_scale=scale)
            results.append(r)
            cells = [f"{r['profit'][c]:,.0f} ({r['share_of_oracle'][c]:.0%})" for c in COLUMNS]
            print(
                f"| {seed} | {scale:g} | {r['n_incidents']} | "
                + " | ".join(cells)
                + f" | {r['gain_share']['advisor']:.0%} |"
            )
            print(f"seed {seed} x{scale:g}: {time.perf_counter() - t:.0f} s; {r['effect']}", file=sys.stderr)
    print()
    print(
        "| seed | cost x | advisor, share of realised oracle | advisor expected, share of expected oracle's "
        "| rule with true loss | rule with true reduction | expected oracle |"
    )
    print("|---" * 7 + "|")
    for r in results:
        w = r["what_if_share"]
        print(
            f"| {r['seed']} | {r['cost_scale']:g} | {r['share_of_oracle']['advisor']:.1%} | "
            f"{r['expected_share']['advisor']:.1%} | {w['true_loss']:.1%} | {w['true_reduction']:.1%} | "
            f"{r['share_of_oracle']['expected_oracle']:.1%} |"
        )
    return results


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 3.0])
    ap.add_argument("--customers", type=int, default=8000)
    a = ap.parse_args()
    main(tuple(a.seeds), tuple(a.scales), a.customers)
