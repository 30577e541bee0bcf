"""Power and MDE against statsmodels, by simulation, and the story's sentence."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.power import NormalIndPower, TTestIndPower

from keepwise.exceptions import KeepwiseInputError
from keepwise.experiments.analysis import welch_from_moments
from keepwise.experiments.power import (
    mde_binary,
    mde_continuous,
    power_binary,
    power_continuous,
    power_statement,
)


@pytest.mark.parametrize(("p", "d", "n"), [(0.8, 0.06, 600), (0.3, -0.05, 1000), (0.5, 0.1, 150)])
def test_binary_power_matches_statsmodels_normal_power(p, d, n):
    effect = abs(d) / np.sqrt((p * (1 - p) + (p + d) * (1 - p - d)) / 2)
    assert power_binary(p, d, n) == pytest.approx(NormalIndPower().power(effect, n, 0.05, ratio=1), rel=1e-9)


@pytest.mark.parametrize(("n_t", "n_c"), [(600, 600), (300, 900)])
def test_continuous_power_matches_statsmodels_t_power(n_t, n_c):
    ref = TTestIndPower().power(0.15, n_t, 0.05, ratio=n_c / n_t)
    assert power_continuous(200.0, 30.0, n_t, n_c) == pytest.approx(ref, rel=1e-9)
    mde = mde_continuous(200.0, n_t, n_c)
    effect = TTestIndPower().solve_power(None, nobs1=n_t, alpha=0.05, power=0.8, ratio=n_c / n_t)
    assert mde == pytest.approx(200.0 * effect, rel=1e-5)  # statsmodels solves to about 1e-6


def test_binary_power_is_what_a_simulation_of_the_welch_test_finds():
    rng = np.random.default_rng(8)
    k, n = 4_000, 600
    c = rng.binomial(n, 0.80, k) / n
    t = rng.binomial(n, 0.85, k) / n
    r = welch_from_moments(t, t * (1 - t) * n / (n - 1), n, c, c * (1 - c) * n / (n - 1), n)
    simulated = float((r.p_value < 0.05).mean())
    assert simulated == pytest.approx(power_binary(0.80, 0.05, 600), abs=0.02)


def test_the_story_1200_customers_in_two_groups_of_600():
    s = power_statement("12-month retention", 600, p_control=0.80)
    assert s.mde == pytest.approx(0.0610, abs=5e-4)
    assert power_binary(0.80, s.mde, 600) == pytest.approx(0.8, abs=1e-9)
    assert s.compare_with == pytest.approx(0.05)
    assert s.compare_power == pytest.approx(0.627, abs=0.001)
    assert s.sentence == (
        "With 600 customers per group you can detect a 6.1-point change in 12-month retention (from 80.0%) "
        "with 80% probability; a 5.0-point change would be detected 63% of the time. "
        "(Two-sided test at the 5% level.)"
    )


def test_continuous_statement_and_mistakes():
    s = power_statement("profit per customer", 600, sd=400.0, unit="USD")
    assert s.mde == pytest.approx(64.75, abs=0.01)
    assert "a change of 52.00 USD would be detected" in s.sentence
    with pytest.raises(KeepwiseInputError, match="give either the control rate"):
        power_statement("x", 600)
    with pytest.raises(KeepwiseInputError, match="at least 2 customers"):
        power_binary(0.5, 0.1, 1)
    assert mde_binary(0.8, 600) < mde_binary(0.8, 300)
