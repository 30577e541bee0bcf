"""Win-back ranking against the simulator's truth: precision at the top N beside naive rankings.

Run: ``.venv/bin/python bench/winback.py [--customers 30000] [--seeds 0 1 2]`` (``make bench``: small). For
each seed it simulates a business over 24 months, loads it into a fresh DuckDB file, ranks the lost
customers of the last month's ledger (:func:`keepwise.decisions.winback.rank_winback`) and prints a Markdown
table of precision at N: the share of the top N who are truly lost, truly winnable (did not move or close),
truly profitable (operating profit > 0 over the period) and not already won back. Beside it: the same lost
customers ranked by lifetime revenue, by lifetime profit, and in a random order (the base rate), and the
true expected value of the top 200: the sum of true ``p_winback`` x a year of their true weekly profit (true
purchase rate x true mean spend x their margin share, less their cost to serve a week).

Then the offers (issue 17): a planted offer effect, the part-worths :data:`TRUTH` of
``examples/conjoint/winback_study.yaml`` (300 respondents around them, :data:`SPREAD`), answers a
D-efficient design; a conditional logit fitted to the answers is saved with the study's costs and words. Two
rankings of the same lost customers: **offer-aware** (``keepwise winback``: each customer's offer of highest
expected value, its chance scaled by its acceptance over the offer they left, its full cost) and **price-
only** (the ranking before: one offer for everyone, the best expected margin ``take-up x (price - price x
cogs share)``, costed by its price cut alone, the chance by exit reason unmoved). Both are scored by the
truth: customer ``i`` contacted with offer ``o`` is worth ``min(1, p_winback_i x A(o) / A(lost)) x (a year
of true profit - cost(o)) - contact cost``, ``A`` from the true part-worths, ``cost`` the study's cost lines
over 12 months.
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
STUDY = Path(__file__).parents[1] / "examples" / "conjoint" / "winback_study.yaml"
#: The planted offer effect: plan[Basic], plan[Standard], free_months[0], free_months[1], support[Email],
#: support[Phone], contract[Monthly], price (per dollar), none (effects coding, as examples/conjoint)
TRUTH = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.08, 0.5])
#: How far respondents' part-worths spread around :data:`TRUTH` (a dollar of price: 0.02)
SPREAD = np.array([0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.02, 0.3])
CONTACT = 5.0


def _fit_and_save(backend: object, seed: int) -> tuple[object, np.ndarray]:
    """Respondents with the planted part-worths answer the study; the fit is saved with the study's terms."""
    from keepwise.conjoint.coding import Coding
    from keepwise.conjoint.design import d_efficient
    from keepwise.conjoint.results import estimate
    from keepwise.conjoint.simulator import simulate_answers
    from keepwise.conjoint.store import save_result, study_prohibitions
    from keepwise.conjoint.study import load_study

    study = load_study(STUDY)
    betas = np.random.default_rng(seed).normal(TRUTH, SPREAD, (300, len(TRUTH)))
    answers = simulate_answers(
        d_efficient(study, 12, 4, seed=seed), Coding.from_study(study), betas, seed=seed
    )
    attributes = ["plan", "free_months", "support", "contract", "price", "none"]
    result = estimate(answers, attributes, "task", "alternative", "chosen", respondent="respondent",
                      categorical=["free_months"], price="price", none="none")  # fmt: skip
    result.currency = "USD"
    save_result(backend, result, "bench", prohibitions=study_prohibitions(study), terms=study.terms)  # type: ignore[arg-type]
    return study, betas


def _true_acceptance(study: object, betas: np.ndarray, offers: list[dict]) -> np.ndarray:
    """Mean over the true respondents of 1 / (1 + exp(V_none - V_offer))."""
    from keepwise.conjoint.coding import Coding

    coding = Coding.from_study(study)  # type: ignore[arg-type]
    Z = np.stack([coding.profile_vector(o) for o in offers])
    z_none = np.zeros(len(coding.names))
    z_none[coding.slices["none"]] = 1.0
    gap = betas @ z_none[:, None] - betas @ Z.T
    return (1.0 / (1.0 + np.exp(gap))).mean(axis=0)


