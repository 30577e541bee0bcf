"""Customer lifetime value over a horizon: discounted expected residual purchases x expected margin.

For a purchase model (BG/NBD, MBG/NBD or Pareto/NBD) and the Gamma-Gamma spend model::

    CLV_i = margin * E[spend_i] * sum_{m=1}^{M} (E[Y_i(m mu)] - E[Y_i((m - 1) mu)]) / (1 + d_month)^m

where ``E[Y_i(t)]`` is the expected number of purchases in the next ``t`` given the customer's history
(``conditional_expected_number_of_purchases_up_to_time``), ``mu`` is one month (365.25 / 12 days) in the
model's time unit, ``M`` the horizon in months and ``d_month = (1 + d_year)^(1/12) - 1`` the monthly rate
equivalent to the annual discount rate. This is the discrete monthly-sum approximation that lifetimes'
``customer_lifetime_value`` uses (purchases in month ``m`` discounted as if paid at its end).

For Pareto/NBD the default is instead the closed form of Fader, Hardie and Lee (2005): discounted expected
residual transactions (DERT), each purchase discounted continuously at ``delta = log(1 + d_month) / mu``
per time unit (the same annual rate), truncated at the horizon
(``ParetoNBDModel._alive_discounted``; tests/value/test_clv.py checks it against numerical integration of
the conditional expectation). It differs from the monthly sum only by the within-month timing (a purchase
mid-month is discounted for half a month, not a whole one). ``method="monthly"`` keeps the sum.

Intervals reflect parameter uncertainty: parameter sets are drawn from the normal approximation of each
fitted model (log-parameters, covariance from the Hessian), CLV is recomputed for each draw, and the
interval is the draws' quantiles. They do not include the purchase-to-purchase randomness of one customer.

References
----------
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis. Journal of Marketing Research 42(4), 415-430.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from keepwise.config import ClvAssumptions
from keepwise.exceptions import KeepwiseInputError
from keepwise.models.base import check_rft
from keepwise.models.data import compress_rft, days_per_unit
from keepwise.models.gamma_gamma import GammaGammaModel
from keepwise.models.purchase import PurchaseModel

__all__ = [
    "DAYS_PER_MONTH",
    "customer_lifetime_value",
    "discounted_expected_purchases",
    "monthly_rate",
    "uses_dert",
]

DAYS_PER_MONTH = 365.25 / 12


def monthly_rate(annual_discount_rate: float) -> float:
    """The monthly rate equivalent to an annual one: ``(1 + d)^(1/12) - 1``."""
    if not np.isfinite(annual_discount_rate) or annual_discount_rate <= -1:
        raise KeepwiseInputError("the discount rate must be a number above -1 (e.g. 0.1 for 10% a year)")
    return float((1 + annual_discount_rate) ** (1 / 12) - 1)


def uses_dert(model: Any, method: str = "auto") -> bool:
    """Whether CLV discounts continuously with the model's closed form (DERT) rather than month by month."""
    if method not in ("auto", "dert", "monthly"):
        raise KeepwiseInputError(f"the discounting method must be auto, dert or monthly, not {method!r}")
    has = hasattr(model, "_alive_discounted")
    if method == "dert" and not has:
        raise KeepwiseInputError(
            f"{type(model).__name__} has no closed-form DERT; use the monthly sum (method='monthly')"
        )
    return has and method != "monthly"


def _discounted_purchases(
    model: Any,
    params: dict[str, Any],
    x: Any,
    tx: Any,
    T: Any,
    months: int,
    month: float,
    d: float,
    continuous: bool = False,
) -> np.ndarray:
    if continuous:
        # the same horizon and the same annual rate, compounded continuously: e^(delta month) = 1 + d
        delta = float(np.log1p(d)) / month
        alive = model._alive_discounted(params, delta, months * month, x, T)
        return np.asarray(model._p_alive(params, x, tx, T) * alive)
    total = np.zeros(len(x))
    prev = np.zeros(len(x))
    if type(model)._conditional_expected is PurchaseModel._conditional_expected:
        # P(alive) x E[purchases | alive]: the first factor does not depend on the month: computed once
        # (the products are the same numbers as the model's own, month by month)
        alive = model._p_alive(params, x, tx, T)
        for m in range(1, months + 1):
            cum = alive * model._alive_expected(params, m * month, x, T)
            total += (cum - prev) / (1 + d) ** m
            prev = cum
        return total
    for m in range(1, months + 1):
        cum = model._conditional_expected(params, x, tx, T, t=m * month)
        total += (cum - prev) / (1 + d) ** m
        prev = cum
    return total


def _unique_rows(
    model: Any, x: np.ndarray, tx: np.ndarray, t: np.ndarray, covariates: Any
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray] | None, dict[str, Any], np.ndarray]:
    """Unique ``(x, t_x, T[, covariates])`` rows, their parameters and each customer's row.

    The parameters are per row when the model has covariates.
    """
    cov = _covariate_arrays(model, covariates, len(x))
    data, _, cov_u, inverse = compress_rft(x, tx, t, None, cov, return_inverse=True)
    params = model._params_for(cov_u, len(data["x"])) if cov else dict(model.params_)
    return data, cov_u, params, inverse.reshape(-1)


