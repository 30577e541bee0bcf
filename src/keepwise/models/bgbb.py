"""The beta-geometric/beta-binomial (BG/BB) model of Fader, Hardie and Shang (2010), discrete time.

Over ``n`` transaction opportunities a customer, while alive, transacts at each with probability ``p`` and
drops out before each with probability ``theta``; ``p ~ Beta(alpha, beta)``, ``theta ~ Beta(gamma, delta)``.
For ``x`` transactions, the last at opportunity ``t_x`` (equation 5 of the paper)::

    L(alpha, beta, gamma, delta | x, t_x, n) =
        B(alpha + x, beta + n - x) / B(alpha, beta) * B(gamma, delta + n) / B(gamma, delta)
      + sum_{i=0}^{n - t_x - 1} B(alpha + x, beta + t_x - x + i) / B(alpha, beta)
                                * B(gamma + 1, delta + t_x + i) / B(gamma, delta)

evaluated in log space (log-sum-exp over the terms) with the analytic gradient.

References
----------
Fader, P. S., Hardie, B. G. S. and Shang, J. (2010). Customer-Base Analysis in a Discrete-Time Noncontractual
Setting. Marketing Science 29(6), 1086-1108.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import numpy as np
from scipy.special import betaln, digamma, gammaln

from keepwise.exceptions import KeepwiseInputError
from keepwise.models.base import BaseModel, FloatArray, as_array
from keepwise.models.data import compress_rft, expand


def _check_xtn(frequency: Any, recency: Any, n_periods: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    x, tx, n = (
        as_array(frequency, "frequency"),
        as_array(recency, "recency"),
        as_array(n_periods, "n_periods"),
    )
    if not (len(x) == len(tx) == len(n)):
        raise KeepwiseInputError("frequency, recency and n_periods must have the same length")
    for name, v in (("frequency", x), ("recency", tx), ("n_periods", n)):
        if np.any(v != np.round(v)):
            raise KeepwiseInputError(f"{name} must be whole numbers of transaction opportunities")
    if np.any(x > tx) or np.any(tx > n) or np.any((x > 0) & (tx == 0)):
        raise KeepwiseInputError(
            "BG/BB data need frequency <= recency <= n_periods and recency > 0 when x > 0"
        )
    return x, tx, n


class BetaGeoBetaBinomModel(BaseModel):
    """BG/BB for discrete transaction opportunities. Parameters ``alpha``, ``beta``, ``gamma``, ``delta``."""

    _param_names: ClassVar[tuple[str, ...]] = ("alpha", "beta", "gamma", "delta")

    def _log_terms(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, n: FloatArray) -> FloatArray:
        al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
        width = int(np.max(n - tx)) if len(n) else 0
        i = np.arange(width)[None, :]
        xi, txi, ni = x[:, None], tx[:, None], n[:, None]
        base = -betaln(al, be) - betaln(ga, de)
        t0 = betaln(al + xi, be + ni - xi) + betaln(ga, de + ni) + base
        ti = betaln(al + xi, be + txi - xi + i) + betaln(ga + 1, de + txi + i) + base
        ti = np.where(i < ni - txi, ti, -np.inf)
        return np.concatenate([t0, ti], axis=1)

    def _loglik(
        self, p: dict[str, Any], d: dict[str, FloatArray]
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        x, tx, n = d["x"], d["t_x"], d["T"]
        al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
        terms = self._log_terms(p, x, tx, n)
        mx = terms[:, :1]
        e = np.exp(terms - mx)
        tot = e.sum(axis=1, keepdims=True)
        ll = (np.log(tot) + mx)[:, 0]
        w = e / tot
        width = terms.shape[1] - 1
        i = np.arange(width)[None, :]
        xi, txi, ni = x[:, None], tx[:, None], n[:, None]
        # per-term "spent" opportunities: t0 uses n, the others t_x + i
        k_b = np.concatenate([ni - xi, txi - xi + i], axis=1)  # beta + k_b
        k_ab = np.concatenate([ni, txi + i], axis=1)  # alpha + beta + k_ab
        g1 = np.concatenate([np.zeros_like(ni), np.ones((len(x), width))], axis=1)  # gamma + g1
        k_d = np.concatenate([ni, txi + i], axis=1)  # delta + k_d ; gamma + delta + g1 + k_d
        w_safe = np.where(np.isfinite(terms), w, 0.0)
        k_b = np.where(w_safe > 0, k_b, 0.0)
        k_ab = np.where(w_safe > 0, k_ab, 0.0)
        k_d = np.where(w_safe > 0, k_d, 0.0)
        d_ab = digamma(al + be)
        d_gd = digamma(ga + de)
        g_al = digamma(al + x) - digamma(al) + d_ab - (w_safe * digamma(al + be + k_ab)).sum(axis=1)
        g_be = (
            (w_safe * digamma(be + k_b)).sum(axis=1)
            - digamma(be)
            + d_ab
            - (w_safe * digamma(al + be + k_ab)).sum(axis=1)
        )
        g_ga = (
            (w_safe * digamma(ga + g1)).sum(axis=1)
            - digamma(ga)
            + d_gd
            - (w_safe * digamma(ga + de + g1 + k_d)).sum(axis=1)
        )
        g_de = (
            (w_safe * digamma(de + k_d)).sum(axis=1)
            - digamma(de)
            + d_gd
            - (w_safe * digamma(ga + de + g1 + k_d)).sum(axis=1)
        )
        return ll, {"alpha": al * g_al, "beta": be * g_be, "gamma": ga * g_ga, "delta": de * g_de}

    def _initial_params(self, d: dict[str, FloatArray], w: FloatArray) -> dict[str, float]:
        return {"alpha": 1.0, "beta": 1.0, "gamma": 1.0, "delta": 1.0}

    def fit(
        self,
        frequency: Any,
        recency: Any,
        n_periods: Any,
        weights: Any = None,
        initial_params: dict[str, float] | None = None,
    ) -> Self:
        """Fit on unique ``(x, t_x, n)`` tuples weighted by their counts.

        Parameters
        ----------
        frequency, recency, n_periods:
            Transactions ``x``, the opportunity of the last one ``t_x`` (0 if none) and opportunities ``n``.
        weights:
            Customers per row (default 1).
        initial_params:
            Starting point of the optimiser (natural scale).
        """
        x, tx, n = _check_xtn(frequency, recency, n_periods)
        data, w, _ = compress_rft(x, tx, n, weights, None)
        return self._fit(data, w, None, (), initial_params)

    def _score(self, fn: Any, frequency: Any, recency: Any, n_periods: Any, **kw: Any) -> FloatArray:
        self._require_fitted()
        x, tx, n = _check_xtn(frequency, recency, n_periods)
        data, _, _, inverse = compress_rft(x, tx, n, None, None, return_inverse=True)
        return expand(fn(self.params_, data["x"], data["t_x"], data["T"], **kw), inverse)

    def _loglik_rows(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, n: FloatArray) -> FloatArray:
        terms = self._log_terms(p, x, tx, n)
        mx = terms[:, :1]
        return np.asarray((np.log(np.exp(terms - mx).sum(axis=1, keepdims=True)) + mx)[:, 0])

    def _p_alive(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, n: FloatArray) -> FloatArray:
        al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
        num = betaln(al + x, be + n - x) - betaln(al, be) + betaln(ga, de + n + 1) - betaln(ga, de)
        return np.asarray(np.exp(num - self._loglik_rows(p, x, tx, n)))

    def _cond_expected(
        self, p: dict[str, Any], x: FloatArray, tx: FloatArray, n: FloatArray, n_star: float = 1.0
    ) -> FloatArray:
        al, be, ga, de = p["alpha"], p["beta"], p["gamma"], p["delta"]
        log_pre = betaln(al + x + 1, be + n - x) - betaln(al, be) + gammaln(ga + de) - gammaln(1 + de)
        l_a = gammaln(1 + de + n) - gammaln(ga + de + n)
        l_b = gammaln(1 + de + n + n_star) - gammaln(ga + de + n + n_star)
        factor = de / (ga - 1) * -np.expm1(l_b - l_a)
        return np.asarray(np.exp(log_pre + l_a - self._loglik_rows(p, x, tx, n)) * factor)

    def conditional_probability_alive(self, frequency: Any, recency: Any, n_periods: Any) -> FloatArray:
        """P(alive at opportunity n + 1 | x, t_x, n) (FHS 2010, equation 11)."""
        return self._score(self._p_alive, frequency, recency, n_periods)

    def conditional_expected_number_of_purchases_up_to_time(
        self, n_star: float, frequency: Any, recency: Any, n_periods: Any
    ) -> FloatArray:
        """E[transactions in opportunities n+1..n+n_star | x, t_x, n] (FHS 2010, equation 13)."""
        return self._score(self._cond_expected, frequency, recency, n_periods, n_star=n_star)

    def expected_number_of_purchases_up_to_time(self, n: Any) -> FloatArray:
        """E[X(n)] for a new customer (FHS 2010, equation 7).

        ``alpha/(alpha+beta) delta/(gamma-1) [1 - Gamma(gamma+delta) Gamma(1+delta+n) /
        (Gamma(gamma+delta+n) Gamma(1+delta))]``.
        """
        self._require_fitted()
        al, be, ga, de = (self.params_[k] for k in self._param_names)
        n = np.asarray(n, dtype=float)
        lg = gammaln(ga + de) + gammaln(1 + de + n) - gammaln(ga + de + n) - gammaln(1 + de)
        return np.asarray(al / (al + be) * de / (ga - 1) * -np.expm1(lg))

    def _time_to_next(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, n: FloatArray) -> FloatArray:
        al, be = p["alpha"], p["beta"]
        shape = al + x
        return np.asarray(np.where(shape > 1, (al + be + n - 1) / np.maximum(shape - 1, 1e-300), np.inf))

    def expected_time_to_next_purchase(self, frequency: Any, recency: Any, n_periods: Any) -> FloatArray:
        """Expected opportunities to the next transaction if alive: ``(alpha+beta+n-1)/(alpha+x-1)``."""
        return self._score(self._time_to_next, frequency, recency, n_periods)
