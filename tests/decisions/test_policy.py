"""The concession policy comparison on a simulated business whose truth knows each customer's response."""

from __future__ import annotations

import pytest

from keepwise.decisions.policy import compare_policies


@pytest.fixture(scope="module")
def result():
    return compare_policies(customers=8000, seed=0, cost_scale=1.0)


def test_advisor_beats_every_naive_rule(result):
    p = result["profit"]
    assert result["n_incidents"] > 500
    for rule in ("always_yes", "always_no", "top20"):
        assert p["advisor"] > p[rule], rule
    # it captures most of what perfect knowledge of the realised responses could add over never conceding
    assert result["gain_share"]["advisor"] > 0.6
    assert result["share_of_oracle"]["advisor"] >= 0.80


@pytest.mark.xfail(
    strict=True, reason="measured 0.83 of the realised oracle; even the expected oracle gets 0.88"
)
def test_advisor_reaches_85_percent_of_the_oracle(result):
    assert result["share_of_oracle"]["advisor"] >= 0.85
