"""The regrouped likelihood sums and the pair decomposition of Pareto/NBD's integral against the plain forms.

``_weighted_loglik`` (what the optimiser calls) evaluates the same formulas as ``_loglik`` (what scoring and
the gradient tests use) with the x- and T-only terms computed once per distinct value; Pareto/NBD's integral
``I = J(t_x) - J(T)`` is computed once per distinct ``(x, t)`` pair. A slip in either regrouping shows here.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

from keepwise.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel
from keepwise.models.base import BaseModel
from keepwise.models.data import compress_rft
from keepwise.models.pareto_nbd import _log_integral, _log_integral_pairs, _log_tail
from keepwise.models.simulate import simulate_pareto_nbd


def _data() -> tuple[dict[str, np.ndarray], np.ndarray]:
    d = simulate_pareto_nbd(0.55, 10.58, 0.61, 11.67, T=np.linspace(1, 78, 3000), n=3000, seed=3)
    x = np.r_[d["frequency"].to_numpy(), 500, 0, 500, 3, 2, 0]
    tx = np.r_[np.floor(d["recency"].to_numpy() * 7) / 7, 38, 0, 5, 10, 4, 0]
    T = np.r_[d["T"].to_numpy(), 38.86, 520, 520, 10, 4, 0.5]
    data, w, _ = compress_rft(x, tx, T)
    return data, w


@pytest.mark.parametrize(
    ("model", "params"),
    [
        (BetaGeoModel(), {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}),
        (ModifiedBetaGeoModel(), {"r": 0.5, "alpha": 6.2, "a": 0.9, "b": 1.6}),
        (ParetoNBDModel(), {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}),
        (ParetoNBDModel(), {"r": 2.0, "alpha": 100.0, "s": 0.1, "beta": 1.0}),
    ],
    ids=["bgnbd", "mbgnbd", "pareto", "pareto-alpha>beta"],
)
def test_weighted_sums_equal_the_sums_of_the_per_row_likelihood(model, params):
    data, w = _data()
    value, grad = model._weighted_loglik(params, dict(data), w)
    ll, g = model._loglik(params, dict(data))
    assert value == pytest.approx(float(np.sum(w * ll)), rel=1e-12)
    for k in params:
        assert grad[k] == pytest.approx(float(np.sum(w * g[k])), rel=1e-9, abs=1e-9), k
    # the default (BaseModel) implementation is the plain sum
    v0, _ = BaseModel._weighted_loglik(model, params, dict(data), w)
    assert v0 == pytest.approx(value, rel=1e-12)
    # the cached index sums are rebuilt when the same data come with other weights
    same = dict(data)
    model._weighted_loglik(params, same, w)
    other = np.arange(len(w)) % 3 + 1.0
    assert model._weighted_loglik(params, same, other)[0] == pytest.approx(
        BaseModel._weighted_loglik(model, params, same, other)[0], rel=1e-12
    )


def test_pair_decomposition_agrees_with_the_direct_quadrature():
    data, _ = _data()
    x, tx, T = data["x"], data["t_x"], data["T"]
    for p in [(0.55, 10.58, 0.61, 11.67), (0.1, 0.5, 3.0, 50.0), (0.3, 1000.0, 0.3, 0.01)]:
        direct = _log_integral(*p, x, tx, T)
        pairs = _log_integral_pairs(*p, x, tx, T)
        finite = np.isfinite(direct[0])
        assert np.array_equal(finite, np.isfinite(pairs[0]))  # I = 0 exactly where t_x = T
        np.testing.assert_allclose(pairs[0][finite], direct[0][finite], rtol=0, atol=5e-8)
        for k in range(1, 5):
            np.testing.assert_allclose(pairs[k][finite], direct[k][finite], rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(
    ("r", "alpha", "s", "beta"),
    [(0.55, 10.58, 0.61, 11.67), (2.0, 100.0, 0.1, 1.0), (0.1, 0.5, 3.0, 50.0), (0.3, 1000.0, 0.3, 0.01)],
)
def test_tail_integral_against_adaptive_quad(r, alpha, s, beta):
    # J(t) = integral from t to infinity of (alpha + tau)^-(r+x) (beta + tau)^-(s+1); substituting
    # tau = t + v / (1 - v) maps it to (0, 1), where quad integrates it to 1e-13
    rows = [(x, t) for x in (0, 1, 5, 100, 1000) for t in (0.0, 1.0, 38.86, 520.0)]
    x, t = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    got = _log_tail(r, alpha, s, beta, x, t)[0]
    for xi, ti, gi in zip(x, t, got, strict=True):

        def f(tau, xi=xi):
            return -(r + xi) * np.log(alpha + tau) - (s + 1) * np.log(beta + tau)

        top = f(ti)
        val, _ = integrate.quad(
            lambda v, ti=ti, top=top, f=f: np.exp(f(ti + v / (1 - v)) - top) / (1 - v) ** 2,
            0,
            1,
            epsabs=0,
            epsrel=1e-11,
            limit=500,
            points=[1e-6, 1e-4, 1e-2, 0.1, 0.5],
        )
        assert gi == pytest.approx(np.log(val) + top, abs=5e-8), (xi, ti)


def test_warm_started_fit_equals_the_cold_fit():
    # more than 20,000 distinct tuples: the fit starts from a fit to 4,000 sampled customers
    rng = np.random.default_rng(7)
    n = 60_000
    T = (546 - rng.integers(0, 364, n)) / 7
    d = simulate_pareto_nbd(0.55, 10.58, 0.61, 11.67, T=T, n=n, seed=8)
    x, tx = d["frequency"].to_numpy(), np.floor(d["recency"].to_numpy() * 7) / 7
    _, w, _ = compress_rft(x, tx, T)
    assert len(w) > 20_000
    warm = ParetoNBDModel().fit(x, tx, T)
    cold = ParetoNBDModel().fit(x, tx, T, initial_params={"r": 1.0, "alpha": 10.0, "s": 1.0, "beta": 40.0})
    assert warm.log_likelihood_ == pytest.approx(cold.log_likelihood_, rel=1e-10)
    for k in warm.params_:
        assert warm.params_[k] == pytest.approx(cold.params_[k], rel=1e-4)


@pytest.mark.parametrize("model_cls", [BetaGeoModel, ParetoNBDModel])
def test_forward_difference_hessian_gives_the_central_difference_standard_errors(model_cls, cdnow_summary):
    # fits use forward differences from the optimiser's gradient (k evaluations instead of 2k)
    d = cdnow_summary
    m = model_cls().fit(d["frequency"], d["recency"], d["T"])
    data, w, _ = compress_rft(*(d[c].to_numpy(float) for c in ("frequency", "recency", "T")))
    args = (data, w, None, (), float(w.sum()))
    central = np.linalg.inv(m._hessian(m._theta, args) * w.sum())
    np.testing.assert_allclose(np.diag(m._cov), np.diag(central), rtol=1e-4)


@pytest.mark.parametrize("model_cls", [BetaGeoModel, ParetoNBDModel])
def test_the_estimates_do_not_depend_on_the_order_of_the_rows(model_cls, cdnow_summary):
    # the same tuples from another engine come in another order; a Newton step after BFGS makes the
    # estimates agree far below BFGS's own tolerance (they differed by ~1e-7 without it)
    h = cdnow_summary.groupby(["frequency", "recency", "T"]).size().reset_index(name="count")
    a = model_cls().fit(h["frequency"], h["recency"], h["T"], weights=h["count"])
    for seed in range(3):
        hp = h.iloc[np.random.default_rng(seed).permutation(len(h))]
        b = model_cls().fit(hp["frequency"], hp["recency"], hp["T"], weights=hp["count"])
        assert b.params_ == pytest.approx(a.params_, rel=1e-10)
        assert b.log_likelihood_ == pytest.approx(a.log_likelihood_, rel=1e-12)


def _groupby_compress(x, tx, T):
    """The plain reference: a three-column pandas group-by in order of first appearance."""
    import pandas as pd

    frame = pd.DataFrame({"x": x, "t_x": tx, "T": T})
    inverse = frame.groupby(["x", "t_x", "T"], sort=False).ngroup().to_numpy()
    first = frame.drop_duplicates().to_numpy()
    return first, np.bincount(inverse).astype(float), inverse


@pytest.mark.parametrize("case", ["simulated", "fractional-x", "large-x", "one-row"])
def test_keyed_compression_equals_the_group_by(case):
    data, _ = _data()
    x, tx, T = data["x"], data["t_x"], data["T"]
    x, tx, T = np.repeat(x, 3)[::2], np.repeat(tx, 3)[::2], np.repeat(T, 3)[::2]  # repeated tuples
    if case == "fractional-x":  # not whole numbers: coded by a hash instead of by value
        x = x + 0.5
    elif case == "large-x":
        x = x + (1 << 21)
    elif case == "one-row":
        x, tx, T = x[:1], tx[:1], T[:1]
    got, w, _, inverse = compress_rft(x, tx, T, return_inverse=True)
    first, counts, ref_inverse = _groupby_compress(x, tx, T)
    np.testing.assert_array_equal(np.column_stack([got["x"], got["t_x"], got["T"]]), first)
    np.testing.assert_array_equal(w, counts)
    np.testing.assert_array_equal(inverse, ref_inverse)
    # the codes left for the likelihoods point at each tuple's values
    ux, ix, uT, iT, utx, itx = got["_codes"]
    np.testing.assert_array_equal(ux[ix], got["x"])
    np.testing.assert_array_equal(uT[iT], got["T"])
    np.testing.assert_array_equal(utx[itx], got["t_x"])
    assert len(np.unique(ux)) == len(ux) == len(np.unique(got["x"]))


def test_bgnbd_fit_is_the_same_with_and_without_the_compression_codes():
    data, w = _data()
    with_codes = BetaGeoModel()._fit(dict(data), w)
    plain = BetaGeoModel()._fit({k: v for k, v in data.items() if not k.startswith("_")}, w)
    for k, v in plain.params_.items():
        assert with_codes.params_[k] == pytest.approx(v, rel=1e-10)
    assert with_codes.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-12)
