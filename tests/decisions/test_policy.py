"""The concession policy comparison on a simulated business whose truth knows each customer's response."""

from __future__ import annotations

import numpy as np
import pytest

from keepwise.decisions.policy import compare_policies

SEEDS = (0, 1, 2, 3, 4)


@pytest.fixture(scope="module")
def results():
    """The five simulated businesses of bench/decisions.py at the amounts asked (1x)."""
    return {seed: compare_policies(customers=8000, seed=seed, cost_scale=1.0) for seed in SEEDS}


@pytest.fixture(scope="module")
def result(results):
    return results[0]


def test_advisor_beats_every_naive_rule_and_reaches_85_percent_of_the_oracle(result):
    """Issue 6's target, against the simulator's truth of each customer's response to a concession.

    Measured with ``bench/decisions.py`` (8,000 customers, advice on the incidents after month 14; share of
    the profit of the oracle that knows each realised response):

    ======  ====  =======  ======  ==========  ==========  ===============
    seed    cost  advisor  top-20  always-yes  always-no   expected oracle
    ======  ====  =======  ======  ==========  ==========  ===============
    0       1x    86.0%    67.5%   62.7%       51.5%       89.5%
    1       1x    79.0%    69.2%   41.8%       52.4%       89.1%
    2       1x    91.8%    89.2%   75.4%       72.1%       95.2%
    3       1x    90.4%    83.7%   77.2%       72.3%       93.9%
    4       1x    92.8%    87.5%   79.9%       77.9%       95.5%
    ======  ====  =======  ======  ==========  ==========  ===============

    (before the fixes of this test's commit: 83.2% / 65.7% / 92.2% for seeds 0-2). At three times the
    amounts asked the advisor beats top-20% on seeds 0, 1, 3 and 4, not on seed 2 (85.8% against 86.3%), and
    even the expected oracle reaches only 79-89% there (bench/RESULTS.md).
    """
    p = result["profit"]
    assert result["n_incidents"] > 500
    for rule in ("always_yes", "always_no", "top20"):
        assert p["advisor"] > p[rule], rule
    assert result["share_of_oracle"]["advisor"] >= 0.85
    # it captures most of what perfect knowledge of the realised responses could add over never conceding
    assert result["gain_share"]["advisor"] > 0.65


def test_estimated_loss_is_close_to_the_truth(result):
    """The loss the advisor expects if a customer leaves tracks the truth: right order of size, not inflated.

    Before the fix the median estimate was 1.7 times the true median loss (451 against 265), because future
    cost to serve was taken as a share of margin (capped at twice the margin, so a customer costing ten
    times what they bring looked mildly unprofitable) and the effect was split by category on a few dozen
    incidents each.
    """
    d = result["detail"]
    ratio = float(np.median(d["est_loss"]) / np.median(d["loss"]))
    assert 0.8 < ratio < 1.5, ratio
    assert np.corrcoef(d["loss"], d["est_loss"])[0, 1] > 0.6
    # the customers who truly cost more than they bring are mostly seen as such
    truly_negative = d["value"] < -200
    assert (d.loc[truly_negative, "est_loss"] < 0).mean() > 0.6


def test_over_five_businesses_the_advisor_beats_every_rule_and_averages_85_percent(results):
    """Issue 6's target over the five businesses of the bench table (seed 1 alone: 79.0%).

    Realised shares of the oracle's profit at 1x: 86.0 / 79.0 / 91.8 / 90.4 / 92.8%, mean 88.0%.
    """
    shares = [results[s]["share_of_oracle"]["advisor"] for s in SEEDS]
    for s in SEEDS:
        p = results[s]["profit"]
        for rule in ("always_yes", "always_no", "top20"):
            assert p["advisor"] > p[rule], (s, rule)
    assert float(np.mean(shares)) >= 0.85, shares
    assert min(shares) > 0.75, shares


def test_expected_profit_separates_skill_from_the_draw(results):
    """Under the true chances the advisor keeps 92-96% of the expected oracle's profit on every business.

    Seed 1's realised share (79.0%) is 10 points below the expected oracle's (89.0%), but in expectation the
    gap is 8 points of the expected oracle's profit: the rest is which customers happened to leave.
    """
    for s in SEEDS:
        r = results[s]
        assert r["expected_share"]["expected_oracle"] == 1.0
        assert r["expected_share"]["advisor"] > 0.9, s
        # no rule that grants the full amount beats the expected oracle in expectation: it grants exactly
        # when the expected gain is positive
        for rule in ("always_yes", "always_no", "top20", "advisor"):
            assert r["expected_share"][rule] <= 1.0 + 1e-9, (s, rule)


def test_what_if_the_loss_or_the_effect_were_known(results):
    """The advisor's shortfall comes mostly from its estimate of the loss, not of the effect.

    The what-if shares re-apply the advisor's rule (grant when reduction x loss covers the amount) with the
    truth in place of one estimate. As estimated, the rule reproduces the advisor's decisions (a second
    implementation of :func:`~keepwise.decisions.concession.decide` without counters and cent rounding).
    With the true loss the five businesses average 91.5% of the realised oracle (seed 1: 88.1%); with the
    true reduction, 88.7% (seed 1: 80.5%); the advisor as it is, 88.0%.
    """
    true_loss, true_red, advisor = [], [], []
    for s in SEEDS:
        r = results[s]
        w = r["what_if_share"]
        assert abs(w["rule_as_estimated"] - r["share_of_oracle"]["advisor"]) < 0.005, s
        true_loss.append(w["true_loss"])
        true_red.append(w["true_reduction"])
        advisor.append(r["share_of_oracle"]["advisor"])
    assert np.mean(true_loss) > np.mean(true_red) > np.mean(advisor) - 0.01
    assert results[1]["what_if_share"]["true_loss"] > 0.85
