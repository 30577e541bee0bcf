"""Profitability and tiers against the simulator's truth (keepwise.datasets.simulate).

The simulator computes each customer's money from its own arrays (numpy, floats, rounded to cents in the
truth; cost to serve to 4 places), independently of the store and of the engine, so agreement checks the
whole path: load, time-driven cost to serve with rate changes, concessions by resolution month, referral
value from the referred customer's first 365 days, tiers.
"""

from __future__ import annotations

import pandas as pd
import pytest

from keepwise.config import Config
from keepwise.datasets.simulate import simulate
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order
from keepwise.value import profitability
from keepwise.value.tiers import tiers_of

#: Truth is rounded to cents; the store's monthly amounts to 0.0001 each (24 months: at most 0.0012 apart).
CENT = 0.0101
LAST_MONTH = "2025-12"


@pytest.fixture(scope="module")
def business(tmp_path_factory):
    biz = simulate(customers=1500, months=24, seed=3)
    backend = connect(f"duckdb:///{tmp_path_factory.mktemp('sim')}/store.duckdb")
    for name in load_order():
        frame = getattr(biz, name, None)
        if frame is not None and len(frame):
            load_frame(backend, name, frame)
    truth = pd.DataFrame.from_dict(biz.truth["customers"], orient="index")
    yield backend, truth
    backend.disconnect()


def test_lifetime_money_matches_the_truth(business):
    store, truth = business
    df = profitability(store, LAST_MONTH, view="lifetime", config=Config()).set_index("customer_id")
    assert set(df.index) == set(truth.index)  # every simulated customer did something
    pairs = {
        "revenue": "revenue",
        "cogs": "cogs",
        "cost_to_serve": "cost_to_serve",
        "concessions": "concessions",
        "advocacy_value": "advocacy_value",
        "operating_profit": "operating_profit",
        "profit": "lifetime_profit",
    }
    for ours, theirs in pairs.items():
        gap = (df[ours].map(float) - truth.loc[df.index, theirs]).abs()
        assert gap.max() < CENT, f"{ours}: {gap.idxmax()} is {gap.max()} away from the truth"
    # the figures are not trivially zero: there is real cost to serve, concessions and referral value
    assert (df["cost_to_serve"] > 0).mean() > 0.5
    assert (df["concessions"] > 0).sum() > 20
    assert (truth["referred_by"].notna()).sum() > 10


def test_one_month_matches_the_monthly_truth(business):
    store, truth = business
    month = "2025-06"
    df = profitability(store, month, config=Config()).set_index("customer_id")
    expected = {cid: m[month] for cid, m in truth["monthly"].items() if month in m}
    assert set(df.index) >= set(expected)
    for cid, (revenue, cogs, cts, conc) in expected.items():
        row = df.loc[cid]
        assert float(row["revenue"]) == pytest.approx(revenue, abs=0.005), cid
        assert float(row["cogs"]) == pytest.approx(cogs, abs=0.005), cid
        assert float(row["cost_to_serve"]) == pytest.approx(cts, abs=0.0001), cid
        assert float(row["concessions"]) == pytest.approx(conc, abs=0.005), cid


def test_every_customer_gets_the_tier_of_their_true_profit(business):
    store, truth = business
    cfg = Config()
    ours = profitability(store, LAST_MONTH, view="lifetime", config=cfg).set_index("customer_id")
    true_profit = truth[["lifetime_profit"]].rename(columns={"lifetime_profit": "profit"})
    theirs = tiers_of(true_profit.rename_axis("customer_id").reset_index(), cfg).set_index("customer_id")
    assert (ours["tier"] == theirs.loc[ours.index, "tier"]).all()
    assert (ours["quintile"] == theirs.loc[ours.index, "quintile"]).all()
    counts = ours.groupby("tier").size()
    assert counts["platinum"] == 75 and counts["gold"] == 225  # 5% and 15% of 1500
    # the simulator's heavy-cost customers (many visits, long calls) land in lead far more often
    heavy = truth.loc[ours.index, "heavy_cost"].astype(bool)
    lead = ours["tier"] == "lead"
    assert lead[heavy].mean() > 2 * lead[~heavy].mean()
