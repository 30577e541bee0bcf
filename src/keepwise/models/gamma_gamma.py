"""The Gamma-Gamma model of monetary value (Fader, Hardie and Lee 2005; Fader and Hardie 2013).

The value of each of a customer's transactions is Gamma(p, nu); across customers ``nu ~ Gamma(q, v)``. For a
customer with ``x`` repeat transactions of mean value ``zbar`` (equation 3 of the note)::

    f(zbar | p, q, v, x) = Gamma(p x + q) / (Gamma(p x) Gamma(q))
                           * v^q zbar^(p x - 1) x^(p x) / (v + x zbar)^(p x + q)

E[Z | zbar, x] = (q - 1) / (p x + q - 1) * p v / (q - 1) + p x / (p x + q - 1) * zbar, a weighted mean of the
population mean ``p v / (q - 1)`` and the customer's own mean. The model assumes spend per transaction is
independent of the number of transactions; :meth:`GammaGammaModel.fit` checks the correlation and warns.

References
----------
Fader, P. S., Hardie, B. G. S. and Lee, K. L. (2005). RFM and CLV: Using Iso-Value Curves for Customer Base
Analysis. Journal of Marketing Research 42(4), 415-430.
Fader, P. S. and Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value. http://brucehardie.com/notes/025/
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Self

import numpy as np
from scipy.special import digamma, gammaln

from keepwise.exceptions import KeepwiseInputError, StatisticalWarning
from keepwise.models.base import BaseModel, FloatArray, as_array

#: |Pearson correlation| between frequency and mean spend above which fit() warns
CORRELATION_WARNING = 0.3


def _check(frequency: Any, monetary_value: Any) -> tuple[FloatArray, FloatArray]:
    x, z = as_array(frequency, "frequency"), as_array(monetary_value, "monetary_value")
    if len(x) != len(z):
        raise KeepwiseInputError("frequency and monetary_value must have the same length")
    return x, z


class GammaGammaModel(BaseModel):
    """Gamma-Gamma spend model. Parameters ``p``, ``q``, ``v``; fitted on customers with ``x > 0``."""

    _param_names: ClassVar[tuple[str, ...]] = ("p", "q", "v")

    def _loglik(
        self, p: dict[str, Any], d: dict[str, FloatArray]
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        x, z = d["x"], d["z"]
        pp, q, v = p["p"], p["q"], p["v"]
        px = pp * x
        lvxz = np.log(v + x * z)
        ll = (
            gammaln(px + q)
            - gammaln(px)
            - gammaln(q)
            + q * np.log(v)
            + (px - 1) * np.log(z)
            + px * np.log(x)
            - (px + q) * lvxz
        )
        dpq = digamma(px + q)
        g_p = x * (dpq - digamma(px) + np.log(z) + np.log(x) - lvxz)
        g_q = dpq - digamma(q) + np.log(v) - lvxz
        g_v = q / v - (px + q) / (v + x * z)
        return ll, {"p": pp * g_p, "q": q * g_q, "v": v * g_v}

    def _initial_params(self, d: dict[str, FloatArray], w: FloatArray) -> dict[str, float]:
        mean = float(np.dot(w, d["z"]) / w.sum())
        return {"p": 1.0, "q": 2.0, "v": mean}

    def fit(
        self,
        frequency: Any,
        monetary_value: Any,
        weights: Any = None,
        initial_params: dict[str, float] | None = None,
        check_independence: bool = True,
    ) -> Self:
        """Fit on the customers with repeat purchases (``frequency > 0``); others are ignored.

        Parameters
        ----------
        frequency:
            Repeat purchases ``x``.
        monetary_value:
            Mean value ``zbar`` of the repeat purchases (must be > 0 when ``x > 0``).
        weights:
            Customers per row (default 1).
        check_independence:
            Warn (:class:`~keepwise.exceptions.StatisticalWarning`) when |corr(x, zbar)| exceeds
            ``CORRELATION_WARNING`` (0.3): the model assumes spend does not depend on frequency.
        initial_params:
            Starting point of the optimiser (natural scale).
        """
        x, z = _check(frequency, monetary_value)
        w = np.ones(len(x)) if weights is None else as_array(weights, "weights")
        keep = x > 0
        if np.any(z[keep] <= 0):
            raise KeepwiseInputError("monetary_value must be > 0 for customers with repeat purchases")
        if keep.sum() < 2:
            raise KeepwiseInputError(
                "the Gamma-Gamma model needs customers with repeat purchases (frequency > 0)"
            )
        x, z, w = x[keep], z[keep], w[keep]
        if check_independence:
            corr = self.frequency_spend_correlation(x, z, w)
            self.frequency_spend_correlation_ = corr
            if abs(corr) > CORRELATION_WARNING:
                warnings.warn(
                    f"frequency and spend per purchase are correlated (r = {corr:.2f}); the Gamma-Gamma "
                    "model "
                    "assumes they are independent, so expected spend may be biased",
                    StatisticalWarning,
                    stacklevel=2,
                )
        uniq, inverse = np.unique(np.column_stack([x, z]), axis=0, return_inverse=True)
        wu = np.bincount(inverse.reshape(-1), weights=w, minlength=len(uniq)).astype(float)
        return self._fit({"x": uniq[:, 0].copy(), "z": uniq[:, 1].copy()}, wu, None, (), initial_params)

    @staticmethod
    def frequency_spend_correlation(frequency: Any, monetary_value: Any, weights: Any = None) -> float:
        """Weighted Pearson correlation between frequency and mean spend (customers with x > 0)."""
        x, z = _check(frequency, monetary_value)
        w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
        keep = x > 0
        x, z, w = x[keep], z[keep], w[keep]
        mx, mz = np.average(x, weights=w), np.average(z, weights=w)
        cov = np.average((x - mx) * (z - mz), weights=w)
        sd = np.sqrt(np.average((x - mx) ** 2, weights=w) * np.average((z - mz) ** 2, weights=w))
        return float(cov / sd) if sd > 0 else 0.0

    def _expected_spend(self, p: dict[str, Any], x: FloatArray, z: FloatArray) -> FloatArray:
        pp, q, v = p["p"], p["q"], p["v"]
        population = pp * v / (q - 1)
        return np.asarray(np.where(x > 0, pp * (v + x * z) / (pp * x + q - 1), population))

    def conditional_expected_average_profit(self, frequency: Any, monetary_value: Any) -> FloatArray:
        """E[Z | zbar, x] = p (v + x zbar) / (p x + q - 1); the population mean p v / (q - 1) when x = 0."""
        self._require_fitted()
        x, z = _check(frequency, monetary_value)
        return self._expected_spend(self.params_, x, z)
