"""A customer's own failed win-back attempts lower their chance (keepwise.decisions.winback.own_chance)."""

from __future__ import annotations

import math
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_winback import lost_customer  # tests/decisions is on sys.path, as for test_service

from keepwise.config import Config, DecisionAssumptions
from keepwise.decisions.winback import (
    LostCustomer,
    WinbackRanking,
    decide,
    map_offer,
    order_rows,
    own_chance,
    posterior,
    rank_winback,
)
from keepwise.store import connect

CFG = DecisionAssumptions()


def _beta_cdf(x: float, a: float, b: float, steps: int = 200_000) -> float:
    """Second implementation: the Beta CDF by the midpoint rule on its density (lgamma normaliser)."""
    log_norm = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
    t = (np.arange(steps) + 0.5) / steps * x
    return float(np.exp(log_norm + (a - 1) * np.log(t) + (b - 1) * np.log1p(-t)).sum() * x / steps)


def customer(cid: str, profit: Decimal, months: int, failed: int, reason: str = "price") -> LostCustomer:
    return lost_customer(
        cid,
        reason,
        profit,
        "gold",
        months,
        failed_attempts=failed,
        first_failed_at=datetime(2025, 7, 1, tzinfo=UTC) if failed else None,
        last_attempt=(
            {"attempted_at": datetime(2025, 9, 1, tzinfo=UTC), "offer": "10% off", "won_back": False}
            if failed
            else None
        ),
    )


def test_own_failures_by_hand():
    # price: 12 won of 30 -> Beta(18, 32), m = 0.36. Two own failures: the customer's prior is m as the mean
    # of a Beta worth w = 20 attempts, Beta(7.2, 12.8), plus two failures -> Beta(7.2, 14.8), mean 7.2/22
    rate = posterior("price", 30, 12, CFG)
    mine = own_chance(rate, 2, CFG)
    assert (mine.a, mine.b) == (pytest.approx(7.2), pytest.approx(14.8))
    assert mine.mean == pytest.approx(7.2 / 22, abs=1e-12)  # 0.32727
    assert mine.reason_mean == pytest.approx(0.36) and mine.own_failed == 2
    assert _beta_cdf(mine.low, 7.2, 14.8) == pytest.approx(0.05, abs=3e-4)
    assert _beta_cdf(mine.high, 7.2, 14.8) == pytest.approx(0.95, abs=3e-4)
    assert own_chance(rate, 0, CFG) is rate
    # with no attempts on the reason it is exactly a / (a + b + k) on the prior: 6 / (20 + 2)
    assert own_chance(posterior("price", 0, 0, CFG), 2, CFG).mean == pytest.approx(6 / 22)
    # the expected value: 1,200.00 over 10 months -> 1,440.00 for 12 months back;
    # 0.3273 x 1440 - 30.00 offer - 5.00 contact = 436.31, against 0.36 x 1440 - 35 = 483.40 untried
    row = decide(customer("C1", Decimal("1200.00"), 10, 2), rate, map_offer("price", CFG), CFG)
    assert row.chance is not None and round(row.chance.mean, 4) == 0.3273
    assert row.expected_value == Decimal("436.31")
    untried = decide(customer("C2", Decimal("1200.00"), 10, 0), rate, map_offer("price", CFG), CFG)
    assert untried.expected_value == Decimal("483.40")
    text = " ".join(row.reasons)
    assert "tried 2 time(s) since 2025-07-01, no answer; last offer: 10% off" in text
    assert "lowers the chance from 36.0% for 'price' to 32.7%" in text
    doc = row.to_json()
    assert doc["chance"] == 0.3273 and doc["chance_for_reason"] == 0.36 and doc["failed_attempts"] == 2
    assert "chance_for_reason" not in untried.to_json()


reasons_counts = st.integers(0, 400).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n)))
money = st.decimals(min_value=-2000, max_value=50000, places=2, allow_nan=False, allow_infinity=False)


@settings(max_examples=200, deadline=None)
@given(
    counts=reasons_counts,
    failed=st.integers(0, 12),
    profit=money,
    months=st.integers(1, 48),
    others=st.lists(st.tuples(money, st.integers(0, 3)), max_size=6),
    weight=st.integers(1, 100),
)
def test_a_failed_attempt_never_raises_the_chance_the_value_or_the_rank(
    counts, failed, profit, months, others, weight
):
    cfg = replace(CFG, winback_prior_weight=weight)
    rate = posterior("price", counts[0], counts[1], cfg)
    offer = map_offer("price", cfg)
    before = decide(customer("C0", profit, months, failed), rate, offer, cfg)
    after = decide(customer("C0", profit, months, failed + 1), rate, offer, cfg)
    assert before.chance is not None and after.chance is not None
    assert after.chance.mean <= before.chance.mean <= rate.mean
    assert after.expected_value is not None and before.expected_value is not None
    assert after.value_if_back is not None
    if after.value_if_back < 0:
        # winning back someone who loses money is worth less the likelier it is: a lower chance raises the
        # (negative) expected value, but it stays below the costs, so never a contact
        assert after.status == before.status == "not_worth_contact"
        return
    assert after.expected_value <= before.expected_value
    # among the same other customers, their place in the ranking never improves
    rest = [decide(customer(f"C{i + 1}", p, months, f), rate, offer, cfg) for i, (p, f) in enumerate(others)]

    def place(row):
        return [r.customer.customer_id for r in order_rows([row, *rest])].index("C0")

    assert place(after) >= place(before)
    if after.status == "contact":
        assert before.status == "contact"


