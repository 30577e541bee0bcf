r"""Conditional (multinomial) logit by Newton's method with the analytic gradient and Hessian.

The probability that alternative ``j`` of task ``t`` is chosen is

.. math:: P_{tj} = \exp(x_{tj}'\beta) / \sum_k \exp(x_{tk}'\beta),

the log-likelihood is :math:`\ell(\beta) = \sum_t \log P_{t,c_t}` (``c_t`` the chosen alternative), its
gradient :math:`\sum_t (x_{t c_t} - \bar x_t)` with :math:`\bar x_t = \sum_j P_{tj} x_{tj}`, and minus its
Hessian, the information, :math:`\sum_t \sum_j P_{tj} (x_{tj} - \bar x_t)(x_{tj} - \bar x_t)'`, which is
positive definite whenever the columns vary within tasks, so Newton's method converges from zero
(McFadden 1974, "Conditional logit analysis of qualitative choice behavior"; Train 2009, *Discrete Choice
Methods with Simulation*, 2nd ed., chapters 3 and 8). Standard errors come from the inverse information at
the estimate; McFadden's rho-squared is :math:`1 - \ell(\hat\beta) / \ell(0)`.

Every step is a handful of vectorised passes over the rows (``np.add.reduceat`` over each task's
contiguous rows), so a million rows fit in seconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from keepwise.conjoint.coding import ChoiceData
from keepwise.exceptions import ConvergenceError, KeepwiseInputError

__all__ = ["ConditionalLogit", "mnl_loglik"]


def mnl_loglik(
    beta: np.ndarray, data: ChoiceData, derivatives: bool = True
) -> tuple[float, np.ndarray | None, np.ndarray | None]:
    """Log-likelihood, gradient and information (minus the Hessian) of the conditional logit at ``beta``."""
    X, starts = data.X, data.starts
    sizes = data.sizes
    v = X @ beta
    v -= np.repeat(np.maximum.reduceat(v, starts), sizes)
    ev = np.exp(v)
    denom = np.add.reduceat(ev, starts)
    ll = float(v[data.chosen].sum() - np.log(denom).sum())
    if not derivatives:
        return ll, None, None
    p = ev / np.repeat(denom, sizes)
    px = X * p[:, None]
    xbar = np.add.reduceat(px, starts)
    gradient = X[data.chosen].sum(axis=0) - xbar.sum(axis=0)
    information = px.T @ X - xbar.T @ xbar
    return ll, gradient, information


class ConditionalLogit:
    """Conditional logit fitted by Newton-Raphson with step halving.

    Parameters
    ----------
    max_iter:
        Newton steps before giving up with a :class:`~keepwise.exceptions.ConvergenceError`.
    tol:
        Convergence when the Newton decrement ``g' H^{-1} g`` falls below ``tol``.

    Attributes
    ----------
    coef_, se_, cov_:
        Estimates, standard errors and their covariance (inverse information).
    log_likelihood_, null_log_likelihood_:
        Log-likelihood at the estimate and at ``beta = 0`` (equal shares).
    rho_squared_, adjusted_rho_squared_:
        McFadden's ``1 - LL/LL0`` and ``1 - (LL - K)/LL0``.
    n_tasks_, n_iter_, names_:
        Tasks used, Newton steps taken, coefficient names.
    """

    def __init__(self, max_iter: int = 100, tol: float = 1e-12) -> None:
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, data: ChoiceData) -> ConditionalLogit:
        """Fit on :class:`~keepwise.conjoint.coding.ChoiceData`; returns ``self``."""
        K = data.X.shape[1]
        if K == 0:
            raise KeepwiseInputError("no attributes to estimate: name at least one attribute column")
        _check_identified(data)
        beta = np.zeros(K)
        ll, g, H = mnl_loglik(beta, data)
        assert g is not None and H is not None
        self.null_log_likelihood_ = ll
        H0 = H
        converged = False
        n_iter = 0
        while n_iter < self.max_iter:
            n_iter += 1
            try:
                step = np.linalg.solve(H, g)
            except np.linalg.LinAlgError:
                break
            decrement = float(g @ step)
            if decrement < self.tol:
                converged = True
                break
            t = 1.0
            for _ in range(40):
                new_ll = mnl_loglik(beta + t * step, data, derivatives=False)[0]
                if np.isfinite(new_ll) and new_ll >= ll - 1e-12 * abs(ll):
                    break
                t /= 2
            beta = beta + t * step
            ll, g, H = mnl_loglik(beta, data)
            assert g is not None and H is not None
        if converged and _vanishing_information(H, H0):
            converged = False  # the likelihood flattens out towards infinity: (quasi-)separation
        if not converged:
            raise ConvergenceError(
                f"the conditional logit did not converge in {n_iter} Newton steps "
                f"(log-likelihood {ll:.4f}). Check: 1. an attribute level that is always (or never) chosen "
                "makes its part-worth infinite: merge it with another level or drop it; 2. a numeric column "
                "on a huge scale (e.g. cents): rescale it; 3. columns that are the same within every task "
                "carry no information: remove them; 4. raise max_iter."
            )
        self.coef_ = beta
        self.cov_ = np.linalg.inv(H)
        self.se_ = np.sqrt(np.diag(self.cov_))
        self.log_likelihood_ = ll
        self.rho_squared_ = 1.0 - ll / self.null_log_likelihood_
        self.adjusted_rho_squared_ = 1.0 - (ll - K) / self.null_log_likelihood_
        self.n_tasks_ = data.n_tasks
        self.n_iter_ = n_iter
        self.names_ = list(data.names)
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """Estimates with standard errors, z, two-sided p and 95% Wald intervals."""
        z = self.coef_ / self.se_
        q = stats.norm.ppf(0.975)
        return pd.DataFrame(
            {
                "coef": self.coef_,
                "se": self.se_,
                "z": z,
                "p": 2 * stats.norm.sf(np.abs(z)),
                "lower 95%": self.coef_ - q * self.se_,
                "upper 95%": self.coef_ + q * self.se_,
            },
            index=pd.Index(self.names_, name="coefficient"),
        )

    def individual_betas(self) -> np.ndarray:
        """One row of coefficients (the same for everyone), for the simulator."""
        return self.coef_[None, :]

    def predict_proba(self, data: ChoiceData) -> np.ndarray:
        """Choice probability of every row of ``data``."""
        v = data.X @ self.coef_
        v -= np.repeat(np.maximum.reduceat(v, data.starts), data.sizes)
        ev = np.exp(v)
        return ev / np.repeat(np.add.reduceat(ev, data.starts), data.sizes)


def _vanishing_information(H: np.ndarray, H0: np.ndarray) -> bool:
    """True when some direction keeps less than 1e-7 of its information at beta = 0.

    Under (quasi-)complete separation the likelihood climbs towards zero along a direction in which all
    probabilities tend to 0 or 1, so the information there vanishes while the Newton decrement looks small.
    """
    L = np.linalg.cholesky(H0)
    Linv = np.linalg.inv(L)
    ratios = np.linalg.eigvalsh(Linv @ H @ Linv.T)
    return bool(ratios.min() < 1e-7)


def _check_identified(data: ChoiceData) -> None:
    """A column that never varies within a task, or a combination of such, cannot be estimated."""
    X, starts, sizes = data.X, data.starts, data.sizes
    sample = slice(None) if data.n_tasks <= 20_000 else slice(0, int(starts[20_000]))
    Xs = X[sample]
    st = starts[starts < len(Xs)]
    means = np.add.reduceat(Xs, st) / sizes[: len(st), None]
    within = Xs - np.repeat(means, sizes[: len(st)], axis=0)
    scale = np.abs(within).max(axis=0)
    flat = [name for name, s in zip(data.names, scale, strict=True) if s == 0]
    if flat:
        raise KeepwiseInputError(
            f"column(s) {flat} do not vary within any task, so their effect cannot be estimated: drop them"
        )
    rank = np.linalg.matrix_rank(within / scale)
    if rank < X.shape[1]:
        raise KeepwiseInputError(
            f"the attribute columns {data.names} are linearly dependent within tasks (rank {rank} of "
            f"{X.shape[1]}): drop a redundant column"
        )
