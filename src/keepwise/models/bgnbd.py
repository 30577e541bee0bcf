"""The beta-geometric/NBD (BG/NBD) model of Fader, Hardie and Lee (2005).

While alive, a customer buys at Poisson rate ``lambda``; after each repeat purchase they drop out with
probability ``p``. Across customers ``lambda ~ Gamma(r, alpha)`` (rate ``alpha``) and ``p ~ Beta(a, b)``.
For a customer with ``x`` repeat purchases, the last at ``t_x``, observed for ``T`` since the first purchase
(equation 6 of the paper)::

    L(r, alpha, a, b | x, t_x, T) = B(a, b + x) / B(a, b)
                                      * Gamma(r + x) alpha^r / (Gamma(r) (alpha + T)^(r + x))
                                    + 1{x > 0} B(a + 1, b + x - 1) / B(a, b)
                                      * Gamma(r + x) alpha^r / (Gamma(r) (alpha + t_x)^(r + x))

It is evaluated in log space (``logaddexp`` of the two terms) with its analytic gradient (digammas).

References
----------
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An Alternative
to the Pareto/NBD Model. Marketing Science 24(2), 275-284.
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). Computing P(alive) using the BG/NBD model.
http://brucehardie.com/notes/021/
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln, hyp2f1

from keepwise.models.base import BaseModel, FloatArray, check_rft, covariate_links
from keepwise.models.data import compress_rft, expand


class BetaGeoModel(BaseModel):
    """BG/NBD: Poisson purchases while alive, beta-geometric drop-out after each repeat purchase.

    Parameters (``params_``): ``r``, ``alpha`` (gamma heterogeneity of the purchase rate, ``alpha`` a rate in
    the time unit of the data) and ``a``, ``b`` (beta heterogeneity of the drop-out probability).
    Covariates may act on ``alpha`` (``alpha_i = alpha0 exp(-gamma' z_i)``, so a positive coefficient means
    more purchases) and on ``a`` and ``b`` (``a_i = a0 exp(gamma' z_i)``), as in CLVTools.
    """

    _param_names: ClassVar[tuple[str, ...]] = ("r", "alpha", "a", "b")
    _covariate_signs: ClassVar[dict[str, float]] = {"alpha": -1.0, "a": 1.0, "b": 1.0}
    #: 0 for BG/NBD; 1 for MBG/NBD, where a customer may also drop out at time 0
    _shift: ClassVar[int] = 0

    # ---- likelihood ------------------------------------------------------------------------------------
    def _terms(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray) -> tuple[Any, ...]:
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        k = self._shift
        has2 = (x > 0) if k == 0 else np.ones_like(x, dtype=bool)
        bx2 = np.where(has2, b + x - 1 + k, 1.0)
        lb = betaln(a, b)
        t1 = betaln(a, b + x + k) - lb - (r + x) * np.log(alpha + T)
        t2 = np.where(has2, betaln(a + 1, bx2) - lb - (r + x) * np.log(alpha + tx), -np.inf)
        return t1, t2, has2, bx2

    def _loglik(
        self, p: dict[str, Any], d: dict[str, FloatArray]
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        x, tx, T = d["x"], d["t_x"], d["T"]
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        k = self._shift
        # the special functions depend on a customer only through x: evaluate them once per distinct x
        xs: FloatArray = x
        xi: Any = None
        if all(np.ndim(v) == 0 for v in (r, a, b)):
            cache: dict[str, Any] = d  # unique x and the index back, computed once per fit
            if "_ux" not in cache:
                ux, inv = np.unique(x, return_inverse=True)
                cache["_ux"], cache["_xi"] = ux, inv.reshape(-1)
            xs, xi = cache["_ux"], cache["_xi"]
        has2 = (xs > 0) if k == 0 else np.ones_like(xs, dtype=bool)
        bx2 = np.where(has2, b + xs - 1 + k, 1.0)
        lb = betaln(a, b)
        dab, dx = digamma(a + b), digamma(a + b + xs + k)
        parts = {
            "c1": betaln(a, b + xs + k) - lb,
            "c2": np.where(has2, betaln(a + 1, bx2) - lb, -np.inf),
            "g": gammaln(r + xs) - gammaln(r),
            "dg": digamma(r + xs) - digamma(r),
            "da1": dab - dx,
            "db1": digamma(b + xs + k) - digamma(b) + dab - dx,
            "db2": np.where(has2, digamma(bx2) - digamma(b) + dab - dx, 0.0),
        }
        if xi is not None:
            parts = {key: v[xi] for key, v in parts.items()}
        rx = r + x
        log_at, log_atx = np.log(alpha + T), np.log(alpha + tx)
        t1 = parts["c1"] - rx * log_at
        t2 = parts["c2"] - rx * log_atx
        lse = np.logaddexp(t1, t2)
        w1, w2 = np.exp(t1 - lse), np.exp(t2 - lse)
        ll = parts["g"] + r * np.log(alpha) + lse
        g_r = parts["dg"] + np.log(alpha) - w1 * log_at - w2 * log_atx
        g_alpha = r / alpha - w1 * rx / (alpha + T) - w2 * rx / (alpha + tx)
        g_a = parts["da1"] + w2 / a
        g_b = w1 * parts["db1"] + w2 * parts["db2"]
        return ll, {"r": r * g_r, "alpha": alpha * g_alpha, "a": a * g_a, "b": b * g_b}

    def _initial_params(self, d: dict[str, FloatArray], w: FloatArray) -> dict[str, float]:
        rate = max(np.dot(w, d["x"]) / max(np.dot(w, d["T"]), 1e-9), 1e-6)
        return {"r": 1.0, "alpha": 1.0 / rate, "a": 1.0, "b": 3.0}

    # ---- fit -------------------------------------------------------------------------------------------
    def fit(
        self,
        frequency: Any,
        recency: Any,
        T: Any,
        weights: Any = None,
        covariates: pd.DataFrame | None = None,
        covariate_columns: dict[str, list[str]] | None = None,
        initial_params: dict[str, float] | None = None,
    ) -> Self:
        """Fit by maximum likelihood on the unique ``(frequency, recency, T)`` tuples weighted by counts.

        Parameters
        ----------
        frequency, recency, T:
            Repeat purchases, time of the last repeat purchase and age since the first purchase, per customer
            (or per unique tuple, with ``weights`` the number of customers sharing it).
        weights:
            Customers per row (default 1).
        covariates, covariate_columns:
            A DataFrame of time-invariant numeric covariates (one row per input row) and which columns act on
            which parameter, e.g. ``{"alpha": ["web"], "a": ["web"], "b": ["web"]}``.
        initial_params:
            Starting point of the optimiser (natural scale).
        """
        x, tx, t = check_rft(frequency, recency, T)
        cov, links = covariate_links(type(self), covariates, covariate_columns)
        data, w, cov_c = compress_rft(x, tx, t, weights, cov)
        return self._fit(data, w, cov_c, links, initial_params)

    # ---- predictions -----------------------------------------------------------------------------------
    def _score(
        self, fn: Any, frequency: Any, recency: Any, T: Any, covariates: Any = None, **kw: Any
    ) -> FloatArray:
        self._require_fitted()
        x, tx, t = check_rft(frequency, recency, T)
        if self._links:
            p = self._params_for(covariates, len(x))
            return np.asarray(fn(p, x, tx, t, **kw), dtype=float)
        data, _, _, inverse = compress_rft(x, tx, t, None, None, return_inverse=True)
        return expand(fn(self.params_, data["x"], data["t_x"], data["T"], **kw), inverse)

    def _p_alive(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
        t1, t2, _, _ = self._terms(p, x, tx, T)
        return np.asarray(np.exp(t1 - np.logaddexp(t1, t2)))

    def _alive_expected(self, p: dict[str, Any], t: Any, x: FloatArray, T: FloatArray) -> FloatArray:
        """E[purchases in (T, T + t] | alive at T]: equation 10 of FHL (2005) without its P(alive) factor.

        The Gauss hypergeometric term is evaluated after Euler's transformation,
        ``(1 - z)^(r + x) 2F1(r + x, b + x; c; z) = (1 - z)^(a - 1) 2F1(c - r - x, a - 1; c; z)``, with
        ``c = a + b + x - 1``, whose parameters no longer grow with ``x`` (no overflow at x = 500).
        """
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        k = self._shift
        c = a + b + x - 1 + k
        z = t / (alpha + T + t)
        bracket = 1 - (1 - z) ** (a - 1) * hyp2f1(c - r - x, a - 1, c, z)
        return np.asarray(c / (a - 1) * bracket)

    def _conditional_expected(
        self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray, t: Any = 1.0
    ) -> FloatArray:
        return self._p_alive(p, x, tx, T) * self._alive_expected(p, t, x, T)

    def conditional_probability_alive(
        self, frequency: Any, recency: Any, T: Any, covariates: pd.DataFrame | None = None
    ) -> FloatArray:
        """P(alive | x, t_x, T) = 1 / (1 + 1{x>0} a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))."""
        return self._score(self._p_alive, frequency, recency, T, covariates)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: float, frequency: Any, recency: Any, T: Any, covariates: pd.DataFrame | None = None
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T]: expected purchases in the next ``t`` periods (FHL 2005, equation 10)."""
        return self._score(self._conditional_expected, frequency, recency, T, covariates, t=t)

    def expected_number_of_purchases_up_to_time(self, t: Any) -> FloatArray:
        """E[X(t)] for a new customer.

        ``(a+b-1)/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b; a+b-1; t/(alpha+t))]`` (FHL 2005, equation 9).
        """
        self._require_fitted()
        t = np.asarray(t, dtype=float)
        zero = np.zeros_like(t)
        p_alive0 = 1.0 if self._shift == 0 else self.params_["b"] / (self.params_["a"] + self.params_["b"])
        return p_alive0 * self._alive_expected(self.params_, t, zero, zero)

    def _time_to_next(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
        shape = p["r"] + x
        return np.asarray(np.where(shape > 1, (p["alpha"] + T) / np.maximum(shape - 1, 1e-300), np.inf))

    def expected_time_to_next_purchase(
        self, frequency: Any, recency: Any, T: Any, covariates: pd.DataFrame | None = None
    ) -> FloatArray:
        """Expected wait from T to the next purchase of a customer still alive: ``(alpha + T) / (r + x - 1)``.

        Given alive at T the purchase rate is Gamma(r + x, alpha + T), and the mean wait is ``E[1/lambda]``
        (infinite when ``r + x <= 1``). Combine with :meth:`conditional_probability_alive`: a customer who has
        dropped out buys no more.
        """
        return self._score(self._time_to_next, frequency, recency, T, covariates)