def _covariate_arrays(model: Any, covariates: Any, n: int) -> dict[str, np.ndarray] | None:
    """The columns the model's covariates use, as float arrays of length ``n`` (None without covariates)."""
    links = getattr(model, "_links", ())
    if not links:
        return None
    if covariates is None:
        model._params_for(None, n)  # raises the error naming the columns
    names = list(dict.fromkeys(c for lk in links for c in lk.columns))
    missing = [c for c in names if c not in covariates]
    if missing:
        raise KeepwiseInputError(f"covariates lack column(s) {', '.join(missing)} the model was fitted with")
    out = {c: np.asarray(covariates[c], dtype=float).reshape(-1) for c in names}
    if any(v.shape != (n,) for v in out.values()):
        raise KeepwiseInputError("covariates must have one row per customer")
    return out


def discounted_expected_purchases(
    model: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    horizon_months: int,
    discount_rate: float,
    time_unit: str | float = "week",
    method: str = "auto",
    covariates: pd.DataFrame | None = None,
) -> np.ndarray:
    """Discounted expected purchases over the next ``horizon_months`` months (annual ``discount_rate``).

    ``method``: ``"dert"`` discounts continuously with the model's closed form (Pareto/NBD), ``"monthly"``
    sums month by month, ``"auto"`` (default) uses the closed form where the model has one.
    ``covariates``: per customer, the model's covariate columns when it was fitted with covariates.
    """
    x, tx, t = check_rft(frequency, recency, T)
    month = DAYS_PER_MONTH / days_per_unit(time_unit)
    data, _, params, inverse = _unique_rows(model, x, tx, t, covariates)
    out = _discounted_purchases(
        model,
        params,
        data["x"],
        data["t_x"],
        data["T"],
        horizon_months,
        month,
        monthly_rate(discount_rate),
        uses_dert(model, method),
    )
    return np.asarray(out[inverse.reshape(-1)])


