"""Parameter recovery on data drawn from exact simulators of each model.

The data are simulated exactly (continuous time; purchases never merged into periods, unlike lifetimes'
generators), with fixed seeds. Each fit must contain the true parameters in its joint 95% confidence region
(Wald, on the log scale the intervals are built on); and over repeated simulations each parameter's 95%
interval must cover the truth about 95% of the time (test_interval_coverage), which is what makes "the true
value is inside the interval" a property of the method rather than of a lucky seed.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from keepwise.models import (
    BetaGeoBetaBinomModel,
    BetaGeoModel,
    GammaGammaModel,
    ModifiedBetaGeoModel,
    ParetoNBDModel,
    ShiftedBetaGeometricModel,
)
from keepwise.models.simulate import (
    simulate_bgbb,
    simulate_bgnbd,
    simulate_gamma_gamma,
    simulate_mbgnbd,
    simulate_pareto_nbd,
    simulate_sbg,
)

N = 6000
T_COHORTS = np.repeat([26.0, 39.0, 52.0], N // 3)


def _inside(model, truth):
    """The truth lies in the joint 95% Wald region of (log parameters, covariate coefficients)."""
    names = model._theta_names()
    true = np.array([np.log(truth[n]) if j < model._n_base else truth[n] for j, n in enumerate(names)])
    diff = model._theta - true
    stat = float(diff @ np.linalg.solve(model._cov, diff))
    assert stat <= stats.chi2.ppf(0.95, len(names)), (stat, model.summary.to_dict(), truth)


def _covered(model, truth):
    s = model.summary
    return np.array([s.loc[k, "lower"] <= v <= s.loc[k, "upper"] for k, v in truth.items()])


def test_bgnbd_recovers_parameters():
    truth = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    d = simulate_bgnbd(**truth, T=T_COHORTS, n=N, seed=11)
    _inside(BetaGeoModel().fit(d["frequency"], d["recency"], d["T"]), truth)


def test_mbgnbd_recovers_parameters():
    truth = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    d = simulate_mbgnbd(**truth, T=T_COHORTS, n=N, seed=12)
    _inside(ModifiedBetaGeoModel().fit(d["frequency"], d["recency"], d["T"]), truth)


def test_pareto_nbd_recovers_parameters():
    truth = {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 11.7}
    d = simulate_pareto_nbd(**truth, T=T_COHORTS, n=N, seed=13)
    _inside(ParetoNBDModel().fit(d["frequency"], d["recency"], d["T"]), truth)


def test_bgbb_recovers_parameters():
    truth = {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8}
    d = simulate_bgbb(**truth, n_periods=6, n=N, seed=14)
    _inside(BetaGeoBetaBinomModel().fit(d["frequency"], d["recency"], d["n_periods"]), truth)


def test_gamma_gamma_recovers_parameters():
    truth = {"p": 6.25, "q": 3.74, "v": 15.44}
    x = np.random.default_rng(15).poisson(2.0, N)
    d = simulate_gamma_gamma(**truth, frequency=x, seed=16)
    _inside(GammaGammaModel().fit(d["frequency"], d["monetary_value"]), truth)


def test_sbg_recovers_parameters():
    truth = {"alpha": 0.7, "beta": 1.2}
    d = simulate_sbg(**truth, n_periods=8, n=N, seed=17)
    _inside(ShiftedBetaGeometricModel().fit(d["duration"], d["churned"]), truth)


def test_simulators_are_exact_in_aggregate():
    # E[X(t)] of a new BG/NBD customer (FHL 2005, eq. 9) against the simulated mean number of repeat purchases
    truth = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    d = simulate_bgnbd(**truth, T=39.0, n=200_000, seed=18)
    m = BetaGeoModel()
    m.params_, m._links = truth, ()
    expected = m.expected_number_of_purchases_up_to_time(39.0)
    se = d["frequency"].std() / np.sqrt(len(d))
    assert abs(d["frequency"].mean() - expected) < 3 * se
    # Pareto/NBD: E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]
    tp = {"r": 0.55, "alpha": 10.5, "s": 0.6, "beta": 11.7}
    d = simulate_pareto_nbd(**tp, T=39.0, n=200_000, seed=19)
    mp = ParetoNBDModel()
    mp.params_, mp._links = tp, ()
    se = d["frequency"].std() / np.sqrt(len(d))
    assert abs(d["frequency"].mean() - mp.expected_number_of_purchases_up_to_time(39.0)) < 3 * se


def _binary_covariate(n, seed):
    return pd.DataFrame({"web": (np.random.default_rng(seed).random(n) < 0.5).astype(float)})


@pytest.mark.slow
def test_pareto_nbd_covariates_recover_effects():
    # CLVTools' static covariates: alpha_i = alpha0 exp(-g_a z), beta_i = beta0 exp(-g_b z)
    n = 8000
    z = _binary_covariate(n, 20)
    g_a, g_b = 0.7, -0.5
    truth = {"r": 0.8, "alpha": 10.0, "s": 0.9, "beta": 12.0}
    alpha_i = truth["alpha"] * np.exp(-g_a * z["web"].to_numpy())
    beta_i = truth["beta"] * np.exp(-g_b * z["web"].to_numpy())
    d = simulate_pareto_nbd(
        **truth, T=np.repeat([39.0, 52.0], n // 2), n=n, seed=21, alpha_i=alpha_i, beta_i=beta_i
    )
    m = ParetoNBDModel().fit(
        d["frequency"],
        d["recency"],
        d["T"],
        covariates=z,
        covariate_columns={"alpha": ["web"], "beta": ["web"]},
    )
    _inside(m, {**truth, "alpha:web": g_a, "beta:web": g_b})
    assert m.covariate_params_["alpha"]["web"] == pytest.approx(g_a, abs=0.2)
    # predictions use each customer's own parameters
    pa = m.conditional_probability_alive(
        [0, 0], [0, 0], [39, 39], covariates=pd.DataFrame({"web": [0.0, 1.0]})
    )
    assert pa[1] > pa[0]  # web customers live longer (g_b < 0), so a quiet one is more likely alive


def test_bgnbd_covariate_on_purchase_rate():
    n = 6000
    z = _binary_covariate(n, 22)
    g = 0.8
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    alpha_i = truth["alpha"] * np.exp(-g * z["web"].to_numpy())
    d = simulate_bgnbd(**truth, T=T_COHORTS, n=n, seed=23, alpha_i=alpha_i)
    m = BetaGeoModel().fit(
        d["frequency"], d["recency"], d["T"], covariates=z, covariate_columns={"alpha": ["web"]}
    )
    _inside(m, {**truth, "alpha:web": g})
    assert "alpha:web" in m.summary.index


@pytest.mark.parametrize(
    ("fit", "truth"),
    [
        (
            lambda seed: BetaGeoModel().fit(
                *_cols(simulate_bgnbd(0.25, 4.0, 0.8, 2.5, T_COHORTS[::3], 2000, seed))
            ),
            {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5},
        ),
        (
            lambda seed: BetaGeoBetaBinomModel().fit(
                *_cols(simulate_bgbb(1.2, 0.75, 0.66, 2.8, 6, 2000, seed), "n_periods")
            ),
            {"alpha": 1.2, "beta": 0.75, "gamma": 0.66, "delta": 2.8},
        ),
        (
            lambda seed: ShiftedBetaGeometricModel().fit(
                *(lambda d: (d["duration"], d["churned"]))(simulate_sbg(0.7, 1.2, 8, 2000, seed))
            ),
            {"alpha": 0.7, "beta": 1.2},
        ),
    ],
    ids=["bgnbd", "bgbb", "sbg"],
)
@pytest.mark.slow
def test_interval_coverage(fit, truth):
    reps = 40
    hits = sum(_covered(fit(1000 + i), truth) for i in range(reps))
    # binomial(40, 0.95): 34 or more hits with probability 0.99
    assert np.all(hits >= 34), dict(zip(truth, hits, strict=True))


def _cols(d, last="T"):
    return d["frequency"], d["recency"], d[last]
