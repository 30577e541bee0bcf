"""Standard errors, the summary table, AIC, parameter draws and per-row parameters of a fitted model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from keepwise.exceptions import KeepwiseInputError
from keepwise.models.fitting import FloatArray, LikelihoodFitter

Z95 = 1.959963984540054


class FittedResults(LikelihoodFitter):
    """What a fitted model reports: delta-method standard errors, 95% intervals, ``summary`` and AIC."""

    def _require_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise KeepwiseInputError(f"{type(self).__name__} is not fitted yet: call fit(...) first")

    @property
    def std_errors_(self) -> dict[str, float]:
        """Delta-method standard errors on the natural scale (covariate coefficients as they are)."""
        self._require_fitted()
        se_log = np.sqrt(np.clip(np.diag(self._cov), 0, None))
        out = {}
        for j, name in enumerate(self._theta_names()):
            out[name] = float(se_log[j] * (np.exp(self._theta[j]) if j < self._n_base else 1.0))
        return out

    @property
    def summary(self) -> pd.DataFrame:
        """Estimates, delta-method standard errors and 95% intervals (log-scale interval exponentiated)."""
        self._require_fitted()
        se_log = np.sqrt(np.clip(np.diag(self._cov), 0, None))
        rows = []
        for j, name in enumerate(self._theta_names()):
            t = self._theta[j]
            if j < self._n_base:
                est, se = np.exp(t), np.exp(t) * se_log[j]
                lo, hi = np.exp(t - Z95 * se_log[j]), np.exp(t + Z95 * se_log[j])
            else:
                est, se, lo, hi = t, se_log[j], t - Z95 * se_log[j], t + Z95 * se_log[j]
            rows.append({"parameter": name, "estimate": est, "se": se, "lower": lo, "upper": hi})
        return pd.DataFrame(rows).set_index("parameter")

    @property
    def aic_(self) -> float:
        """Akaike information criterion, ``2k - 2 LL``."""
        self._require_fitted()
        return 2 * len(self._theta) - 2 * self.log_likelihood_

    def sample_params(self, n: int, seed: int | np.random.Generator | None = 0) -> dict[str, FloatArray]:
        """Draw ``n`` parameter sets from the fitted (log-scale normal) distribution of the estimates."""
        self._require_fitted()
        rng = np.random.default_rng(seed)
        k = self._n_base
        draws = rng.multivariate_normal(self._theta[:k], self._cov[:k, :k], size=n)
        return {name: np.exp(draws[:, j]) for j, name in enumerate(self._param_names)}

    def _params_for(self, covariates: pd.DataFrame | dict[str, Any] | None, n: int) -> dict[str, Any]:
        """Natural-scale parameters for ``n`` rows, with covariate effects applied when the model has them."""
        self._require_fitted()
        if not self._links:
            return dict(self.params_)
        if covariates is None:
            raise KeepwiseInputError(
                f"{type(self).__name__} was fitted with covariates: pass covariates= with columns "
                + ", ".join(sorted({c for lk in self._links for c in lk.columns}))
            )
        cov = {
            c: np.broadcast_to(np.asarray(covariates[c], dtype=float), (n,))
            for lk in self._links
            for c in lk.columns
        }
        p, _ = self._row_params(self._theta, cov, self._links)
        return p

    def __repr__(self) -> str:
        if not hasattr(self, "params_"):
            return f"<{type(self).__name__}: not fitted>"
        ps = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"<{type(self).__name__}: {ps}, LL={self.log_likelihood_:.2f}, n={self.n_customers_}>"
