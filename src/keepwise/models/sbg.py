"""The shifted-beta-geometric (sBG) retention model of Fader and Hardie (2007), for subscriptions.

At each renewal a customer cancels with probability ``theta``; ``theta ~ Beta(alpha, beta)`` across customers.
With ``t`` the period in which a customer cancels (1, 2, ...)::

    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)          (cancelled in period t)
    S(t)     = B(alpha, beta + t) / B(alpha, beta)                  (still active after t periods)
    r(t)     = (beta + t - 1) / (alpha + beta + t - 1)              (retention rate in period t)

References
----------
Fader, P. S. and Hardie, B. G. S. (2007). How to Project Customer Retention. Journal of Interactive Marketing
21(1), 76-90.
Fader, P. S. and Hardie, B. G. S. (2010). Customer-Base Valuation in a Contractual Setting: The Perils of
Ignoring Heterogeneity. Marketing Science 29(1), 85-93.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from scipy.special import betaln, digamma, hyp2f1

from keepwise.exceptions import KeepwiseInputError
from keepwise.models.base import BaseModel, FloatArray, as_array


def survivors_to_durations(survivors: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Turn a survivor curve (customers active at the start and after each period) into sBG data.

    Returns ``(durations, churned, weights)``: for each period ``t`` the number who cancelled in it, and the
    survivors after the last period as censored at that period.
    """
    s = as_array(survivors, "survivors")
    if len(s) < 2 or np.any(np.diff(s) > 0):
        raise KeepwiseInputError(
            "survivors must be a non-increasing count of active customers, at least 2 values"
        )
    lost = -np.diff(s)
    t = np.arange(1, len(s), dtype=float)
    durations = np.concatenate([t, [len(s) - 1.0]])
    churned = np.concatenate([np.ones(len(t)), [0.0]])
    return durations, churned, np.concatenate([lost, [s[-1]]])


class ShiftedBetaGeometricModel(BaseModel):
    """sBG: beta-distributed cancellation probabilities. Parameters ``alpha``, ``beta``."""

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta")

    def _loglik(
        self, p: dict[str, Any], d: dict[str, FloatArray]
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        t, c = d["t"], d["churned"]
        al, be = p["alpha"], p["beta"]
        lb, dab = betaln(al, be), digamma(al + be)
        ch = c > 0
        ll = np.where(ch, betaln(al + 1, be + np.maximum(t - 1, 0)), betaln(al, be + t)) - lb
        dabt = digamma(al + be + t)
        g_al = np.where(ch, digamma(al + 1) - digamma(al), 0.0) + dab - dabt
        g_be = np.where(ch, digamma(be + np.maximum(t - 1, 0)), digamma(be + t)) - digamma(be) + dab - dabt
        return ll, {"alpha": al * g_al, "beta": be * g_be}

    def _initial_params(self, d: dict[str, FloatArray], w: FloatArray) -> dict[str, float]:
        return {"alpha": 1.0, "beta": 1.0}

    def fit(
        self,
        durations: Any,
        churned: Any,
        weights: Any = None,
        initial_params: dict[str, float] | None = None,
    ) -> Self:
        """Fit on contract lengths in periods.

        Parameters
        ----------
        durations:
            For a cancelled customer the period ``t >= 1`` in which they cancelled; for an active one the
            number of periods observed (censored).
        churned:
            1 if the customer cancelled, 0 if still active.
        weights:
            Customers per row; see :func:`survivors_to_durations` for survivor curves.
        initial_params:
            Starting point of the optimiser (natural scale).
        """
        t, c = as_array(durations, "durations"), as_array(churned, "churned")
        if len(t) != len(c):
            raise KeepwiseInputError("durations and churned must have the same length")
        if np.any((c > 0) & (t < 1)) or np.any(t != np.round(t)):
            raise KeepwiseInputError("durations must be whole periods, >= 1 for customers who cancelled")
        w = np.ones(len(t)) if weights is None else as_array(weights, "weights")
        uniq, inverse = np.unique(np.column_stack([t, c > 0]), axis=0, return_inverse=True)
        wu = np.bincount(inverse.reshape(-1), weights=w, minlength=len(uniq)).astype(float)
        return self._fit({"t": uniq[:, 0].copy(), "churned": uniq[:, 1].copy()}, wu, None, (), initial_params)

    def survival_function(self, t: Any) -> FloatArray:
        """S(t) = B(alpha, beta + t) / B(alpha, beta): share of a new cohort still active after t periods."""
        self._require_fitted()
        al, be = self.params_["alpha"], self.params_["beta"]
        t = np.asarray(t, dtype=float)
        return np.asarray(np.exp(betaln(al, be + t) - betaln(al, be)))

    def retention_rate(self, t: Any) -> FloatArray:
        """r(t) = (beta + t - 1) / (alpha + beta + t - 1): share of period t-1 survivors who renew in t."""
        self._require_fitted()
        al, be = self.params_["alpha"], self.params_["beta"]
        t = np.asarray(t, dtype=float)
        return np.asarray((be + t - 1) / (al + be + t - 1))

    def discounted_expected_residual_lifetime(self, discount_rate: float, renewals: Any = 0) -> FloatArray:
        """DERL for a customer who has made ``renewals`` renewals (Fader and Hardie 2010, equation 6).

        ``DERL(d | alpha, beta, n) = (beta + n) / (alpha + beta + n)
        2F1(1, beta + n + 1; alpha + beta + n + 1; 1 / (1 + d))``, in periods, counting the payment at the
        next renewal discounted by one period.
        """
        self._require_fitted()
        al, be = self.params_["alpha"], self.params_["beta"]
        n = np.asarray(renewals, dtype=float)
        z = 1.0 / (1.0 + discount_rate)
        return np.asarray((be + n) / (al + be + n) * z * hyp2f1(1, be + n + 1, al + be + n + 1, z))
