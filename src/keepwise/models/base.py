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
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import optimize

from keepwise.exceptions import ConvergenceError, KeepwiseInputError

FloatArray = NDArray[np.float64]
Z95 = 1.959963984540054
#: fits on more rows than this start from a fit to a sample of ``_WARM_START_DRAWS`` customers
_WARM_START_ROWS = 20_000
_WARM_START_DRAWS = 4_000


def dot(a: Any, b: Any) -> float:
    """Sum of ``a * b`` without BLAS.

    OpenBLAS's threaded ``ddot`` costs milliseconds of CPU per call on a loaded machine (its threads spin
    while waiting for a core), far more than the product itself.
    """
    return float(np.multiply(a, b).sum())


@dataclass(frozen=True)
class CovariateLink:
    """Covariates acting on one parameter: ``theta_i = theta_0 * exp(sign * gamma' z_i)``."""

    parameter: str
    columns: tuple[str, ...]
    sign: float


class BaseModel:
    """Base class of every model: declare ``_param_names``, ``_loglik`` and ``_initial_params``.

    Parameters
    ----------
    penalizer:
        L2 penalty on the log-parameters (0, the default, is plain maximum likelihood).
    """

    _param_names: ClassVar[tuple[str, ...]] = ()
    #: parameters that may carry covariates, with the sign of the link (CLVTools' convention)
    _covariate_signs: ClassVar[dict[str, float]] = {}
    _data_columns: ClassVar[tuple[str, ...]] = ()

    def __init__(self, penalizer: float = 0.0):
        self.penalizer = penalizer

    # ---- to be provided by each model -------------------------------------------------------------------
    def _loglik(
        self, p: dict[str, Any], d: dict[str, FloatArray]
    ) -> tuple[FloatArray, dict[str, FloatArray]]:
        """Return the per-row log-likelihood and its gradient w.r.t. the log of each parameter.

        ``p[name]`` is a scalar or a per-row array (when covariates act on it).
        """
        raise NotImplementedError

    def _initial_params(self, d: dict[str, FloatArray], w: FloatArray) -> dict[str, float]:
        raise NotImplementedError

    def _weighted_loglik(
        self, p: dict[str, float], d: dict[str, Any], w: FloatArray
    ) -> tuple[float, dict[str, float]]:
        """``sum_i w_i log L_i`` and its gradient w.r.t. the log-parameters, for scalar parameters.

        This default sums :meth:`_loglik`; a model may override it with a faster evaluation of the same
        formulas (e.g. terms that depend on a customer only through ``x`` computed once per distinct ``x``).
        """
        ll, grad = self._loglik(p, d)
        return float(np.sum(w * ll)), {k: float(np.sum(w * v)) for k, v in grad.items()}

    # ---- fitted state ----------------------------------------------------------------------------------
    params_: dict[str, float]
    covariate_params_: dict[str, dict[str, float]]
    log_likelihood_: float
    n_customers_: int
    #: seconds in the optimiser alone (not reading, compressing or the Hessian)
    fit_seconds_: float
    #: seconds spent on the Hessian (standard errors) after the optimiser
    hessian_seconds_: float
    _cov: FloatArray
    _theta: FloatArray
    _links: tuple[CovariateLink, ...] = ()

    # ---- helpers ---------------------------------------------------------------------------------------
    @property
    def _n_base(self) -> int:
        return len(self._param_names)

    def _theta_names(self) -> list[str]:
        names = list(self._param_names)
        for link in getattr(self, "_links", ()):
            names += [f"{link.parameter}:{c}" for c in link.columns]
        return names

    def _row_params(
        self, theta: FloatArray, covariates: dict[str, FloatArray] | None, links: tuple[CovariateLink, ...]
    ) -> tuple[dict[str, Any], dict[str, tuple[CovariateLink, slice]]]:
        base = dict(zip(self._param_names, np.exp(theta[: self._n_base]), strict=True))
        out: dict[str, Any] = {k: float(v) for k, v in base.items()}
        slices: dict[str, tuple[CovariateLink, slice]] = {}
        pos = self._n_base
        for link in links:
            assert covariates is not None
            k = len(link.columns)
            gamma = theta[pos : pos + k]
            z = np.column_stack([covariates[c] for c in link.columns])
            out[link.parameter] = base[link.parameter] * np.exp(link.sign * (z @ gamma))
            slices[link.parameter] = (link, slice(pos, pos + k))
            pos += k
        return out, slices

    def _objective(
        self,
        theta: FloatArray,
        d: dict[str, FloatArray],
        w: FloatArray,
        covariates: dict[str, FloatArray] | None,
        links: tuple[CovariateLink, ...],
        scale: float,
    ) -> tuple[float, FloatArray]:
        p, slices = self._row_params(theta, covariates, links)
        g = np.empty_like(theta)
        with np.errstate(all="ignore"):
            if slices:
                ll, grad = self._loglik(p, d)
                value = float(np.sum(w * ll))
                for j, name in enumerate(self._param_names):
                    g[j] = float(np.sum(w * grad[name]))
            else:
                value, gsum = self._weighted_loglik(p, d, w)
                for j, name in enumerate(self._param_names):
                    g[j] = gsum[name]
        for name, (link, sl) in slices.items():
            assert covariates is not None
            z = np.column_stack([covariates[c] for c in link.columns])
            g[sl] = link.sign * ((w * grad[name]) @ z)
        if self.penalizer:
            value -= self.penalizer * float(np.sum(theta[: self._n_base] ** 2))
            g[: self._n_base] -= 2 * self.penalizer * theta[: self._n_base]
        if not np.isfinite(value) or not np.all(np.isfinite(g)):
            return 1e300, np.zeros_like(theta)
        return -value / scale, -g / scale

    def _fit(
        self,
        d: dict[str, FloatArray],
        weights: FloatArray | None,
        covariates: dict[str, FloatArray] | None = None,
        links: tuple[CovariateLink, ...] = (),
        initial_params: dict[str, float] | None = None,
    ) -> Self:
        n = len(next(iter(d.values())))
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
        if w.shape != (n,) or np.any(w < 0) or not np.all(np.isfinite(w)):
            raise KeepwiseInputError("weights must be one finite, non-negative number per row")
        if n == 0 or w.sum() <= 0:
            raise KeepwiseInputError("no customers to fit: the data has no rows")
        start = initial_params or self._initial_params(d, w)
        theta0 = np.concatenate(
            [np.log([start[k] for k in self._param_names]), np.zeros(sum(len(lk.columns) for lk in links))]
        )
        scale = float(w.sum())
        bounds = [(-20.0, 20.0)] * self._n_base + [(-50.0, 50.0)] * (len(theta0) - self._n_base)
        args = (d, w, covariates, links, scale)
        t0 = time.perf_counter()
        hess_inv0 = None
        if not links and initial_params is None and n > _WARM_START_ROWS:
            theta0, hess_inv0 = self._warm_start(theta0, d, w)
        res = optimize.minimize(
            self._objective,
            theta0,
            args=args,
            jac=True,
            # BFGS on the unconstrained log-parameters: scipy's L-BFGS-B spends milliseconds per iteration in
            # multithreaded BLAS calls on a loaded machine, more than the likelihood of 10k tuples costs
            method="BFGS",
            options={"maxiter": 2000, "gtol": 1e-8, "xrtol": 1e-12, "hess_inv0": hess_inv0},
        )
        theta = res.x
        self.fit_seconds_ = time.perf_counter() - t0
        t1 = time.perf_counter()
        g0 = np.asarray(res.jac, dtype=float) if np.all(np.isfinite(res.jac)) else None
        hessian = self._hessian(theta, args, g0)
        self.hessian_seconds_ = time.perf_counter() - t1
        self._check_convergence(res, theta, hessian, bounds)
        if g0 is not None:
            theta, res.fun = self._newton_polish(theta, float(res.fun), g0, hessian, args)
        self._theta = theta
        self._links = links
        self._cov = np.asarray(np.linalg.inv(hessian * scale), dtype=float)
        self.params_ = dict(zip(self._param_names, map(float, np.exp(theta[: self._n_base])), strict=True))
        self.covariate_params_ = {}
        pos = self._n_base
        for link in links:
            k = len(link.columns)
            self.covariate_params_[link.parameter] = dict(
                zip(link.columns, map(float, theta[pos : pos + k]), strict=True)
            )
            pos += k
        self.log_likelihood_ = -float(res.fun) * scale
        if self.penalizer:
            self.log_likelihood_ += self.penalizer * float(np.sum(theta[: self._n_base] ** 2))
        self.n_customers_ = round(float(w.sum()))
        return self

    def _newton_polish(
        self, theta: FloatArray, fun: float, grad: FloatArray, hessian: FloatArray, args: tuple[Any, ...]
    ) -> tuple[FloatArray, float]:
        """One Newton step from BFGS's stopping point with the Hessian computed for the standard errors.

        BFGS stops once the gradient is below its tolerance, at a point that depends on the rounding of the
        sums, so the same tuples in another row order gave estimates differing by ~1e-7. One Newton step
        takes the error to the square of that (one more evaluation); it is kept only if it does not lower
        the likelihood.
        """
        step = np.linalg.solve(hessian, grad)
        if not np.all(np.isfinite(step)) or np.max(np.abs(step)) > 1e-3:
            return theta, fun
        new = theta - step
        value = self._objective(new, *args)[0]
        if np.isfinite(value) and value <= fun + 1e-15 * abs(fun):
            return new, value
        return theta, fun

    def _warm_start(
        self, theta0: FloatArray, d: dict[str, FloatArray], w: FloatArray
    ) -> tuple[FloatArray, FloatArray | None]:
        """Starting point and inverse Hessian from a fit to a weighted sample of the customers.

        ``_WARM_START_DRAWS`` customers drawn (with replacement, in proportion to the weights, fixed seed)
        give estimates within a few percent of the full data's and BFGS's curvature there; the objective is
        the mean log-likelihood per customer, so that curvature carries over, and BFGS on all rows then needs
        a handful of iterations instead of thirty. Falls back to the plain start if the sample fit fails.
        """
        rng = np.random.default_rng(12345)
        counts = np.bincount(rng.choice(len(w), size=_WARM_START_DRAWS, p=w / w.sum()), minlength=len(w))
        keep = counts > 0
        sub = {k: v[keep] for k, v in d.items() if not k.startswith("_")}
        sub_w = counts[keep].astype(float)
        res = optimize.minimize(
            self._objective,
            theta0,
            args=(sub, sub_w, None, (), float(sub_w.sum())),
            jac=True,
            method="BFGS",
            options={"maxiter": 500, "gtol": 1e-5},
        )
        if not np.all(np.isfinite(res.x)) or res.fun >= 1e299 or np.any(np.abs(res.x) > 15):
            return theta0, None  # the sample fit went astray: start where the plain fit would
        hess_inv = np.asarray(res.hess_inv, dtype=float)
        hess_inv = 0.5 * (hess_inv + hess_inv.T)
        try:
            np.linalg.cholesky(hess_inv)
        except np.linalg.LinAlgError:
            return np.asarray(res.x, dtype=float), None
        return np.asarray(res.x, dtype=float), hess_inv

    def _hessian(self, theta: FloatArray, args: tuple[Any, ...], g0: FloatArray | None = None) -> FloatArray:
        """Finite differences of the analytic gradient, symmetrised.

        With ``g0``, the gradient at ``theta`` (the optimiser's last), forward differences (k evaluations,
        relative error ~1e-6, plenty for standard errors); without it central differences (2k).
        """
        k = len(theta)
        h = np.empty((k, k))
        for j in range(k):
            e = np.zeros(k)
            if g0 is not None:
                e[j] = 1e-6 * max(1.0, abs(theta[j]))
                h[:, j] = (self._objective(theta + e, *args)[1] - g0) / e[j]
                continue
            e[j] = 1e-5 * max(1.0, abs(theta[j]))
            gp = self._objective(theta + e, *args)[1]
            gm = self._objective(theta - e, *args)[1]
            h[:, j] = (gp - gm) / (2 * e[j])
        return 0.5 * (h + h.T)

    def _check_convergence(
        self,
        res: optimize.OptimizeResult,
        theta: FloatArray,
        hessian: FloatArray,
        bounds: list[tuple[float, float]],
    ) -> None:
        problem = None
        if not np.isfinite(res.fun) or res.fun >= 1e299:
            problem = "the log-likelihood is not finite at the solution"
        elif not res.success and np.max(np.abs(res.jac)) > 1e-5:
            problem = f"the optimiser stopped early ({res.message})"
        elif any(not lo < t < hi for t, (lo, hi) in zip(theta, bounds, strict=True)):
            problem = "a parameter ran to the edge of its range (exp(+-20) or a coefficient of +-50)"
        else:
            try:
                np.linalg.cholesky(hessian)
            except np.linalg.LinAlgError:
                problem = (
                    "the Hessian at the solution is not positive definite (a parameter is not identified)"
                )
        if problem is not None:
            name = type(self).__name__
            raise ConvergenceError(
                f"{name} did not converge: {problem}. Things to check: "
                "(1) the data: frequency counts repeat purchases only, recency <= T, no negative values, "
                "and enough customers with repeat purchases; "
                "(2) the time unit: T in days gives rates ~7x smaller than weeks; try --time-unit week; "
                "(3) a covariate that is constant, collinear with another, or perfectly separates customers; "
                "(4) a different starting point (initial_params=...) or a small penalizer (e.g. 0.001); "
                "(5) whether the model suits the data at all (e.g. almost no repeat buyers)."
            )

    # ---- results ---------------------------------------------------------------------------------------
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

    # ---- persistence -----------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fitted state as plain JSON-able data."""
        self._require_fitted()
        return {
            "model": type(self).__name__,
            "params": self.params_,
            "theta": self._theta.tolist(),
            "cov": self._cov.tolist(),
            "links": [[lk.parameter, list(lk.columns), lk.sign] for lk in self._links],
            "log_likelihood": self.log_likelihood_,
            "n_customers": self.n_customers_,
            "penalizer": self.penalizer,
            "extra": self._extra_state(),
        }

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _set_extra_state(self, extra: dict[str, Any]) -> None:
        pass

    def save(self, path: str | Path) -> None:
        """Write the fitted model to a JSON file."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Self:
        """Read a model written by :meth:`save`."""
        state = json.loads(Path(path).read_text())
        if state.get("model") != cls.__name__:
            raise KeepwiseInputError(f"{path} holds a {state.get('model')}, not a {cls.__name__}")
        obj = cls(penalizer=state.get("penalizer", 0.0))
        obj._theta = np.asarray(state["theta"], dtype=float)
        obj._cov = np.asarray(state["cov"], dtype=float)
        obj._links = tuple(CovariateLink(p, tuple(c), float(s)) for p, c, s in state["links"])
        obj.params_ = {k: float(v) for k, v in state["params"].items()}
        obj.covariate_params_ = {}
        pos = obj._n_base
        for link in obj._links:
            k = len(link.columns)
            obj.covariate_params_[link.parameter] = dict(
                zip(link.columns, obj._theta[pos : pos + k], strict=True)
            )
            pos += k
        obj.log_likelihood_ = float(state["log_likelihood"])
        obj.n_customers_ = int(state["n_customers"])
        obj.fit_seconds_ = 0.0
        obj.hessian_seconds_ = 0.0
        obj._set_extra_state(state.get("extra", {}))
        return obj


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