def offers_row(backend: object, seed: int, truth: pd.DataFrame, value: pd.Series) -> dict[str, float]:
    """True expected value of the offer-aware and the price-only rankings' contacts (see the docstring)."""
    from keepwise.conjoint.simulator import best_offer, candidate_offers
    from keepwise.conjoint.store import load_result
    from keepwise.conjoint.study import lost_offer

    study, betas = _fit_and_save(backend, seed)
    ranking = rank_winback(backend, config=Config())  # type: ignore[arg-type]
    result = load_result(backend)  # type: ignore[arg-type]
    terms = study.terms  # type: ignore[attr-defined]
    grid = candidate_offers(study)  # type: ignore[arg-type]
    lost = {k: (float(v) if k == "price" else v) for k, v in lost_offer(study).items()}  # type: ignore[arg-type]
    accept = _true_acceptance(study, betas, [*grid, lost])
    odds = accept / (1 - accept)
    ratio = dict(zip(map(_key, grid), odds[:-1] / odds[-1], strict=True))  # the planted truth moves the odds
    cost = {_key(o): float(sum(line.total(12) for line in terms.cost_lines(o, 49.0, "USD"))) for o in grid}
    p_true = truth["p_winback"].fillna(0.0).where(truth["won_back"] != True, 0.0)  # noqa: E712

    def worth(cid: str, offer: dict) -> float:
        c, o = float(p_true.get(cid, 0.0)), ratio[_key(offer)]
        p = c * o / (1 - c + c * o)
        return p * (float(value.get(cid, 0.0)) - cost[_key(offer)]) - CONTACT

    aware = [(r.customer.customer_id, r.offer.levels) for r in ranking.top() if r.offer and r.offer.levels]
    # the price-only ranking: one offer by expected margin, its price cut the cost, the chance unmoved
    share = float(truth["cogs"].sum() / truth["revenue"].sum())
    one = best_offer(result, grid, [float(o["price"]) * share for o in grid]).offer  # type: ignore[arg-type]
    cut = 49.0 - float(one["price"])
    price_only = []
    for r in ranking.rows:
        if (
            r.status in ("contact", "not_worth_contact")
            and r.chance is not None
            and r.value_if_back is not None
        ):
            if round(r.chance.mean, 4) * float(r.value_if_back) - cut - CONTACT > 0:
                price_only.append((r.customer.customer_id, one))
    lost_key = _key(lost)
    return {
        "aware_n": len(aware),
        "aware": sum(worth(c, o) for c, o in aware),
        "left": sum(worth(c, lost) for c, _ in aware) if lost_key in ratio else float("nan"),
        "price_n": len(price_only),
        "price": sum(worth(c, o) for c, o in price_only),
        "offers": len({_key(o) for _, o in aware}),
        "one": _key(one),
    }


def _key(offer: dict) -> str:
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in offer.items())


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
    offer_rows = []
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
            truth = pd.DataFrame.from_dict(biz.truth["customers"], orient="index")
            offer_rows.append((seed, offers_row(backend, seed, truth, _year_of_profit(truth))))
            backend.disconnect()
        good = (
            truth["dropped_out"].astype(bool)
            & (truth["winnable"] == True)  # noqa: E712
            & (truth["operating_profit"] > 0)
            & (truth["won_back"] != True)  # noqa: E712
        )
        # true value of a year back: p_winback x a year of true profit; nothing for those already won back
        back = truth["won_back"] == True  # noqa: E712 (None for active customers)
        true_ev = (truth["p_winback"].fillna(0.0) * _year_of_profit(truth)).where(~back, 0.0)
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
    print(
        "\n| seed | offer-aware: contacted | distinct offers | true EV | same customers, the offer they left "
        "| price-only: contacted | its one offer | true EV | gain |\n|---|---|---|---|---|---|---|---|---|"
    )
    for seed, row in offer_rows:
        print(
            f"| {seed} | {row['aware_n']:,} | {row['offers']} | {row['aware']:,.0f} | {row['left']:,.0f} | "
            f"{row['price_n']:,} | "
            f"{row['one']} | {row['price']:,.0f} | {row['aware'] - row['price']:+,.0f} |"
        )


def _year_of_profit(truth: pd.DataFrame) -> pd.Series:
    """52 x (true weekly revenue x their margin share - their cost to serve a week while a customer)."""
    acquired = pd.to_datetime(truth["acquired_at"])
    weeks = ((pd.to_datetime(truth["dropped_out_at"]) - acquired).dt.total_seconds() / 604_800).clip(lower=1)
    share = ((truth["revenue"] - truth["cogs"]) / truth["revenue"].where(truth["revenue"] > 0)).fillna(0)
    weekly = truth["lambda_per_week"].astype(float) * truth["mean_spend"].astype(float) * share
    weekly -= truth["cost_to_serve"] / weeks
    return (52 * weekly).fillna(0.0)


if __name__ == "__main__":
    main()
