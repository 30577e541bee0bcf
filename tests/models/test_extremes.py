"""500 purchases, none, and ten years of history: finite, correct, and silent (no warnings)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from keepwise.models import BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel

EXTREME = pd.DataFrame(
    {
        "frequency": [500.0, 0.0, 500.0, 500.0, 1.0],
        "recency": [38.0, 0.0, 519.0, 5.0, 1.0],
        "T": [38.86, 520.0, 520.0, 520.0, 520.0],
    }
)


@pytest.mark.parametrize("model_cls", [BetaGeoModel, ModifiedBetaGeoModel, ParetoNBDModel])
def test_fit_and_score_extremes_without_warnings(model_cls, cdnow_summary):
    d = pd.concat([cdnow_summary[["frequency", "recency", "T"]], EXTREME], ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = model_cls().fit(d["frequency"], d["recency"], d["T"])
        e = EXTREME
        pa = m.conditional_probability_alive(e["frequency"], e["recency"], e["T"])
        ce = m.conditional_expected_number_of_purchases_up_to_time(520, e["frequency"], e["recency"], e["T"])
        nxt = m.expected_time_to_next_purchase(e["frequency"], e["recency"], e["T"])
        ll = m._loglik(
            m.params_,
            {"x": e["frequency"].to_numpy(), "t_x": e["recency"].to_numpy(), "T": e["T"].to_numpy()},
        )[0]
    assert np.all(np.isfinite(m.summary.to_numpy()))
    assert np.all(np.isfinite(ll))  # densities of continuous times: may exceed 1
    assert np.all((pa >= 0) & (pa <= 1)) and np.all(np.isfinite(ce)) and np.all(ce >= 0)
    assert np.all(np.isfinite(nxt[[0, 2, 3]]))
    # 500 purchases with the last at 5 weeks of 520: certainly gone; with the last at 519: surely alive
    assert pa[3] < 1e-12
    assert pa[2] > 0.9
    # someone who buys ~once a week and is alive keeps doing so: about 500 purchases in the next 520 weeks
    assert 300 < ce[2] < 520


def test_bgnbd_conditional_expectation_at_x500_by_direct_integration(cdnow_summary):
    d = cdnow_summary
    m = BetaGeoModel().fit(d["frequency"], d["recency"], d["T"])
    r, alpha, a, b = (m.params_[k] for k in ("r", "alpha", "a", "b"))
    x, tx, T, t = 500.0, 38.0, 38.86, 52.0
    # given alive at T: p ~ Beta(a, b + x), and E[Y(t) | lambda, p] integrates to
    # E_p[(1/p) (1 - ((alpha+T)/(alpha+T+p t))^(r+x))]
    dens = stats.beta(a, b + x).pdf
    alive_mean, _ = integrate.quad(
        lambda p: dens(p) / p * -np.expm1((r + x) * np.log((alpha + T) / (alpha + T + p * t))),
        0,
        1,
        epsabs=0,
        epsrel=1e-11,
        limit=400,
        points=[1e-4, 1e-3, 1e-2, 0.1],
    )
    pa = m.conditional_probability_alive([x], [tx], [T])[0]
    got = m.conditional_expected_number_of_purchases_up_to_time(t, [x], [tx], [T])[0]
    assert got == pytest.approx(pa * alive_mean, rel=1e-8)


def test_bgnbd_expectation_with_huge_a_and_b_is_finite_and_matches_direct_integration():
    """a and b of 10^5-10^6 (one drop-out probability for everyone): Euler's form is 0 x inf there.

    Parameters as fitted by the review on bench/review.py's 100,000-customer store, where every lost
    customer's discounted lifetime value used to come out as 0.00.
    """
    m = BetaGeoModel()
    m.params_ = {"r": 1.4515990582008167, "alpha": 11.211276865783054, "a": 279452.23, "b": 925420.27}
    r, alpha, a, b = (m.params_[k] for k in ("r", "alpha", "a", "b"))
    x, T, t = np.array([0.0, 3.0, 14.0]), np.array([50.0, 67.0, 100.0]), 1040.0
    got = m._alive_expected(m.params_, t, x, T)
    assert np.isfinite(got).all()
    for xi, Ti, g in zip(x, T, got, strict=True):
        dens = stats.beta(a, b + xi).pdf
        mean, _ = integrate.quad(
            lambda p, xi=xi, Ti=Ti, dens=dens: (
                dens(p) / p * -np.expm1((r + xi) * np.log((alpha + Ti) / (alpha + Ti + p * t)))
            ),
            0.2,
            0.26,
            epsabs=0,
            epsrel=1e-10,
            limit=200,
        )  # Beta(a, b + x) with a ~ 2.8e5 puts all its mass within 0.2-0.26 (mean 0.232, sd 0.0004)
        assert g == pytest.approx(mean, rel=1e-5)
    # where Euler's form works it is used unchanged
    m.params_ = {"r": 0.24, "alpha": 4.41, "a": 0.79, "b": 2.43}
    moderate = m._alive_expected(m.params_, 52.0, x, T)
    c = 0.79 + 2.43 + x - 1
    z = 52.0 / (4.41 + T + 52.0)
    from scipy.special import hyp2f1

    assert moderate == pytest.approx(
        c / (0.79 - 1) * (1 - (1 - z) ** (0.79 - 1) * hyp2f1(c - 0.24 - x, 0.79 - 1, c, z))
    )
