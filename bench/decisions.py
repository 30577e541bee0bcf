"""Concession policies on simulated businesses: the advisor against naive rules and the oracles.

Run: ``.venv/bin/python bench/decisions.py`` (about two minutes on two cores: five businesses, two cost
levels). Prints a Markdown table.
"""

from __future__ import annotations

import sys
import time

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
) -> None:
    print("| seed | cost x | incidents | " + " | ".join(COLUMNS) + " | advisor gain share |")
    print("|---" * (len(COLUMNS) + 4) + "|")
    for seed in seeds:
        for scale in scales:
            t = time.perf_counter()
            r = compare_policies(customers=customers, seed=seed, cost_scale=scale)
            cells = [f"{r['profit'][c]:,.0f} ({r['share_of_oracle'][c]:.0%})" for c in COLUMNS]
            print(
                f"| {seed} | {scale:g} | {r['n_incidents']} | "
                + " | ".join(cells)
                + f" | {r['gain_share']['advisor']:.0%} |"
            )
            print(f"seed {seed} x{scale:g}: {time.perf_counter() - t:.0f} s; {r['effect']}", file=sys.stderr)


if __name__ == "__main__":
    main()
