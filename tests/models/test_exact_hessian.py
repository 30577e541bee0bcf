"""BG/NBD's analytic Hessian (used for the standard errors and the final Newton step) against differences.

``_weighted_hessian`` is checked against central differences of the analytic gradient (the Hessian the fit
used before), on the same awkward data as ``test_fast_paths.py`` (frequencies of 500, customers observed for
half a week), at the estimates and away from them; a slip in one of its terms shows as a relative error far
above the differences' own (~1e-8).
"""

from __future__ import annotations

import numpy as np
import pytest

from keepwise.models import BetaGeoModel, ModifiedBetaGeoModel
from keepwise.models.data import compress_rft
from keepwise.models.simulate import simulate_bgnbd


def _data() -> tuple[dict[str, np.ndarray], np.ndarray]:
    d = simulate_bgnbd(0.243, 4.414, 0.793, 2.426, T=np.linspace(1, 78, 4000), n=4000, seed=11)
    x = np.r_[d["frequency"].to_numpy(), 500, 0, 500, 3, 2, 0, 1]
    tx = np.r_[np.floor(d["recency"].to_numpy() * 7) / 7, 38, 0, 5, 10, 4, 0, 0]
    T = np.r_[d["T"].to_numpy(), 38.86, 520, 520, 10, 4, 0.5, 0.5]
    data, w, _ = compress_rft(x, tx, T)
    return data, w


def _central(model, theta, d, w):
    """Central differences of the analytic gradient of the weighted log-likelihood (log-parameters)."""
    names = model._param_names

    def grad(th):
        p = dict(zip(names, np.exp(th), strict=True))
        with np.errstate(all="ignore"):
            return np.array([model._weighted_loglik(p, d, w)[1][k] for k in names])

    h = np.empty((4, 4))
    for j in range(4):
        e = np.zeros(4)
        e[j] = 1e-5 * max(1.0, abs(theta[j]))
        h[:, j] = (grad(theta + e) - grad(theta - e)) / (2 * e[j])
    return 0.5 * (h + h.T)


@pytest.mark.parametrize("model", [BetaGeoModel(), ModifiedBetaGeoModel()], ids=["bgnbd", "mbgnbd"])
@pytest.mark.parametrize("shift", [0.0, 0.3], ids=["at-estimates", "away"])
def test_exact_hessian_equals_central_differences_of_the_gradient(model, shift):
    data, w = _data()
    fitted = type(model)().fit(data["x"], data["t_x"], data["T"], weights=w)
    theta = np.log([fitted.params_[k] for k in model._param_names]) + shift * np.array([1.0, -1.0, 0.5, 0.7])
    p = dict(zip(model._param_names, np.exp(theta), strict=True))
    d = dict(data)
    exact = model._weighted_hessian(p, d, w)
    numeric = _central(model, theta, d, w)
    assert np.allclose(exact, exact.T)
    assert np.max(np.abs(exact - numeric)) / np.max(np.abs(numeric)) < 1e-6


def test_standard_errors_come_from_the_exact_hessian():
    """The fit's covariance is the inverse of the exact Hessian at the estimates (not an approximation)."""
    data, w = _data()
    m = BetaGeoModel().fit(data["x"], data["t_x"], data["T"], weights=w)
    p = dict(m.params_)
    exact = -m._weighted_hessian(p, dict(data), w)
    cov = np.linalg.inv(exact)  # at the estimates; the fit's is at BFGS's stopping point, ~1e-8 away
    assert np.max(np.abs(cov - m._cov)) < 1e-6 * np.max(np.abs(cov))
