"""Maximum likelihood on log-parameters: the optimiser, the Hessian and the convergence checks.

:class:`LikelihoodFitter` holds what a model declares (parameter names, per-row log-likelihood and
gradient, starting point) and fits it; :mod:`keepwise.models.base` describes the whole machinery.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar, Self

import numpy as np
from numpy.typing import NDArray
from scipy import optimize

from keepwise.exceptions import ConvergenceError, KeepwiseInputError

FloatArray = NDArray[np.float64]
#: fits on more rows than this start from a fit to a sample of ``_WARM_START_DRAWS`` customers
_WARM_START_ROWS = 20_000
_WARM_START_DRAWS = 4_000


#: an exact Hessian is used only when its smallest eigenvalue is at least this share of its largest: below,
#: finite differences (error ~1e-6 of the largest) decide as before whether a parameter is identified
_CONDITION = 1e-5


def _well_conditioned(hessian: FloatArray) -> bool:
    """Whether ``hessian`` is positive definite with room to spare (smallest eigenvalue / largest)."""
    eig = np.linalg.eigvalsh(hessian)
    return bool(eig[0] > _CONDITION * np.max(np.abs(eig)))


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


class LikelihoodFitter:
    """Fitting by maximum likelihood on log-parameters (models subclass ``BaseModel``).

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
        """The objective's Hessian: exact (:meth:`_exact_hessian`), else differences of the gradient.

        The exact Hessian is taken when it is well conditioned (:func:`_well_conditioned`): near a ridge of
        the likelihood (a parameter not identified) the finite differences' verdict is kept, so the same fits
        are accepted and refused as before. Differences of the analytic gradient are symmetrised. With
        ``g0``, the gradient at ``theta`` (the optimiser's last), forward differences (k evaluations, relative
        error ~1e-6, plenty for standard errors); without it central differences (2k).
        """
        exact = self._exact_hessian(theta, args)
        if exact is not None and _well_conditioned(exact):
            return exact
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

    def _exact_hessian(self, theta: FloatArray, args: tuple[Any, ...]) -> FloatArray | None:
        """The objective's Hessian from the model's analytic ``_weighted_hessian``, if it has one.

        Only without covariates; ``None`` (finite differences instead) when the model has none or it is not
        finite at ``theta``.
        """
        analytic = getattr(self, "_weighted_hessian", None)
        d, w, _, links, scale = args
        if analytic is None or links:
            return None
        p, _ = self._row_params(theta, None, ())
        with np.errstate(all="ignore"):
            h = -np.asarray(analytic(p, d, w), dtype=float) / scale
        if self.penalizer:  # the objective is -(log-likelihood - penalizer |theta|^2) / scale
            h += 2 * self.penalizer / scale * np.eye(len(theta))
        if not np.all(np.isfinite(h)):
            return None
        return np.asarray(0.5 * (h + h.T), dtype=float)

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
