"""Experiment analysis against scipy.stats and statsmodels, against published examples, and by simulation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

from keepwise.exceptions import KeepwiseInputError, StatisticalWarning
from keepwise.experiments.analysis import (
    analyze,
    bootstrap_interval,
    cuped_adjust,
    holm,
    incremental_profit,
    relative_lift,
    srm_test,
    welch,
    welch_from_moments,
)

# Student (1908), "The probable error of a mean", Biometrika 6(1), table on p. 20: extra hours of sleep under
# two drugs (Cushny and Peebles). R's `t.test(extra ~ group, data = sleep)` (datasets::sleep, Welch) prints
# t = -1.8608, df = 17.776, p-value = 0.07939, 95 percent CI -3.3654832 0.2054832.
SLEEP_1 = [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0]
SLEEP_2 = [1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4]


def test_welch_reproduces_r_t_test_on_students_sleep_data():
    r = welch(SLEEP_1, SLEEP_2)
    assert r.difference == pytest.approx(0.75 - 2.33)
    assert r.difference / r.std_error == pytest.approx(-1.8608, abs=5e-5)
    assert r.df == pytest.approx(17.776, abs=5e-4)
    assert r.p_value == pytest.approx(0.07939, abs=5e-6)
    assert r.ci_low == pytest.approx(-3.3654832, abs=1e-7)
    assert r.ci_high == pytest.approx(0.2054832, abs=1e-7)


def test_srm_reproduces_kohavi_tang_xu_example():
    # Kohavi, Tang and Xu, "Trustworthy Online Controlled Experiments" (Cambridge University Press, 2020),
    # chapter 3, section "Sample Ratio Mismatch": 821,588 control and 815,482 treatment users in a 50/50
    # experiment; the book gives p-value 1.8E-6 for a ratio this far from one.
    with pytest.warns(StatisticalWarning, match="SAMPLE RATIO MISMATCH"):
        r = srm_test({"control": 821_588, "treatment": 815_482})
    assert r.p_value == pytest.approx(1.8e-6, rel=0.02)
    assert r.mismatch
    assert r.expected == {"control": 818_535.0, "treatment": 818_535.0}


def test_srm_respects_designed_ratios_and_stays_quiet_when_fine():
    r = srm_test({"control": 200, "treatment": 800}, {"control": 1, "treatment": 4})
    assert r.p_value == pytest.approx(1.0)
    assert not r.mismatch
    ref = stats.chisquare([180, 820], [200, 800])
    r2 = srm_test({"control": 180, "treatment": 820}, {"control": 0.2, "treatment": 0.8})
    assert r2.statistic == pytest.approx(ref.statistic)
    assert r2.p_value == pytest.approx(ref.pvalue)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_welch_matches_scipy_and_statsmodels_side_by_side(seed):
    rng = np.random.default_rng(seed)
    t = rng.gamma(0.7, 120.0, size=431) + 5.0
    c = rng.gamma(0.6, 110.0, size=377)
    r = welch(t, c, alpha=0.1)
    sp = stats.ttest_ind(t, c, equal_var=False)
    ci = sp.confidence_interval(confidence_level=0.9)
    sm = CompareMeans(DescrStatsW(t), DescrStatsW(c))
    sm_low, sm_high = sm.tconfint_diff(alpha=0.1, usevar="unequal")
    sm_t, sm_p, sm_df = sm.ttest_ind(usevar="unequal")
    assert r.p_value == pytest.approx(sp.pvalue, rel=1e-10)
    assert r.p_value == pytest.approx(sm_p, rel=1e-10)
    assert r.df == pytest.approx(sm_df, rel=1e-10)
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-10)
    assert (r.ci_low, r.ci_high) == pytest.approx((sm_low, sm_high), rel=1e-10)
    assert r.difference / r.std_error == pytest.approx(sm_t, rel=1e-10)


def test_binary_metric_welch_matches_scipy():
    rng = np.random.default_rng(7)
    t = (rng.random(600) < 0.86).astype(float)
    c = (rng.random(600) < 0.80).astype(float)
    r = welch(t, c)
    sp = stats.ttest_ind(t, c, equal_var=False)
    assert r.p_value == pytest.approx(sp.pvalue, rel=1e-10)
    assert r.difference == pytest.approx(t.mean() - c.mean())


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04]
    expected = multipletests(p, method="holm")[1]
    assert holm(p) == pytest.approx(list(expected))
    assert holm([0.5, float("nan"), 0.01])[1] != holm([0.5, float("nan"), 0.01])[1]  # nan stays nan
    assert holm([0.5, float("nan"), 0.01])[::2] == pytest.approx([0.5, 0.02])


def test_relative_lift_delta_method_by_hand():
    # lift = 12/10 - 1 = 0.2; var = 4/(100*100) + 144*9/(50*10000) = 0.0004 + 0.002592
    lift, low, high = relative_lift(12.0, 4.0, 100, 10.0, 9.0, 50)
    se = np.sqrt(0.0004 + 0.002592)
    assert lift == pytest.approx(0.2)
    assert (low, high) == pytest.approx((0.2 - 1.959964 * se, 0.2 + 1.959964 * se), rel=1e-6)
    assert np.isnan(relative_lift(1.0, 1.0, 10, 0.0, 1.0, 10)[0])


def test_bootstrap_interval_close_to_welch_on_large_samples():
    rng = np.random.default_rng(3)
    t = rng.normal(10.5, 3.0, 2000)
    c = rng.normal(10.0, 3.0, 2000)
    low, high = bootstrap_interval(t, c, n_resamples=2000, seed=1)
    w = welch(t, c)
    assert low == pytest.approx(w.ci_low, abs=0.03)
    assert high == pytest.approx(w.ci_high, abs=0.03)
    assert bootstrap_interval(t, c, n_resamples=500, seed=1) == bootstrap_interval(
        t, c, n_resamples=500, seed=1
    )


def test_incremental_profit_scales_the_interval_and_subtracts_cost():
    money = incremental_profit(12.5, 2.0, 23.0, 600, program_cost=4_000.0)
    assert money == {
        "n_treated": 600,
        "program_cost": 4000.0,
        "incremental_profit": 3500.0,
        "ci_low": -2800.0,
        "ci_high": 9800.0,
    }


# ---------------------------------------------------------------------------------------- coverage simulation


def _coverage(t: np.ndarray, c: np.ndarray, truth: float) -> tuple[float, float]:
    r = welch_from_moments(
        t.mean(1), t.var(1, ddof=1), t.shape[1], c.mean(1), c.var(1, ddof=1), c.shape[1], alpha=0.05
    )
    covered = (r.ci_low <= truth) & (truth <= r.ci_high)
    return float(covered.mean()), float(np.mean(r.difference) - truth)


def test_95_percent_intervals_cover_a_binary_effect_in_2000_experiments():
    rng = np.random.default_rng(20240501)
    k, n = 2_500, 600
    p_c, p_t = 0.80, 0.85
    c = (rng.random((k, n)) < p_c).astype(float)
    t = (rng.random((k, n)) < p_t).astype(float)
    coverage, bias = _coverage(t, c, p_t - p_c)
    assert 0.935 <= coverage <= 0.965, coverage
    assert abs(bias) < 0.002


def test_95_percent_intervals_cover_a_skewed_profit_effect_in_2000_experiments():
    # Profit per customer: 30% buy nothing, the rest lognormal (sigma 1.0, skewness about 6); the program
    # raises the lognormal scale by 10%. True difference of means is known in closed form.
    rng = np.random.default_rng(99)
    k, n = 2_000, 800
    mu, sigma, buy = 5.0, 1.0, 0.7

    def profit(scale: float) -> np.ndarray:
        return (rng.random((k, n)) < buy) * scale * rng.lognormal(mu, sigma, (k, n))

    c, t = profit(1.0), profit(1.1)
    mean = buy * np.exp(mu + sigma**2 / 2)
    truth = 0.1 * mean
    coverage, bias = _coverage(t, c, truth)
    assert 0.935 <= coverage <= 0.965, coverage
    assert abs(bias) < 0.05 * truth
    assert stats.skew(c[0]) > 2  # really skewed


def test_relative_lift_interval_covers_in_2000_experiments():
    rng = np.random.default_rng(5)
    k, n = 2_000, 800
    c = rng.gamma(0.8, 100.0, (k, n))
    t = rng.gamma(0.8, 112.0, (k, n))
    _, low, high = relative_lift(t.mean(1), t.var(1, ddof=1), n, c.mean(1), c.var(1, ddof=1), n)
    coverage = float(((low <= 0.12) & (0.12 <= high)).mean())
    assert 0.935 <= coverage <= 0.965, coverage


# ------------------------------------------------------------------------------------------------------ CUPED


def test_cuped_narrows_the_interval_and_stays_unbiased():
    # Pre-period profit x and in-period profit y correlate with rho = 0.8; the program adds 10 to y.
    rng = np.random.default_rng(11)
    k, n, effect, rho = 2_000, 500, 10.0, 0.8
    x = rng.normal(100.0, 40.0, (k, 2 * n))
    y = 20.0 + rho * x + rng.normal(0.0, 40.0 * np.sqrt(1 - rho**2), (k, 2 * n))
    y[:, :n] += effect  # the first half of each experiment is treated
    adjusted, theta = cuped_adjust(y, x)
    plain = welch(y[:, :n], y[:, n:])
    cuped = welch(adjusted[:, :n], adjusted[:, n:])
    # Unbiased: the mean estimate over 2,000 experiments is within 3 of its standard errors of the truth.
    sem = cuped.difference.std() / np.sqrt(k)
    assert abs(cuped.difference.mean() - effect) < 3 * sem
    assert abs(plain.difference.mean() - effect) < 3 * plain.difference.std() / np.sqrt(k)
    # Narrower: width ratio is sqrt(1 - rho^2) = 0.6 in theory.
    ratio = float(np.mean(cuped.ci_high - cuped.ci_low) / np.mean(plain.ci_high - plain.ci_low))
    assert ratio == pytest.approx(0.6, abs=0.01)
    assert theta.mean() == pytest.approx(0.8, abs=0.01)
    # And the narrower interval still covers.
    coverage = float(((cuped.ci_low <= effect) & (effect <= cuped.ci_high)).mean())
    assert 0.935 <= coverage <= 0.965


# -------------------------------------------------------------------------------------------- whole analysis


def _frame(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 900
    arm = np.repeat(["control", "call", "visit"], n // 3)
    pre = rng.gamma(2.0, 50.0, n)
    boost = np.select([arm == "call", arm == "visit"], [15.0, 40.0], 0.0)
    profit = 0.7 * pre + boost + rng.normal(0, 30, n)
    retained = rng.random(n) < np.select([arm == "control"], [0.8], 0.86)
    return pd.DataFrame({"arm": arm, "profit": profit, "retained": retained, "pre_profit": pre})


def test_analyze_compares_every_arm_with_the_control_and_holm_adjusts():
    df = _frame()
    res = analyze(df, "arm", "control", ["profit", "retained"], profit_metric="profit", program_cost=3000.0)
    assert [(c.arm, c.metric) for c in res.comparisons] == [
        ("call", "profit"),
        ("visit", "profit"),
        ("call", "retained"),
        ("visit", "retained"),
    ]
    call = res.comparisons[0]
    ref = stats.ttest_ind(df.profit[df.arm == "call"], df.profit[df.arm == "control"], equal_var=False)
    assert call.p_value == pytest.approx(ref.pvalue)
    assert [c.p_value_holm for c in res.comparisons] == pytest.approx(
        list(multipletests([c.p_value for c in res.comparisons], method="holm")[1])
    )
    assert res.arms["control"]["n"] == 300
    assert res.arms["visit"]["mean"]["retained"] == pytest.approx(df.retained[df.arm == "visit"].mean())
    visit = res.money["visit"]
    assert visit["incremental_profit"] == pytest.approx(300 * res.comparisons[1].difference - 3000.0)
    doc = res.to_json()
    assert set(doc) == {"srm", "arms", "comparisons"}
    assert set(doc["comparisons"][0]) == {
        "arm",
        "metric",
        "difference",
        "std_error",
        "ci_low",
        "ci_high",
        "p_value",
        "relative_lift",
    }


def test_analyze_with_cuped_narrows_the_profit_interval():
    df = _frame(1)
    plain = analyze(df, "arm", "control", ["profit"])
    cuped = analyze(df, "arm", "control", ["profit"], covariates={"profit": "pre_profit"})
    for p, c in zip(plain.comparisons, cuped.comparisons, strict=True):
        assert c.method == "cuped"
        assert c.std_error < 0.6 * p.std_error
        assert c.ci_low < 40.0 + 15 and c.ci_high > c.ci_low


def test_analyze_warns_on_a_broken_split():
    df = _frame()
    df = df[~((df.arm == "visit") & (df.profit < 150))]
    with pytest.warns(StatisticalWarning, match="SAMPLE RATIO MISMATCH"):
        res = analyze(df, "arm", "control", ["profit"])
    assert res.srm.mismatch


def test_analyze_input_mistakes_name_what_to_fix():
    df = _frame()
    with pytest.raises(KeepwiseInputError, match=r"results\.csv has no column 'revenue'"):
        analyze(df, "arm", "control", ["revenue"], source="results.csv")
    with pytest.raises(KeepwiseInputError, match="control arm 'holdout' does not appear in column 'arm'"):
        analyze(df, "arm", "holdout", ["profit"])
    bad = df.assign(profit=df.profit.astype(object))
    bad.loc[5, "profit"] = "n/a"
    with pytest.raises(KeepwiseInputError, match="column 'profit' must hold numbers or true/false; row 6"):
        analyze(bad, "arm", "control", ["profit"])
