"""The fitting machinery shared by every model: maximum likelihood on log-parameters.

A model declares its parameter names (as in its paper), a per-row log-likelihood with its gradient with
respect to the log of each parameter, and a starting point. :class:`BaseModel` does the rest, once:

* maximises the weighted log-likelihood ``sum_i w_i log L(theta | data_i)`` over ``log(theta)`` with the
  analytic gradient (scipy's BFGS), so the rows may be unique sufficient-statistic tuples and ``w_i``
  how many customers share each tuple; a model may evaluate the sum faster (``_weighted_loglik``); fits on
  more than 20,000 rows start from a fit to a sample of 4,000 customers (point and curvature);
* optional time-invariant covariates act on a parameter through ``theta_i = theta_0 * exp(sign * gamma' z_i)``
  (CLVTools' parameterisation), with the coefficients estimated jointly;
* the Hessian is the forward difference of the analytic gradient at the optimum (central differences
  agree to 1e-5); its inverse is the covariance of ``log(theta)`` (and of the covariate coefficients);
* ``summary`` reports on the natural scale: ``se`` by the delta method (``theta * se(log theta)``) and the 95%
  interval as the log-scale interval exponentiated, ``exp(log theta +- 1.96 se(log theta))``, which is always
  positive and asymmetric. Covariate coefficients are reported as they are (no transform);
* ``save``/``load`` write and read the fitted state as JSON.

The machinery lives in three modules, one concern each: :mod:`keepwise.models.fitting` (the optimiser, the
Hessian, convergence), :mod:`keepwise.models.inference` (standard errors, ``summary``, AIC, parameter draws)
and :mod:`keepwise.models.serialisation` (``save``/``load``); :class:`BaseModel` joins them, and this module
keeps the input checks every model shares.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from keepwise.exceptions import KeepwiseInputError
from keepwise.models.fitting import CovariateLink, FloatArray, dot
from keepwise.models.inference import Z95
from keepwise.models.serialisation import SerialisableModel

__all__ = [
    "Z95",
    "BaseModel",
    "CovariateLink",
    "FloatArray",
    "as_array",
    "check_rft",
    "covariate_links",
    "dot",
]


class BaseModel(SerialisableModel):
    """Base class of every model: declare ``_param_names``, ``_loglik`` and ``_initial_params``.

    Parameters
    ----------
    penalizer:
        L2 penalty on the log-parameters (0, the default, is plain maximum likelihood).
    """


def as_array(values: Any, name: str) -> FloatArray:
    """Validate one input column: a finite, non-negative float array."""
    arr = np.asarray(values, dtype=float).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise KeepwiseInputError(f"{name} has missing or infinite values")
    if np.any(arr < 0):
        raise KeepwiseInputError(f"{name} has negative values")
    return arr


def check_rft(frequency: Any, recency: Any, T: Any) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate (frequency, recency, T): same length, recency <= T, and recency = 0 when x = 0."""
    x, tx, t = as_array(frequency, "frequency"), as_array(recency, "recency"), as_array(T, "T")
    if not (len(x) == len(tx) == len(t)):
        raise KeepwiseInputError("frequency, recency and T must have the same length")
    if np.any(tx > t * (1 + 1e-9) + 1e-12):
        raise KeepwiseInputError(
            "recency must not exceed T (recency is the time of the last repeat purchase)"
        )
    if np.any((x == 0) & (tx > 0)):
        raise KeepwiseInputError("a customer with frequency 0 must have recency 0")
    if np.any(x != np.round(x)):
        raise KeepwiseInputError("frequency must be a whole number of repeat purchases")
    return x, np.minimum(tx, t), t


def covariate_links(
    model: type[BaseModel], covariates: pd.DataFrame | None, spec: dict[str, list[str]] | None
) -> tuple[dict[str, FloatArray] | None, tuple[CovariateLink, ...]]:
    """Turn ``covariates`` and ``{parameter: [columns]}`` into arrays and links, validating names."""
    if not spec:
        return None, ()
    if covariates is None:
        raise KeepwiseInputError("covariate columns were named but no covariates DataFrame was given")
    links = []
    arrays: dict[str, FloatArray] = {}
    for param, cols in spec.items():
        if param not in model._covariate_signs:
            allowed = ", ".join(model._covariate_signs) or "none"
            raise KeepwiseInputError(f"{model.__name__} takes covariates on {allowed}, not on {param!r}")
        for c in cols:
            if c not in covariates.columns:
                raise KeepwiseInputError(f"covariate column {c!r} is not in the covariates DataFrame")
            arr = np.asarray(covariates[c], dtype=float)
            if not np.all(np.isfinite(arr)):
                raise KeepwiseInputError(f"covariate column {c!r} has missing or infinite values")
            arrays[c] = arr
        links.append(CovariateLink(param, tuple(cols), model._covariate_signs[param]))
    return arrays, tuple(links)
