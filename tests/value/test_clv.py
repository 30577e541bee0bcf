"""CLV: discounted expected purchases x expected spend, against lifetimes and by hand."""

from __future__ import annotations

import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keepwise.exceptions import KeepwiseInputError
from keepwise.models import BetaGeoModel, GammaGammaModel, ParetoNBDModel
from keepwise.value.clv import customer_lifetime_value, discounted_expected_purchases, monthly_rate


@pytest.fixture(scope="module")
def cdnow():
    """The CDNOW sample with zbar: the package copy if bundled, else the shared reference data."""
    name = "cdnow_customers_summary_with_transactions.csv"
    packaged = Path(str(resources.files("keepwise.datasets") / "data" / name))
    return pd.read_csv(packaged if packaged.is_file() else Path("/work/shared/data/cdnow") / name)


@pytest.fixture(scope="module")
def models(cdnow):
    d = cdnow
    bg = BetaGeoModel().fit(d["x"], d["t_x"], d["T"])
    gg = GammaGammaModel().fit(d["x"], d["zbar"])
    return bg, gg


def test_matches_lifetimes_customer_lifetime_value(cdnow, models):
    bg, gg = models
    d = cdnow
    np.random.seed(0)  # noqa: NPY002  (lifetimes starts its optimiser from the global generator)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from lifetimes import BetaGeoFitter, GammaGammaFitter

        lbg = BetaGeoFitter().fit(d["x"], d["t_x"], d["T"])
        lgg = GammaGammaFitter().fit(d["x"][d["x"] > 0], d["zbar"][d["x"] > 0])
        # lifetimes: 12 months of 4.345 weeks, 1% a month
        theirs = lgg.customer_lifetime_value(
            lbg, d["x"], d["t_x"], d["T"], d["zbar"], time=12, discount_rate=0.01, freq="W"
        )
    bg.params_ = {k: float(lbg.params_[k]) for k in ("r", "alpha", "a", "b")}
    gg.params_ = {k: float(lgg.params_[k]) for k in ("p", "q", "v")}
    ours = customer_lifetime_value(
        bg,
        gg,
        d["x"],
        d["t_x"],
        d["T"],
        d["zbar"],
        horizon_months=12,
        discount_rate=1.01**12 - 1,
        month_length=4.345,
    )
    np.testing.assert_allclose(ours["clv"], theirs.to_numpy(), rtol=1e-6)


def test_clv_by_hand_without_discounting(cdnow, models):
    bg, gg = models
    d = cdnow.iloc[:50]
    out = customer_lifetime_value(
        bg, gg, d["x"], d["t_x"], d["T"], d["zbar"], horizon_months=12, discount_rate=0.0, margin=0.3
    )
    year = 12 * (365.25 / 12) / 7
    purchases = bg.conditional_expected_number_of_purchases_up_to_time(year, d["x"], d["t_x"], d["T"])
    spend = gg.conditional_expected_average_profit(d["x"], d["zbar"])
    np.testing.assert_allclose(out["clv"], 0.3 * purchases * spend, rtol=1e-10)
    np.testing.assert_allclose(out["expected_purchases"], purchases, rtol=1e-12)
    # discounting only lowers it, and by less than a year's discount
    disc = customer_lifetime_value(
        bg, gg, d["x"], d["t_x"], d["T"], d["zbar"], horizon_months=12, discount_rate=0.1, margin=0.3
    )
    assert np.all(disc["clv"] <= out["clv"]) and np.all(disc["clv"] >= out["clv"] / 1.1 - 1e-12)


def test_monthly_rate_compounds_to_the_annual_rate():
    assert (1 + monthly_rate(0.1)) ** 12 == pytest.approx(1.1)
    with pytest.raises(KeepwiseInputError, match="discount rate must be a number above -1"):
        monthly_rate(-2)


