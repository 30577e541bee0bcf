"""What the continuous-time purchase models (BG/NBD, MBG/NBD, Pareto/NBD) share beyond the fitting machinery.

Each model supplies its likelihood, ``_p_alive(p, x, t_x, T)`` (P(alive at T)) and
``_alive_expected(p, t, x, T)`` (expected purchases in ``(T, T + t]`` given alive at ``T``), with their
formulas in their docstrings. This class turns them into the fit on compressed ``(x, t_x, T)`` tuples and
the per-customer predictions, scored on the unique tuples and expanded back.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd

from keepwise.models.base import BaseModel, FloatArray, check_rft, covariate_links
from keepwise.models.data import compress_rft, expand


class PurchaseModel(BaseModel):
    """Base of the buy-till-you-die models whose data per customer are ``(frequency, recency, T)``."""

    def _p_alive(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
        raise NotImplementedError

    def _alive_expected(self, p: dict[str, Any], t: Any, x: FloatArray, T: FloatArray) -> FloatArray:
        raise NotImplementedError

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
            which parameter, e.g. ``{"alpha": ["web"], "a": ["web"], "b": ["web"]}`` for BG/NBD or
            ``{"alpha": ["web"], "beta": ["web"]}`` for Pareto/NBD.
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
            return np.asarray(fn(self._params_for(covariates, len(x)), x, tx, t, **kw), dtype=float)
        data, _, _, inverse = compress_rft(x, tx, t, None, None, return_inverse=True)
        return expand(fn(self.params_, data["x"], data["t_x"], data["T"], **kw), inverse)

    def _conditional_expected(
        self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray, t: Any = 1.0
    ) -> FloatArray:
        return self._p_alive(p, x, tx, T) * self._alive_expected(p, t, x, T)

    def conditional_probability_alive(
        self, frequency: Any, recency: Any, T: Any, covariates: pd.DataFrame | None = None
    ) -> FloatArray:
        """P(alive | x, t_x, T), per customer (the formula is the model's ``_p_alive``)."""
        return self._score(self._p_alive, frequency, recency, T, covariates)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: float, frequency: Any, recency: Any, T: Any, covariates: pd.DataFrame | None = None
    ) -> FloatArray:
        """E[Y(t) | x, t_x, T] = P(alive) * E[purchases in the next ``t`` periods | alive]."""
        return self._score(self._conditional_expected, frequency, recency, T, covariates, t=t)

    def _time_to_next(self, p: dict[str, Any], x: FloatArray, tx: FloatArray, T: FloatArray) -> FloatArray:
        shape = p["r"] + x
        return np.asarray(np.where(shape > 1, (p["alpha"] + T) / np.maximum(shape - 1, 1e-300), np.inf))

    def expected_time_to_next_purchase(
        self, frequency: Any, recency: Any, T: Any, covariates: pd.DataFrame | None = None
    ) -> FloatArray:
        """Expected wait from T to the next purchase of a customer still alive: ``(alpha + T) / (r + x - 1)``.

        Given alive at T the purchase rate is Gamma(r + x, alpha + T), and the mean wait is ``E[1/lambda]``
        (infinite when ``r + x <= 1``). Combine with :meth:`conditional_probability_alive`: a customer who has
        dropped out buys no more (and, for Pareto/NBD, the lifetime may end first).
        """
        return self._score(self._time_to_next, frequency, recency, T, covariates)
