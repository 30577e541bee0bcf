"""Win-back ranking against the simulator's truth: precision at the top N beside naive rankings.

Run: ``.venv/bin/python bench/winback.py [--customers 30000] [--seeds 0 1 2]``. For each seed it simulates a
business over 24 months, loads it into a fresh DuckDB file, ranks the lost customers of the last month's
ledger (:func:`keepwise.decisions.winback.rank_winback`) and prints a Markdown table of precision at N:
the share of the top N who are truly lost, truly winnable (did not move or close), truly profitable
(operating profit > 0 over the period) and not already won back. Beside it: the same lost customers ranked
by lifetime revenue, by lifetime profit, and in a random order (the base rate), and the true expected value
of the top 200: the sum of true ``p_winback`` x a year of their true weekly profit (true purchase rate x true
mean spend x their margin share, less their cost to serve a week).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from keepwise.config import Config
from keepwise.datasets import simulate
from keepwise.decisions.winback import rank_winback
from keepwise.store import connect
from keepwise.store.ingest import load_path

TOPS = (50, 100, 200, 500)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    print(
        "| seed | lost in ledger | truly good | ranked (EV > 0) | ranking | "
        + " | ".join(f"precision@{n}" for n in TOPS)
        + " | true value of top 200 |"
    )
    print("|---" * (len(TOPS) + 6) + "|")
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "sim"
            t0 = time.perf_counter()
            biz = simulate(customers=args.customers, months=24, seed=seed, out=folder)
            backend = connect(f"duckdb:///{tmp}/store.duckdb")
            load_path(backend, folder, show_progress=False)
            t1 = time.perf_counter()
            ranking = rank_winback(backend, config=Config())
            t2 = time.perf_counter()
            backend.disconnect()
        truth = pd.DataFrame.from_dict(biz.truth["customers"], orient="index")
        good = (
            truth["dropped_out"].astype(bool)
            & (truth["winnable"] == True)  # noqa: E712
            & (truth["operating_profit"] > 0)
            & (truth["won_back"] != True)  # noqa: E712
        )
        # true value of a year back: p_winback x 52 x (true weekly revenue x their margin share - their
        # cost to serve a week while they were a customer); nothing for those already won back
        acquired = pd.to_datetime(truth["acquired_at"])
        weeks = ((pd.to_datetime(truth["dropped_out_at"]) - acquired).dt.total_seconds() / 604_800).clip(
            lower=1
        )
        share = ((truth["revenue"] - truth["cogs"]) / truth["revenue"].where(truth["revenue"] > 0)).fillna(0)
        weekly = truth["lambda_per_week"].astype(float) * truth["mean_spend"].astype(float) * share
        weekly -= truth["cost_to_serve"] / weeks
        true_ev = (truth["p_winback"].fillna(0.0) * 52 * weekly).where(truth["won_back"] != True, 0.0)  # noqa: E712
        rows = ranking.rows
        ids = [r.customer.customer_id for r in rows]
        orders = {
            "keepwise": [r.customer.customer_id for r in ranking.top()],
            "by revenue": [r.customer.customer_id for r in sorted(rows, key=lambda r: -r.customer.revenue)],
            "by profit": [r.customer.customer_id for r in sorted(rows, key=lambda r: -r.customer.profit)],
            "random": list(np.random.default_rng(seed).permutation(ids)),
        }
        for name, order in orders.items():
            cells = [f"{good[order[:n]].mean():.2f}" if len(order) >= n else "-" for n in TOPS]
            ev = true_ev[order[:200]].sum()
            print(
                f"| {seed} | {len(rows):,} | {good[ids].mean():.0%} | {len(orders['keepwise']):,} | {name} | "
                + " | ".join(cells)
                + f" | {ev:,.0f} |"
            )
        print(
            json.dumps({"seed": seed, "simulate_and_load_s": round(t1 - t0, 1), "rank_s": round(t2 - t1, 1)}),
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
