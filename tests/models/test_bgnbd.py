"""BG/NBD against Fader, Hardie and Lee (2005) and against lifetimes 0.11.3 on the CDNOW sample."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from keepwise.models import BetaGeoModel, ModifiedBetaGeoModel


@pytest.fixture(scope="module")
def fitted(cdnow_summary):
    d = cdnow_summary
    return BetaGeoModel().fit(d["frequency"], d["recency"], d["T"])


def test_cdnow_published_estimates(fitted):
    # Fader, Hardie and Lee (2005), "Counting your customers the easy way", Marketing Science 24(2),
    # section 5 (p. 279): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
    p = fitted.params_
    assert round(p["r"], 3) == 0.243
    assert round(p["alpha"], 3) == 4.414
    assert round(p["a"], 3) == 0.793
    assert round(p["b"], 3) == 2.426
    assert round(fitted.log_likelihood_, 1) == -9582.4
    # CLVTools' own test of the same fit (more digits, tolerance 1e-3); its data has unrounded days/7 where
    # this sample rounds t_x and T to 2 decimals, which moves the LL by 0.0035
    assert p["r"] == pytest.approx(0.2425945, rel=1e-3)
    assert p["alpha"] == pytest.approx(4.4136019, rel=1e-3)
    assert p["a"] == pytest.approx(0.7929199, rel=1e-3)
    assert p["b"] == pytest.approx(2.4258881, rel=1e-3)
    assert fitted.log_likelihood_ == pytest.approx(-9582.429, abs=5e-3)
    assert fitted.n_customers_ == 2357


def test_summary_has_intervals_around_the_estimates(fitted):
    s = fitted.summary
    assert list(s.columns) == ["estimate", "se", "lower", "upper"]
    assert list(s.index) == ["r", "alpha", "a", "b"]
    assert (s["lower"] < s["estimate"]).all() and (s["estimate"] < s["upper"]).all()
    # the log-scale interval exponentiated: its geometric midpoint is the estimate
    assert np.sqrt(s["lower"] * s["upper"]).to_numpy() == pytest.approx(s["estimate"].to_numpy(), rel=1e-9)
    assert s.loc["r", "se"] == pytest.approx(0.0126, abs=5e-4)


def _lifetimes_bgf(d):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter

        return BetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])


def test_predictions_match_lifetimes_side_by_side(fitted, cdnow_summary):
    d = cdnow_summary
    lf = _lifetimes_bgf(d)
    for k in ("r", "alpha", "a", "b"):
        assert fitted.params_[k] == pytest.approx(lf.params_[k], rel=1e-4)
    # score both with the same parameters so that only the formulas are compared
    m = BetaGeoModel().fit(d["frequency"], d["recency"], d["T"], initial_params=dict(lf.params_))
    m.params_ = {k: float(lf.params_[k]) for k in ("r", "alpha", "a", "b")}
    x, tx, T = d["frequency"].to_numpy(), d["recency"].to_numpy(), d["T"].to_numpy()
    ours = m.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T)
    theirs = lf.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T)
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    np.testing.assert_allclose(
        m.conditional_probability_alive(x, tx, T), lf.conditional_probability_alive(x, tx, T), rtol=1e-9
    )
    # first customer of the sample (x=2, t_x=30.43, T=38.86): FHL 2005 figure of 0.73 for P(alive)
    assert m.conditional_probability_alive([2], [30.43], [38.86])[0] == pytest.approx(0.7266, abs=1e-4)


def test_expected_purchases_of_a_new_customer_match_lifetimes(fitted, cdnow_summary):
    lf = _lifetimes_bgf(cdnow_summary)
    m = BetaGeoModel()
    m.params_, m._links = {k: float(lf.params_[k]) for k in ("r", "alpha", "a", "b")}, ()
    t = np.array([1.0, 10.0, 39.0, 78.0])
    np.testing.assert_allclose(
        m.expected_number_of_purchases_up_to_time(t), lf.expected_number_of_purchases_up_to_time(t), rtol=1e-8
    )


def test_expected_time_to_next_purchase(fitted):
    r, alpha = fitted.params_["r"], fitted.params_["alpha"]
    got = fitted.expected_time_to_next_purchase([3, 0], [20.0, 0.0], [38.86, 38.86])
    assert got[0] == pytest.approx((alpha + 38.86) / (r + 3 - 1))
    assert np.isinf(got[1])  # r + 0 <= 1: the mean wait of a Gamma(r, .) rate is infinite


def test_mbgnbd_matches_lifetimes(cdnow_summary):
    d = cdnow_summary
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import ModifiedBetaGeoFitter

        lf = ModifiedBetaGeoFitter().fit(d["frequency"], d["recency"], d["T"])
    m = ModifiedBetaGeoModel().fit(d["frequency"], d["recency"], d["T"])
    for k in ("r", "alpha", "a", "b"):
        assert m.params_[k] == pytest.approx(lf.params_[k], rel=2e-3)
    x, tx, T = d["frequency"].to_numpy(), d["recency"].to_numpy(), d["T"].to_numpy()
    m.params_ = {k: float(lf.params_[k]) for k in ("r", "alpha", "a", "b")}
    np.testing.assert_allclose(
        m.conditional_probability_alive(x, tx, T), lf.conditional_probability_alive(x, tx, T), rtol=1e-9
    )
    np.testing.assert_allclose(
        m.conditional_expected_number_of_purchases_up_to_time(10, x, tx, T),
        lf.conditional_expected_number_of_purchases_up_to_time(10, x, tx, T),
        rtol=1e-6,
    )
    np.testing.assert_allclose(
        m.expected_number_of_purchases_up_to_time(np.array([5.0, 50.0])),
        lf.expected_number_of_purchases_up_to_time(np.array([5.0, 50.0])),
        rtol=1e-8,
    )
