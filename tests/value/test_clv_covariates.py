"""CLV from purchase models fitted with covariates: each customer valued with his own parameters.

The simulation is exact Pareto/NBD with two acquisition channels that differ only in
``alpha``: web customers buy e^1 = 2.7 times as often. The truth per customer is the discounted expected
purchases given his simulated rate, lifetime rate and whether he is alive at T (same horizon, same
continuous discounting as the model's DERT).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from keepwise.exceptions import KeepwiseInputError
from keepwise.models import BetaGeoModel, ParetoNBDModel
from keepwise.models.simulate import simulate_bgnbd, simulate_pareto_nbd
from keepwise.value.clv import DAYS_PER_MONTH, customer_lifetime_value, monthly_rate

HORIZON = 12
RATE = 0.1
MONTH = DAYS_PER_MONTH / 7  # weeks


def _two_channels(n: int = 8000, seed: int = 5) -> tuple[pd.DataFrame, np.ndarray]:
    web = np.random.default_rng(seed).random(n) < 0.35
    d = simulate_pareto_nbd(
        r=0.6,
        alpha=8.0,
        s=0.6,
        beta=12.0,
        T=np.repeat([26.0, 39.0, 52.0], n // 3 + 1)[:n],
        n=n,
        seed=seed + 1,
        alpha_i=8.0 * np.exp(-1.0 * web),
    )
    # truth: alive at T x lambda x E[discounted purchases over the horizon | lambda, mu]
    delta = np.log1p(monthly_rate(RATE)) / MONTH
    h = HORIZON * MONTH
    k = delta + d["mu"].to_numpy()
    d["truth"] = d["alive"] * d["lambda"] * -np.expm1(-k * h) / k
    return d, web


@pytest.fixture(scope="module")
def channels() -> dict:
    d, web = _two_channels()
    z = pd.DataFrame({"channel=web": web.astype(float)})
    plain = ParetoNBDModel().fit(d["frequency"], d["recency"], d["T"])
    cov = ParetoNBDModel().fit(
        d["frequency"], d["recency"], d["T"], covariates=z, covariate_columns={"alpha": ["channel=web"]}
    )
    kw = {"horizon_months": HORIZON, "discount_rate": RATE, "time_unit": "week", "spend": 1.0}
    with_cov = customer_lifetime_value(cov, None, d["frequency"], d["recency"], d["T"], covariates=z, **kw)
    without = customer_lifetime_value(plain, None, d["frequency"], d["recency"], d["T"], **kw)
    return {"d": d, "web": web, "z": z, "cov": cov, "with": with_cov, "without": without}


def test_covariate_clv_ranks_the_channels_and_its_group_means_are_closer_to_the_truth(channels):
    d, web = channels["d"], channels["web"]
    assert channels["cov"].covariate_params_["alpha"]["channel=web"] == pytest.approx(1.0, abs=0.15)
    for group in (web, ~web):
        truth = float(d["truth"][group].mean())
        with_cov = float(channels["with"]["clv"][group].mean())
        without = float(channels["without"]["clv"][group].mean())
        # the plain model shrinks every customer toward the pooled prior: web under-, store over-valued
        # (measured: plain 3.44 vs truth 3.63 web, 1.29 vs 1.23 store; covariates 3.59, 1.25)
        assert abs(with_cov - truth) < abs(without - truth)
        assert with_cov == pytest.approx(truth, rel=0.05)  # measured: 0.9% (web), 1.5% (store)
    web_mean = channels["with"]["clv"][web].mean()
    store_mean = channels["with"]["clv"][~web].mean()
    truth_ratio = d["truth"][web].mean() / d["truth"][~web].mean()
    assert web_mean > store_mean
    plain_ratio = channels["without"]["clv"][web].mean() / channels["without"]["clv"][~web].mean()
    assert abs(web_mean / store_mean - truth_ratio) < abs(plain_ratio - truth_ratio)


def test_each_customer_is_valued_with_his_own_parameters(channels):
    # a second computation: a plain model whose alpha is set by hand to alpha_0 e^(-gamma z) of the customer
    cov = channels["cov"]
    gamma = cov.covariate_params_["alpha"]["channel=web"]
    # the same (x, t_x, T) in both channels, and one customer who has not bought again
    x, tx, T = [3.0, 3.0, 0.0], [20.0, 20.0, 0.0], [40.0, 40.0, 30.0]
    z = pd.DataFrame({"channel=web": [1.0, 0.0, 1.0]})
    got = customer_lifetime_value(
        cov, None, x, tx, T, covariates=z, spend=25.0, margin=0.3, horizon_months=HORIZON, discount_rate=RATE
    )
    for i in range(3):
        hand = ParetoNBDModel()
        hand.params_ = {**cov.params_, "alpha": cov.params_["alpha"] * np.exp(-gamma * z.iloc[i, 0])}
        hand._links = ()
        one = customer_lifetime_value(
            hand,
            None,
            [x[i]],
            [tx[i]],
            [T[i]],
            spend=25.0,
            margin=0.3,
            horizon_months=HORIZON,
            discount_rate=RATE,
        )
        assert got["clv"].iloc[i] == pytest.approx(one["clv"].iloc[0], rel=1e-12)
        assert got["p_alive"].iloc[i] == pytest.approx(one["p_alive"].iloc[0], rel=1e-12)
    assert got["clv"].iloc[0] > got["clv"].iloc[1]  # web buys more at the same history


def test_bgnbd_covariates_on_a_and_b_enter_with_a_positive_sign():
    d = simulate_bgnbd(r=0.5, alpha=6.0, a=0.8, b=2.5, T=np.repeat([26.0, 52.0], 1500), n=3000, seed=8)
    seg = (np.random.default_rng(9).random(3000) < 0.5).astype(float)
    z = pd.DataFrame({"seg": seg})
    m = BetaGeoModel().fit(
        d["frequency"], d["recency"], d["T"], covariates=z, covariate_columns={"a": ["seg"], "b": ["seg"]}
    )
    g = m.covariate_params_
    got = customer_lifetime_value(
        m, None, [2.0, 2.0], [10.0, 10.0], [30.0, 30.0], spend=1.0, covariates=z[:2]
    )
    for i in range(2):
        hand = BetaGeoModel()
        e = seg[i]
        hand.params_ = {
            **m.params_,
            "a": m.params_["a"] * np.exp(g["a"]["seg"] * e),
            "b": m.params_["b"] * np.exp(g["b"]["seg"] * e),
        }
        hand._links = ()
        one = customer_lifetime_value(hand, None, [2.0], [10.0], [30.0], spend=1.0)
        assert got["clv"].iloc[i] == pytest.approx(one["clv"].iloc[0], rel=1e-12)


def test_a_covariate_without_effect_leaves_the_clv_of_the_plain_model():
    # every customer twice, once per channel: the channel explains nothing and its estimated effect is 0
    d = simulate_bgnbd(r=0.5, alpha=6.0, a=0.8, b=2.5, T=np.repeat([26.0, 39.0, 52.0], 1000), n=3000, seed=3)
    both = pd.concat([d, d], ignore_index=True)
    z = pd.DataFrame({"channel=web": np.repeat([0.0, 1.0], len(d))})
    cov = BetaGeoModel().fit(
        both["frequency"],
        both["recency"],
        both["T"],
        covariates=z,
        covariate_columns={p: ["channel=web"] for p in ("alpha", "a", "b")},
    )
    plain = BetaGeoModel().fit(d["frequency"], d["recency"], d["T"])
    for coef in cov.covariate_params_.values():
        assert abs(coef["channel=web"]) < 1e-4
    kw = {"spend": 30.0, "margin": 0.4, "horizon_months": 24, "discount_rate": 0.1}
    with_cov = customer_lifetime_value(
        cov, None, both["frequency"], both["recency"], both["T"], covariates=z, **kw
    )
    without = customer_lifetime_value(plain, None, both["frequency"], both["recency"], both["T"], **kw)
    np.testing.assert_allclose(with_cov["clv"], without["clv"], rtol=1e-3)
    np.testing.assert_allclose(with_cov["p_alive"], without["p_alive"], rtol=1e-3)


def test_intervals_draw_the_coefficients_too(channels):
    d, z = channels["d"], channels["z"]
    rows = slice(0, 400)
    got = customer_lifetime_value(
        channels["cov"],
        None,
        d["frequency"][rows],
        d["recency"][rows],
        d["T"][rows],
        covariates=z[rows],
        spend=1.0,
        n_draws=200,
    )
    assert (got["clv_lower"] <= got["clv"] + 1e-12).all() and (got["clv"] <= got["clv_upper"] + 1e-12).all()
    assert (got["clv_upper"] > got["clv_lower"]).all()


def test_a_model_with_covariates_needs_them_to_score(channels):
    d = channels["d"]
    with pytest.raises(KeepwiseInputError, match="channel=web"):
        customer_lifetime_value(channels["cov"], None, d["frequency"], d["recency"], d["T"], spend=1.0)
    with pytest.raises(KeepwiseInputError, match="channel=web"):
        customer_lifetime_value(
            channels["cov"],
            None,
            d["frequency"],
            d["recency"],
            d["T"],
            spend=1.0,
            covariates=pd.DataFrame({"x": [1]}),
        )
