"""Design: parsing arms, stratified permuted-block assignment, reproducibility and the balance table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from keepwise.exceptions import KeepwiseInputError
from keepwise.experiments.design import Design, assign, balance_table, parse_arms


def _population(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    profit = np.sort(rng.gamma(1.2, 900.0, n))[::-1]
    return pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in rng.permutation(n)],
            "profit": profit,
            "profit_decile": np.arange(n) * 10 // n + 1,
            "segment": rng.choice(["retail", "smb", "enterprise"], n),
        }
    )


def test_parse_arms():
    assert parse_arms("control:1,treatment:1") == {"control": 1.0, "treatment": 1.0}
    assert parse_arms("control:2, call, visit:0.5") == {"control": 2.0, "call": 1.0, "visit": 0.5}
    with pytest.raises(KeepwiseInputError, match="the ratio after ':' must be a number"):
        parse_arms("control:x,treatment")
    with pytest.raises(KeepwiseInputError, match="every arm needs its own name"):
        parse_arms("a,a")


def test_blocks_are_the_smallest_whole_ratios():
    assert sorted(Design("x", {"c": 0.5, "t": 0.5}, 1, control="c").block) == ["c", "t"]
    assert sorted(Design("x", {"c": 1, "t": 2}, 1, control="c").block) == ["c", "t", "t"]
    assert sorted(Design("x", {"c": 0.25, "t": 0.75}, 1, control="c").block) == ["c", "t", "t", "t"]


def test_the_story_1200_split_600_600_within_every_profit_decile():
    pop = _population()
    d = Design("vip", {"control": 1, "treatment": 1}, seed=20240501, strata=("profit_decile",))
    a = assign(pop, d)
    assert a["arm"].value_counts().to_dict() == {"control": 600, "treatment": 600}
    per_decile = (
        a.merge(pop, on="customer_id")
        .groupby("profit_decile")["arm"]
        .apply(lambda s: int((s == "treatment").sum()))
    )
    assert per_decile.tolist() == [60] * 10
    # the same seed gives the same assignment, whatever the input order; another seed does not
    shuffled = pop.sample(frac=1.0, random_state=3)
    assert assign(shuffled, d).equals(a)
    other = assign(pop, Design("vip", {"control": 1, "treatment": 1}, seed=1, strata=("profit_decile",)))
    assert not other.equals(a)
    assert (other["arm"] != a["arm"]).mean() == pytest.approx(0.5, abs=0.06)


def test_unequal_ratios_and_several_strata():
    pop = _population(900, seed=2)
    d = Design("x", {"control": 1, "call": 1, "visit": 1}, seed=5, strata=("profit_decile", "segment"))
    a = assign(pop, d)
    counts = a["arm"].value_counts()
    assert counts.max() - counts.min() <= 30  # at most one block's remainder per stratum
    cells = a.merge(pop, on="customer_id").groupby(["profit_decile", "segment", "arm"]).size().unstack()
    assert (cells.max(axis=1) - cells.min(axis=1)).max() <= 1
    d2 = Design("y", {"control": 1, "treatment": 3}, seed=5)
    assert assign(pop, d2)["arm"].value_counts().to_dict() == {"treatment": 675, "control": 225}


def test_assignment_is_random_not_systematic():
    # Over many seeds each customer is treated about half the time, independently of their position.
    pop = _population(200)
    share = np.mean(
        [
            (
                assign(pop, Design("x", {"control": 1, "treatment": 1}, seed=s))["arm"] == "treatment"
            ).to_numpy()
            for s in range(300)
        ],
        axis=0,
    )
    assert share.mean() == pytest.approx(0.5)
    assert share.min() > 0.35 and share.max() < 0.65


def test_balance_table_smd_by_hand():
    frame = pd.DataFrame({"arm": ["c", "c", "c", "t", "t", "t"], "x": [1.0, 2.0, 3.0, 2.0, 3.0, 4.0]})
    bal = balance_table(frame, "arm", "c", ["x"])
    assert bal.to_dict(orient="records") == [
        {"covariate": "x", "arm": "t", "mean": 3.0, "mean_control": 2.0, "smd": 1.0, "imbalanced": True}
    ]
    pop = _population()
    a = assign(pop, Design("vip", {"control": 1, "treatment": 1}, seed=7, strata=("profit_decile",)))
    bal = balance_table(a.merge(pop, on="customer_id"), "arm", "control", ["profit"])
    assert abs(bal["smd"].iloc[0]) < 0.1


def test_design_mistakes():
    with pytest.raises(KeepwiseInputError, match="control arm 'control' is not one of the arms"):
        Design("x", {"a": 1, "b": 1}, 1)
    with pytest.raises(KeepwiseInputError, match="at least two arms"):
        Design("x", {"control": 1}, 1)
    with pytest.raises(KeepwiseInputError, match="the population has no column"):
        assign(_population(10), Design("x", {"control": 1, "t": 1}, 1, strata=("tier",)))