def test_one_failure_lowers_the_chance_as_much_as_the_simulators_truth(sim_business, sim_db):
    """What one failed attempt says about a customer, on the simulator's truth, against keepwise's update.

    The truth: each lost customer's own chance ``p`` (``p_winback``); after one failure it is expected to be
    ``E[p (1 - p)] / E[1 - p]`` among those of the same reason. Measured (3,000 customers, seed 3), as a
    share of the reason's mean: competitor 0.958, no_need 0.982, price 0.954, quality 0.963, service 0.949.
    keepwise: ``w / (w + 1)`` = 20 / 21 = 0.952 whatever the reason. The update a / (a + b + 1) on the
    reason posterior (weight 20 + its attempts, 33-61 here) gives 0.98-0.99, and tends to 1 (no effect) as
    attempts accumulate.
    """
    truth = pd.DataFrame.from_dict(sim_business.truth["customers"], orient="index")
    lost = truth[truth["dropped_out"].astype(bool) & (truth["winnable"] == True)]  # noqa: E712
    attempts = sim_business.tables["winback_attempts"]
    ours, pooled = [], []
    for reason, group in lost.groupby("true_reason"):
        p = group["p_winback"].astype(float)
        factor = float((p * (1 - p)).mean() / (1 - p).mean() / p.mean())
        mine = attempts[attempts["reason_code"] == reason]
        rate = posterior(str(reason), len(mine), int(mine["won_back"].sum()), CFG)
        ours.append(abs(own_chance(rate, 1, CFG).mean / rate.mean - factor))
        pooled.append(abs(rate.a / (rate.a + rate.b + 1) / rate.mean - factor))
        assert ours[-1] < 0.035, reason
    assert len(ours) == 5
    assert np.mean(ours) < 0.015
    assert np.mean(ours) < np.mean(pooled) / 2


@pytest.fixture(scope="module")
def ranked(sim_db: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[WinbackRanking, pd.DataFrame]:
    copy = tmp_path_factory.mktemp("own") / "store.duckdb"
    shutil.copy(sim_db.removeprefix("duckdb:///"), copy)
    backend = connect(f"duckdb:///{copy}", read_only=True)
    try:
        rows = backend.con.execute(
            "WITH last AS (SELECT customer_id, max(ordered_at) AS last_order FROM orders GROUP BY 1) "
            "SELECT a.customer_id, count(*) AS n, min(a.attempted_at) AS first FROM winback_attempts a "
            "LEFT JOIN last USING (customer_id) WHERE NOT a.won_back AND a.attempted_at < '2026-01-01' "
            "AND (last.last_order IS NULL OR a.attempted_at > last.last_order) GROUP BY 1"
        ).fetchall()
        failed = pd.DataFrame(rows, columns=["customer_id", "n", "first"])
        return rank_winback(backend, config=Config()), failed.set_index("customer_id")
    finally:
        backend.disconnect()


def test_the_ranking_counts_each_customers_failed_attempts(ranked):
    ranking, failed = ranked
    tried = 0
    for row in ranking.rows:
        c = row.customer
        expected = int(failed.loc[c.customer_id, "n"]) if c.customer_id in failed.index else 0
        assert c.failed_attempts == expected, c.customer_id
        if row.status in ("contact", "not_worth_contact") and expected:
            tried += 1
            reason_rate = ranking.rates[c.reason]
            assert row.chance is not None and row.chance.reason_mean == reason_rate.mean
            assert row.chance.mean == pytest.approx(reason_rate.mean * 20 / (20 + expected), abs=1e-6)
            first = pd.Timestamp(failed.loc[c.customer_id, "first"]).tz_convert("UTC")
            assert f"tried {expected} time(s) since {first:%Y-%m-%d}, no answer" in " ".join(row.reasons)
    assert tried > 20
    stated = [a for a in ranking.to_json()["assumptions"] if a["name"] == "winback.own_failed_attempts"]
    assert len(stated) == 1 and stated[0]["value"] == "m w / (w + f)"
