"""Every model's analytic gradient against central finite differences of its log-likelihood."""

from __future__ import annotations

import numpy as np
import pytest

from keepwise.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeometricModel,
)

RNG = np.random.default_rng(5)
X = np.array([0, 1, 2, 5, 40, 500, 0, 3], dtype=float)
T = np.array([38.86, 38.86, 20.0, 52.0, 52.0, 520.0, 520.0, 10.0])
TX = np.where(X > 0, T * np.array([0, 0.1, 0.9, 0.5, 0.99, 0.2, 0, 1.0]), 0.0)

CASES = [
    (BetaGeoModel(), {"r": 0.24, "alpha": 4.4, "a": 0.79, "b": 2.4}, {"x": X, "t_x": TX, "T": T}),
    (ModifiedBetaGeoModel(), {"r": 0.5, "alpha": 6.2, "a": 0.9, "b": 1.6}, {"x": X, "t_x": TX, "T": T}),
    (ParetoNBDModel(), {"r": 0.55, "alpha": 10.6, "s": 0.61, "beta": 11.7}, {"x": X, "t_x": TX, "T": T}),
    (
        BetaGeoBetaBinomModel(),
        {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8},
        {
            "x": np.array([0.0, 1, 3, 6, 2]),
            "t_x": np.array([0.0, 1, 5, 6, 2]),
            "T": np.array([6.0, 6, 6, 6, 4]),
        },
    ),
    (
        GammaGammaModel(),
        {"p": 6.25, "q": 3.74, "v": 15.44},
        {"x": np.array([1.0, 2, 10, 200]), "z": np.array([10.0, 35.5, 20.0, 50.0])},
    ),
    (
        ShiftedBetaGeometricModel(),
        {"alpha": 0.7, "beta": 1.2},
        {"t": np.array([1.0, 2, 7, 7, 30]), "churned": np.array([1.0, 1, 1, 0, 0])},
    ),
]


@pytest.mark.parametrize(
    ("model", "params", "data"), CASES, ids=lambda v: type(v).__name__ if hasattr(v, "fit") else ""
)
def test_analytic_gradient_matches_finite_differences(model, params, data):
    _, grad = model._loglik(params, dict(data))
    for name in params:
        h = 1e-6
        up, dn = dict(params), dict(params)
        up[name], dn[name] = params[name] * np.exp(h), params[name] * np.exp(-h)
        fd = (model._loglik(up, dict(data))[0] - model._loglik(dn, dict(data))[0]) / (2 * h)
        np.testing.assert_allclose(
            np.broadcast_to(grad[name], fd.shape), fd, rtol=1e-5, atol=1e-7, err_msg=name
        )
