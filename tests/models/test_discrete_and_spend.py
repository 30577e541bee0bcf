"""BG/BB, Gamma-Gamma, sBG and Kaplan-Meier against their published examples and against lifetimes."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from keepwise.exceptions import KeepwiseInputError, StatisticalWarning
from keepwise.models import (
    BetaGeoBetaBinomModel,
    GammaGammaModel,
    KaplanMeier,
    ShiftedBetaGeometricModel,
    survivors_to_durations,
)


def test_bgbb_donations_published_estimates(lifetimes_donations):
    d = lifetimes_donations
    m = BetaGeoBetaBinomModel().fit(d["frequency"], d["recency"], d["periods"], weights=d["weights"])
    # Fader, Hardie and Shang (2010), Marketing Science 29(6), section 4 (p. 1091): alpha = 1.204,
    # beta = 0.750, gamma = 0.657, delta = 2.783, LL = -33,225.6 on 11,104 donors, 1995-2000 (n = 6).
    p = m.params_
    assert round(p["alpha"], 3) == 1.204
    assert round(p["beta"], 3) == 0.750
    assert round(p["gamma"], 3) == 0.657
    assert round(p["delta"], 3) == 2.783
    assert round(m.log_likelihood_, 1) == -33225.6
    assert m.n_customers_ == 11104
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoBetaBinomFitter

        lf = BetaGeoBetaBinomFitter().fit(d["frequency"], d["recency"], d["periods"], d["weights"])
    m.params_ = {k: float(lf.params_[k]) for k in ("alpha", "beta", "gamma", "delta")}
    f, r, n = d["frequency"], d["recency"], d["periods"]
    np.testing.assert_allclose(
        m.conditional_expected_number_of_purchases_up_to_time(5, f, r, n),
        lf.conditional_expected_number_of_purchases_up_to_time(5, f, r, n),
        rtol=1e-8,
    )
    np.testing.assert_allclose(
        m.conditional_probability_alive(f, r, n), lf.conditional_probability_alive(1, f, r, n), rtol=1e-8
    )
    # expected repeat transactions of a new donor over 6 years: FHS (2010) figure 3 shows about 2.2
    assert m.expected_number_of_purchases_up_to_time(6) == pytest.approx(2.22, abs=0.01)


def test_bgbb_rejects_impossible_histories():
    with pytest.raises(KeepwiseInputError, match="frequency <= recency <= n_periods"):
        BetaGeoBetaBinomModel().fit([3], [2], [6])


def test_gamma_gamma_cdnow_published_estimates(cdnow_spend):
    d = cdnow_spend
    m = GammaGammaModel().fit(d["x"], d["zbar"])
    # Fader, Hardie and Lee (2005), "RFM and CLV: Using iso-value curves", JMR 42(4), p. 420 (and Fader and
    # Hardie 2013, "The Gamma-Gamma model of monetary value", p. 3): p = 6.25, q = 3.74, v = 15.44 on the
    # 946 CDNOW sample customers with repeat purchases.
    p = m.params_
    assert round(p["p"], 2) == 6.25
    assert round(p["q"], 2) == 3.74
    # v: the MLE is 15.4477 (lifetimes agrees to 7 digits), printed as 15.44 in the paper (truncated)
    assert p["v"] == pytest.approx(15.44, abs=0.01)
    assert m.n_customers_ == 946
    # the note's check of the model: the correlation between x and zbar is 0.11
    assert round(m.frequency_spend_correlation_, 2) == 0.11
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import GammaGammaFitter

        lf = GammaGammaFitter().fit(d["x"][d["x"] > 0], d["zbar"][d["x"] > 0])
    m.params_ = {k: float(lf.params_[k]) for k in ("p", "q", "v")}
    np.testing.assert_allclose(
        m.conditional_expected_average_profit(d["x"], d["zbar"]),
        lf.conditional_expected_average_profit(d["x"], d["zbar"]),
        rtol=1e-9,
    )


def test_gamma_gamma_warns_when_spend_depends_on_frequency():
    rng = np.random.default_rng(7)
    x = rng.integers(1, 20, 500).astype(float)
    z = rng.gamma(4.0, 2.0 + x)  # big spenders buy more often
    with pytest.warns(StatisticalWarning, match="correlated"):
        GammaGammaModel().fit(x, z)


# Fader and Hardie (2007), "How to project customer retention", J. Interactive Marketing 21(1), table 1
# (survivors of 1,000 customers, years 0-7) and p. 81: high end alpha = 0.668, beta = 3.806; regular
# alpha = 0.704, beta = 1.182.
HIGH_END = [1000, 869, 743, 653, 593, 551, 517, 491]
REGULAR = [1000, 631, 468, 382, 326, 289, 262, 241]


@pytest.mark.parametrize(("survivors", "alpha", "beta"), [(HIGH_END, 0.668, 3.806), (REGULAR, 0.704, 1.182)])
def test_sbg_published_estimates(survivors, alpha, beta):
    m = ShiftedBetaGeometricModel().fit(*survivors_to_durations(survivors))
    assert round(m.params_["alpha"], 3) == alpha
    assert round(m.params_["beta"], 3) == beta
    # projected survival is the model's; the first year is fitted closely
    assert m.survival_function(1) * 1000 == pytest.approx(survivors[1], rel=0.03)
    assert m.retention_rate(np.array([1.0, 5.0])) == pytest.approx(
        [beta / (alpha + beta), (beta + 4) / (alpha + beta + 4)], rel=1e-3
    )


def test_sbg_derl_equals_the_discounted_sum():
    m = ShiftedBetaGeometricModel().fit(*survivors_to_durations(REGULAR))
    a, b = m.params_["alpha"], m.params_["beta"]
    d = 0.1
    # sum over future periods t = 1.. of S(t)/S(0) discounted: P(still there at renewal t) / (1 + d)^t
    t = np.arange(1, 2000)
    from scipy.special import betaln

    direct = np.sum(np.exp(betaln(a, b + t) - betaln(a, b)) / (1 + d) ** t)
    assert m.discounted_expected_residual_lifetime(d, 0) == pytest.approx(direct, rel=1e-8)


def test_kaplan_meier_by_hand():
    # durations 1, 2 (censored), 3, 3, 5; S(1) = 4/5, S(3) = 4/5 * (1 - 2/3) = 4/15, S(5) = 0
    km = KaplanMeier().fit([1, 2, 3, 3, 5], [1, 0, 1, 1, 1])
    sf = km.survival_function_
    assert sf["survival"].tolist() == pytest.approx([0.8, 0.8, 4 / 15, 0.0])
    assert sf["at_risk"].tolist() == [5, 4, 3, 1]
    assert km.survival_at([0.5, 2.5, 4]) == pytest.approx([1.0, 0.8, 4 / 15])
    assert (sf["lower"] <= sf["survival"]).all() and (sf["survival"] <= sf["upper"]).all()
