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


def test_one_advisor_answers_every_cost_level_as_separate_runs_would(results):
    """compare_scales fits the advisor once and evaluates each amount; at 1x it is compare_policies."""
    from keepwise.decisions.policy import compare_scales

    one = compare_scales(customers=8000, seed=0, cost_scales=(1.0, 3.0))
    assert one[0]["profit"] == results[0]["profit"]
    assert one[1]["asked_total"] == pytest.approx(3 * one[0]["asked_total"], rel=1e-9)


@pytest.fixture(scope="module")
def result(results):
    return results[0]


def test_advisor_beats_every_naive_rule_on_seed_0(result):
    """Issue 6's target, against the simulator's truth of each customer's response to a concession.

    Measured with ``bench/decisions.py`` (8,000 customers, advice on the incidents after month 14; share of
    the profit of the oracle that knows each realised response; issue 17's advisor, before it in brackets):

    ======  ====  =============  ======  ==========  ==========  ===============
    seed    cost  advisor        top-20  always-yes  always-no   expected oracle
    ======  ====  =============  ======  ==========  ==========  ===============
    0       1x    84.6% (86.0)   67.8%   62.8%       52.1%       89.7%
    1       1x    79.5% (79.0)   69.5%   41.9%       52.9%       89.3%
    2       1x    93.0% (91.8)   89.3%   75.4%       72.4%       95.2%
    3       1x    91.1% (90.4)   83.8%   77.1%       72.5%       93.9%
    4       1x    94.4% (92.8)   87.6%   79.8%       78.0%       95.5%
    ======  ====  =============  ======  ==========  ==========  ===============

    Issue 17 asks for 90% on every business; on seeds 0 and 1 even the expected oracle, which knows every
    customer's true chances and value, realises less than 90% (89.7% and 89.3%), so that target is out of
    reach of any estimate from the data (bench/RESULTS.md).
    """
    p = result["profit"]
    assert result["n_incidents"] > 500
    for rule in ("always_yes", "always_no", "top20"):
        assert p["advisor"] > p[rule], rule
    assert result["share_of_oracle"]["advisor"] >= 0.84
    # it captures most of what perfect knowledge of the realised responses could add over never conceding
    assert result["gain_share"]["advisor"] > 0.65


def test_estimated_loss_is_close_to_the_truth(result):
    """The loss the advisor expects if a customer leaves tracks the truth: right order of size.

    Issue 6: the median estimate was 1.7 times the true median loss (451 against 265), because future cost
    to serve was taken as a share of margin (capped at twice the margin, so a customer costing ten times
    what they bring looked mildly unprofitable); fixed, 1.35 times. Issue 17: customers who joined after the
    advisor's history had their cost so far spread over 4.35 weeks (3x their true cost a week); fixed, the
    correlation of the estimated with the true loss rose from 0.70 to 0.82, but that overstated cost had
    offset the overstated weeks as a customer (1.27x), so the median ratio is 1.72 again (bench/RESULTS.md).
    """
    d = result["detail"]
    ratio = float(np.median(d["est_loss"]) / np.median(d["loss"]))
    assert 0.8 < ratio < 1.9, ratio
    assert np.corrcoef(d["loss"], d["est_loss"])[0, 1] > 0.75
    # the customers who truly cost more than they bring are mostly seen as such
    truly_negative = d["value"] < -200
    assert (d.loc[truly_negative, "est_loss"] < 0).mean() > 0.6


def test_over_five_businesses_the_advisor_beats_every_rule_and_averages_88_percent(results):
    """Issue 6's target over the five businesses of the bench table.

    Realised shares of the oracle's profit at 1x: 84.6 / 79.5 / 93.0 / 91.1 / 94.4%, mean 88.5% (before issue
    17: 86.0 / 79.0 / 91.8 / 90.4 / 92.8%, mean 88.0%).
    """
    shares = [results[s]["share_of_oracle"]["advisor"] for s in SEEDS]
    for s in SEEDS:
        p = results[s]["profit"]
        for rule in ("always_yes", "always_no", "top20"):
            assert p["advisor"] > p[rule], (s, rule)
    assert float(np.mean(shares)) >= 0.87, shares
    assert min(shares) > 0.78, shares


def test_expected_profit_separates_skill_from_the_draw(results):
    """Under the true chances the advisor keeps 92-97% of the expected oracle's profit on every business.

    Seed 1's realised share (79.5%) is 10 points below the expected oracle's (89.3%), but in expectation the
    gap is 7.5 points of the expected oracle's profit: the rest is which customers happened to leave.
    """
    for s in SEEDS:
        r = results[s]
        assert r["expected_share"]["expected_oracle"] == 1.0
        assert r["expected_share"]["advisor"] > 0.91, s
        # no rule that grants the full amount beats the expected oracle in expectation: it grants exactly
        # when the expected gain is positive
        for rule in ("always_yes", "always_no", "top20", "advisor"):
            assert r["expected_share"][rule] <= 1.0 + 1e-9, (s, rule)


def test_the_advisor_values_customers_apart_from_the_schedule_buyers(results):
    """Each business plants about 7% monthly buyers who never leave (regular and stopped regular): the
    advisor finds them from the gaps between their purchases, and the BG/NBD fitted separately on them and
    on the rest predicts the last 20 weeks of history better than one fit on everyone, by a paired test
    (z = 2.8-5.5 on seeds 0, 1, 2, 4; on seed 3 the fit on everyone cannot predict the holdout at all).
    The effect of a concession is one for all incidents on every business: the likelihood-ratio tests of an
    effect growing with customer value or differing by category do not reject it (p = 0.16-0.98), though the
    simulator's effect does grow with value (0.2 on the log odds per standard deviation of value): with
    ~600 incidents and value observed through spend so far (correlation 0.5-0.6 with the true value) that
    is far below what the data can show."""
    for s in SEEDS:
        adv = results[s]["advisor"]
        assert adv.dropout.chosen == "bgnbd_by_segment", (s, adv.dropout.reason)
        assert 500 <= adv.dropout.n_schedule <= 620, s
        rows = {r["model"]: r for r in adv.dropout.holdout}
        if "rmse" in rows["bgnbd"]:
            assert rows["bgnbd_by_segment"]["rmse"] < rows["bgnbd"]["rmse"], s
            assert rows["bgnbd_by_segment"]["z"] > 1.96, s
        assert adv.effect.model == "one effect", s
        assert all(t["p_value"] > 0.05 for t in adv.effect.tests), s


def test_what_if_the_loss_or_the_effect_were_known(results):
    """The advisor's shortfall comes mostly from its estimate of the loss, not of the effect.

    The what-if shares re-apply the advisor's rule (grant when reduction x loss covers the amount) with the
    truth in place of one estimate. As estimated, the rule reproduces the advisor's decisions (a second
    implementation of :func:`~keepwise.decisions.concession.decide` without counters and cent rounding).
    With the true loss the five businesses average 91.5% of the realised oracle (seed 1: 88.6%); with the
    true reduction, 89.6% (seed 1: 82.5%); the advisor as it is, 88.5%.
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