def test_intervals_from_parameter_draws(cdnow, models):
    bg, gg = models
    d = cdnow.iloc[:200]
    out = customer_lifetime_value(
        bg, gg, d["x"], d["t_x"], d["T"], d["zbar"], horizon_months=12, discount_rate=0.1, n_draws=200, seed=1
    )
    assert np.all(out["clv_lower"] < out["clv"]) and np.all(out["clv"] < out["clv_upper"])
    # the parameter uncertainty of 2,357 customers is a few percent of a typical CLV, not orders of magnitude
    rel = (out["clv_upper"] - out["clv_lower"]) / out["clv"]
    assert 0.02 < rel.median() < 1.0
    again = customer_lifetime_value(
        bg, gg, d["x"], d["t_x"], d["T"], d["zbar"], horizon_months=12, discount_rate=0.1, n_draws=200, seed=1
    )
    np.testing.assert_array_equal(out["clv_lower"], again["clv_lower"])  # seeded


def test_pareto_nbd_clv_and_flat_spend(cdnow):
    d = cdnow
    pn = ParetoNBDModel().fit(d["x"], d["t_x"], d["T"])
    dp = discounted_expected_purchases(pn, d["x"], d["t_x"], d["T"], 6, 0.0)
    out = customer_lifetime_value(
        pn, None, d["x"], d["t_x"], d["T"], spend=20.0, horizon_months=6, discount_rate=0.0
    )
    np.testing.assert_allclose(out["clv"], 20.0 * dp)
    with pytest.raises(KeepwiseInputError, match="horizon must be a whole number of months"):
        customer_lifetime_value(pn, None, d["x"], d["t_x"], d["T"], spend=1.0, horizon_months=0)


@pytest.fixture(scope="module")
def pareto(cdnow):
    d = cdnow
    return ParetoNBDModel().fit(d["x"], d["t_x"], d["T"])


@pytest.mark.parametrize("horizon", [52.0, np.inf])
def test_pareto_dert_against_numerical_integration(pareto, horizon):
    # DERT = integral of e^(-delta t) dE[Y(t)]
    #      = e^(-delta H) E[Y(H)] + delta * integral_0^H e^(-delta t) E[Y(t)] dt (by parts), with
    # E[Y(t)] = P(alive) E[Y(t) | alive] from the model's conditional expectation (closed form without U)
    from scipy import integrate

    x = np.array([0.0, 2, 10, 500, 1, 0])
    tx = np.array([0.0, 30.43, 35, 519, 1, 0])
    T = np.array([38.86, 38.86, 38.86, 520, 520, 520])
    delta = np.log(1.15) / 52.18  # 15% a year, compounded continuously, per week
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = pareto.discounted_expected_residual_purchases(delta, x, tx, T, horizon=horizon)
    alive = pareto.conditional_probability_alive(x, tx, T)
    p = pareto.params_
    for i in range(len(x)):

        def ey(t, i=i):
            return alive[i] * pareto._alive_expected(p, t, x[i], T[i])

        want = (
            delta
            * integrate.quad(lambda t: np.exp(-delta * t) * ey(t), 0, horizon, epsrel=1e-11, limit=500)[0]
        )
        if np.isfinite(horizon):
            want += np.exp(-delta * horizon) * ey(horizon)
        assert got[i] == pytest.approx(want, rel=1e-8), i
    # someone buying weekly for ten years and still active is worth hundreds of discounted purchases
    assert got[3] > 40


def test_pareto_clv_uses_dert_close_to_the_monthly_sum(cdnow, pareto):
    d = cdnow
    kw = {"spend": 30.0, "horizon_months": 24, "discount_rate": 0.2}
    dert = customer_lifetime_value(pareto, None, d["x"], d["t_x"], d["T"], **kw)
    monthly = customer_lifetime_value(pareto, None, d["x"], d["t_x"], d["T"], method="monthly", **kw)
    # the same purchases, discounted at the same annual rate: mid-month instead of month-end timing, so
    # DERT is higher, by less than one month's discount
    ratio = dert["clv"] / monthly["clv"]
    one_month = 1.2 ** (1 / 12)
    assert np.all(ratio > 1) and np.all(ratio < one_month)
    assert ratio.mean() == pytest.approx(one_month**0.5, rel=2e-3)
    bg = BetaGeoModel().fit(d["x"], d["t_x"], d["T"])
    with pytest.raises(KeepwiseInputError, match="no closed-form DERT"):
        customer_lifetime_value(bg, None, d["x"], d["t_x"], d["T"], method="dert", **kw)
