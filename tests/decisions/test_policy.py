"""The concession policy comparison on a simulated business whose truth knows each customer's response."""

from __future__ import annotations

import numpy as np
import pytest

from keepwise.decisions.policy import compare_policies


@pytest.fixture(scope="module")
def result():
    return compare_policies(customers=8000, seed=0, cost_scale=1.0)


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
