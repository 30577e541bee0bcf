"""Pareto/NBD against Fader and Hardie's note and lifetimes 0.11.3; its quadrature against adaptive quad."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import integrate

from keepwise.models import ParetoNBDModel
from keepwise.models.pareto_nbd import _log_integral


@pytest.fixture(scope="module")
def fitted(cdnow_summary):
    d = cdnow_summary
    return ParetoNBDModel().fit(d["frequency"], d["recency"], d["T"])


def test_cdnow_published_estimates(fitted):
    # Fader and Hardie (2005), "A Note on Deriving the Pareto/NBD Model and Related Expressions", p. 4 (and
    # Fader, Hardie and Lee 2005, Marketing Science 24(2), p. 279): r = 0.55, alpha = 10.58, s = 0.61,
    # beta = 11.67, LL = -9595.0 on the CDNOW sample.
    p = fitted.params_
    assert round(p["r"], 2) == 0.55
    assert round(p["alpha"], 2) == 10.58
    assert round(p["s"], 2) == 0.61
    assert round(p["beta"], 2) == 11.67
    assert round(fitted.log_likelihood_, 1) == -9595.0


def test_predictions_match_lifetimes_side_by_side(fitted, cdnow_summary):
    d = cdnow_summary
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import ParetoNBDFitter

        lf = ParetoNBDFitter().fit(d["frequency"], d["recency"], d["T"])
    for k in ("r", "alpha", "s", "beta"):
        assert fitted.params_[k] == pytest.approx(lf.params_[k], rel=5e-4)
    m = ParetoNBDModel()
    m.params_, m._links = {k: float(lf.params_[k]) for k in ("r", "alpha", "s", "beta")}, ()
    x, tx, T = d["frequency"].to_numpy(), d["recency"].to_numpy(), d["T"].to_numpy()
    np.testing.assert_allclose(
        m.conditional_probability_alive(x, tx, T), lf.conditional_probability_alive(x, tx, T), rtol=1e-7
    )
    np.testing.assert_allclose(
        m.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T),
        lf.conditional_expected_number_of_purchases_up_to_time(39, x, tx, T),
        rtol=1e-7,
    )
    t = np.array([1.0, 39.0, 78.0])
    np.testing.assert_allclose(
        m.expected_number_of_purchases_up_to_time(t),
        lf.expected_number_of_purchases_up_to_time(t),
        rtol=1e-10,
    )
    # and the per-customer log-likelihood (lifetimes evaluates the note's hypergeometric form, eq. 18)
    ll_ours = m._loglik(m.params_, {"x": x.astype(float), "t_x": tx, "T": T})[0]
    ll_theirs = ParetoNBDFitter._conditional_log_likelihood(list(lf.params_), x, tx, T)
    np.testing.assert_allclose(ll_ours, ll_theirs, rtol=1e-9)


def _reference_log_integral(r, alpha, s, beta, x, tx, T):
    def f(tau):
        return -(r + x) * np.log(alpha + tau) - (s + 1) * np.log(beta + tau)

    top = f(tx)
    pts = [tx + (T - tx) * q for q in (1e-4, 1e-3, 1e-2, 0.1)]
    val, _ = integrate.quad(
        lambda u: np.exp(f(u) - top), tx, T, epsabs=0, epsrel=1e-13, limit=500, points=pts
    )
    return np.log(val) + top


@pytest.mark.parametrize(
    ("r", "alpha", "s", "beta"),
    [(0.55, 10.58, 0.61, 11.67), (2.0, 100.0, 0.1, 1.0), (0.1, 0.5, 3.0, 50.0), (0.3, 1000.0, 0.3, 0.01)],
)
def test_quadrature_against_adaptive_quad(r, alpha, s, beta):
    # x up to 1000, T up to 10 years in weeks, alpha/beta ratios from 1e-2 to 1e5
    rows = [
        (x, f * T, T) for x in (1, 5, 100, 500, 1000) for T in (1.0, 38.86, 520.0) for f in (0.01, 0.5, 0.99)
    ]
    rows += [(0, 0.0, T) for T in (1.0, 38.86, 520.0)]
    x, tx, T = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    got = _log_integral(r, alpha, s, beta, x, tx, T)[0]
    want = np.array([_reference_log_integral(r, alpha, s, beta, *row) for row in rows])
    np.testing.assert_allclose(got, want, rtol=0, atol=5e-8)


def test_gradient_matches_finite_differences(cdnow_summary):
    d = cdnow_summary
    data = {k: d[c].to_numpy(float).copy() for k, c in (("x", "frequency"), ("t_x", "recency"), ("T", "T"))}
    data["x"][:3], data["t_x"][:3] = [500, 0, 250], [38.0, 0.0, 10.0]
    m = ParetoNBDModel()
    p = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
    _, grad = m._loglik(p, data)
    for k in p:
        h = 1e-6
        up, dn = dict(p), dict(p)
        up[k], dn[k] = p[k] * np.exp(h), p[k] * np.exp(-h)
        fd = (m._loglik(up, data)[0].sum() - m._loglik(dn, data)[0].sum()) / (2 * h)
        assert grad[k].sum() == pytest.approx(fd, rel=1e-6)