def customer_lifetime_value(
    purchase_model: Any,
    spend_model: GammaGammaModel | None,
    frequency: Any,
    recency: Any,
    T: Any,
    monetary_value: Any = None,
    *,
    horizon_months: int = ClvAssumptions.horizon_months,
    discount_rate: float = ClvAssumptions.discount_rate,
    time_unit: str | float = "week",
    margin: float = 1.0,
    spend: Any = None,
    n_draws: int = 0,
    interval: float = 0.95,
    seed: int = 0,
    month_length: float | None = None,
    method: str = "auto",
    covariates: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """CLV per customer over ``horizon_months`` with an annual ``discount_rate``, and optional intervals.

    Parameters
    ----------
    purchase_model:
        A fitted BG/NBD, MBG/NBD or Pareto/NBD model (continuous time, in ``time_unit``).
    spend_model:
        A fitted Gamma-Gamma model giving the expected spend per purchase from ``(frequency,
        monetary_value)``; or ``None`` with ``spend`` giving it per customer.
    frequency, recency, T, monetary_value:
        The customers' summaries (``monetary_value``: mean value of the repeat purchases). A customer whose
        repeat purchases average 0 or less (free items) is given the population's mean spend per purchase,
        as a customer without repeat purchases is: the Gamma-Gamma model has nothing to learn from them.
    horizon_months, discount_rate, time_unit:
        Months ahead, annual discount rate (0.1 = 10% a year), and the models' time unit (defaults: those of
        ``[clv]`` in :mod:`keepwise.config`, 12 months and 10% a year).
    margin:
        Share of spend that is margin (1.0 = CLV in revenue).
    spend:
        Expected spend per purchase per customer (or one number), used when ``spend_model`` is ``None``.
    n_draws, interval, seed:
        With ``n_draws > 0``, ``clv_lower`` and ``clv_upper`` from that many parameter draws.
    month_length:
        One month in model time units (default 365.25 / 12 days; lifetimes uses 4.345 weeks or 30 days).
    method:
        ``"auto"`` (default): Pareto/NBD's closed-form DERT over the horizon, discounted continuously at the
        same annual rate; the other models: the monthly sum. ``"monthly"`` forces the sum, ``"dert"`` the
        closed form.
    covariates:
        For a purchase model fitted with covariates: its covariate columns, one row per customer; each
        customer is valued with his own covariate-adjusted parameters (and, with draws, the coefficients are
        drawn with the other parameters).

    Returns
    -------
    pandas.DataFrame
        ``p_alive``, ``expected_purchases`` (undiscounted, over the horizon), ``discounted_purchases``,
        ``expected_spend``, ``clv`` and, with draws, ``clv_lower``, ``clv_upper``; one row per customer.
    """
    if horizon_months < 1 or int(horizon_months) != horizon_months:
        raise KeepwiseInputError("the horizon must be a whole number of months, at least 1")
    if not 0 < interval < 1:
        raise KeepwiseInputError("interval must be between 0 and 1 (e.g. 0.95)")
    months = int(horizon_months)
    d = monthly_rate(discount_rate)
    month = month_length if month_length is not None else DAYS_PER_MONTH / days_per_unit(time_unit)
    x, tx, t = check_rft(frequency, recency, T)
    if spend_model is None:
        if spend is None:
            raise KeepwiseInputError(
                "give a fitted Gamma-Gamma spend model or the expected spend per customer"
            )
        exp_spend = np.broadcast_to(np.asarray(spend, dtype=float), x.shape).copy()
        z = np.zeros_like(x)
        x_spend = x
    else:
        if monetary_value is None:
            raise KeepwiseInputError(
                "monetary_value (mean repeat-purchase value) is needed with a spend model"
            )
        z = np.asarray(monetary_value, dtype=float)
        # repeat purchases that average 0 or less say nothing the spend model can use: the population mean
        x_spend = np.where(z > 0, x, 0.0)
        exp_spend = spend_model.conditional_expected_average_profit(x_spend, z)
    data, cov_u, p, inverse = _unique_rows(purchase_model, x, tx, t, covariates)
    ux, utx, ut = data["x"], data["t_x"], data["T"]
    uniq = np.column_stack([ux, utx, ut])
    continuous = uses_dert(purchase_model, method)
    disc = _discounted_purchases(purchase_model, p, ux, utx, ut, months, month, d, continuous)
    out = pd.DataFrame(
        {
            "p_alive": purchase_model._p_alive(p, ux, utx, ut)[inverse],
            "expected_purchases": purchase_model._conditional_expected(p, ux, utx, ut, t=months * month)[
                inverse
            ],
            "discounted_purchases": disc[inverse],
            "expected_spend": exp_spend,
        }
    )
    out["clv"] = margin * out["expected_spend"] * out["discounted_purchases"]
    if n_draws > 0:
        lo, hi = _intervals(
            purchase_model,
            spend_model,
            uniq,
            cov_u,
            inverse,
            x_spend,
            z,
            exp_spend,
            months,
            month,
            d,
            margin,
            n_draws,
            interval,
            seed,
            continuous,
        )
        out["clv_lower"], out["clv_upper"] = lo, hi
    return out


def _intervals(
    purchase_model: Any,
    spend_model: GammaGammaModel | None,
    uniq: np.ndarray,
    cov: dict[str, np.ndarray] | None,
    inverse: np.ndarray,
    x: np.ndarray,
    z: np.ndarray,
    exp_spend: np.ndarray,
    months: int,
    month: float,
    d: float,
    margin: float,
    n_draws: int,
    interval: float,
    seed: int,
    continuous: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    disc = np.empty((len(uniq), n_draws))
    for j, pj in enumerate(_purchase_draws(purchase_model, n_draws, rng, cov)):
        disc[:, j] = _discounted_purchases(
            purchase_model, pj, uniq[:, 0], uniq[:, 1], uniq[:, 2], months, month, d, continuous
        )
    # spend per (x, zbar) pair and draw
    sp_uniq, sp_inverse = np.unique(np.column_stack([x, z]), axis=0, return_inverse=True)
    sp_inverse = sp_inverse.reshape(-1)
    if spend_model is None:
        spend = np.repeat(exp_spend[:, None], 1, axis=1)
        sp_inverse = np.arange(len(x))
        spend_draws = np.broadcast_to(spend, (len(x), n_draws))
    else:
        gdraws = spend_model.sample_params(n_draws, rng)
        spend_draws = np.empty((len(sp_uniq), n_draws))
        for j in range(n_draws):
            gj = {k: float(v[j]) for k, v in gdraws.items()}
            spend_draws[:, j] = spend_model._expected_spend(gj, sp_uniq[:, 0], sp_uniq[:, 1])
    # quantiles once per distinct (purchase tuple, spend tuple) pair, in chunks
    pairs, pair_inverse = np.unique(np.column_stack([inverse, sp_inverse]), axis=0, return_inverse=True)
    pair_inverse = pair_inverse.reshape(-1)
    q = [(1 - interval) / 2, (1 + interval) / 2]
    lo, hi = np.empty(len(pairs)), np.empty(len(pairs))
    for start in range(0, len(pairs), 20_000):
        chunk = pairs[start : start + 20_000]
        values = margin * disc[chunk[:, 0]] * spend_draws[chunk[:, 1]]
        lo[start : start + len(chunk)], hi[start : start + len(chunk)] = np.quantile(values, q, axis=1)
    return lo[pair_inverse], hi[pair_inverse]


def _purchase_draws(
    model: Any, n_draws: int, rng: np.random.Generator, cov: dict[str, np.ndarray] | None
) -> list[dict[str, Any]]:
    """Parameter sets drawn from the fitted distribution; with covariates, per row of ``cov``.

    With covariates all of ``log(theta)`` and the coefficients are drawn jointly (normal, covariance from
    the Hessian) and each draw is turned into every row's own parameters.
    """
    links = getattr(model, "_links", ())
    if not links:
        draws = model.sample_params(n_draws, rng)
        return [{k: float(v[j]) for k, v in draws.items()} for j in range(n_draws)]
    thetas = rng.multivariate_normal(model._theta, model._cov, size=n_draws)
    return [model._row_params(theta, cov, links)[0] for theta in thetas]
