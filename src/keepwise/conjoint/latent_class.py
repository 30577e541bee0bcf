r"""Latent-class multinomial logit: a few segments, each with its own part-worths, found by EM.

Respondent ``n`` belongs to class ``s`` with probability :math:`\pi_s`; given the class, all their choices
follow a conditional logit with part-worths :math:`\beta_s`. The log-likelihood is

.. math:: \ell = \sum_n \log \sum_s \pi_s \prod_{t \in n} P_t(\beta_s),

maximised by the EM algorithm (Kamakura and Russell 1989, "A probabilistic choice model for market
segmentation and elasticity structure", *Journal of Marketing Research* 26; Train 2009, *Discrete Choice
Methods with Simulation*, 2nd ed., section 14.3.2): the E-step gives each respondent's posterior class
membership :math:`h_{ns} \propto \pi_s \prod_t P_t(\beta_s)`; the M-step sets :math:`\pi_s` to the mean
membership and fits each class's conditional logit with task weights :math:`h_{ns}` (Newton's method with
the analytic gradient and Hessian, as :mod:`keepwise.conjoint.mnl`). EM is run from several random
partitions of the respondents and the best log-likelihood is kept; classes are numbered by size.

Standard errors come from the Hessian of :math:`\ell` itself (central differences of its analytic gradient
in :math:`\beta_s` and in the class-share logits), so they include the uncertainty of who belongs where.
Choose the number of classes by BIC (:attr:`LatentClassMNL.bic_`, lower is better).

Population-level part-worths are the share-weighted means :math:`\bar\beta = \sum_s \pi_s \beta_s`
(:attr:`LatentClassMNL.coef_`); their covariance follows by the delta method from the full covariance of the
class part-worths and share logits, with :math:`\partial\bar\beta / \partial\alpha_j = \pi_j (\beta_j -
\bar\beta)`. The simulator's shares of preference are the share-weighted mixture
:math:`\sum_s \pi_s P_s` of the classes' logit shares (:meth:`LatentClassMNL.shares`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import logsumexp

from keepwise.conjoint.coding import ChoiceData
from keepwise.exceptions import BadInput, ConvergenceError, KeepwiseInputError

__all__ = ["LatentClassMNL"]


class LatentClassMNL:
    r"""Latent-class conditional logit fitted by EM (see the module docstring).

    Parameters
    ----------
    classes:
        Number of classes (segments).
    starts:
        EM runs from random partitions of the respondents; the best log-likelihood wins.
    max_iter, tol:
        EM iterations per start, and convergence when the log-likelihood rises by less than ``tol``.
    seed:
        Seed of the random starts.

    Attributes
    ----------
    class_shares_:
        :math:`\pi_s`, largest first.
    class_coef_, class_se_:
        Part-worths of each class and their standard errors, ``(classes, K)``.
    membership_:
        Posterior class probabilities of each respondent, ``(respondents, classes)``.
    coef_, se_, cov_:
        Share-weighted mean part-worths :math:`\sum_s \pi_s \beta_s`, their delta-method standard errors
        and covariance.
    theta_cov_:
        Covariance of all parameters: the class part-worths (class by class) then the share logits of
        classes 2..S against class 1.
    log_likelihood_, bic_, aic_, n_params_:
        Fit and information criteria (``n_params_ = classes K + classes - 1``; BIC uses the number of
        respondents as the sample size).
    n_tasks_, n_respondents_, names_, respondents_, n_iter_:
        Data sizes, coefficient names, respondent ids, EM iterations of the best start.
    """

    #: BIC of each number of classes tried, when the number was chosen by BIC (``--classes auto``).
    bic_by_classes_: dict[int, float] | None = None

    def __init__(
        self, classes: int = 2, starts: int = 10, max_iter: int = 1000, tol: float = 1e-8, seed: int = 0
    ) -> None:
        self.classes = classes
        self.starts = starts
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed

    # ---- pieces of the likelihood ------------------------------------------------------------------
    def _all_classes(self, betas: np.ndarray, data: ChoiceData) -> tuple[np.ndarray, np.ndarray]:
        """Chosen log-probability of every task ``(tasks, S)`` and every row's probability ``(rows, S)``."""
        v = data.X @ betas.T
        v = v - np.repeat(np.maximum.reduceat(v, data.starts, axis=0), data.sizes, axis=0)
        ev = np.exp(v)
        denom = np.add.reduceat(ev, data.starts, axis=0)
        return v[data.chosen] - np.log(denom), ev / np.repeat(denom, data.sizes, axis=0)

    def _by_respondent(self, ll_t: np.ndarray, data: ChoiceData) -> np.ndarray:
        """Task log-likelihoods ``(tasks, S)`` summed per respondent: ``(respondents, S)``."""
        assert data.respondent is not None
        return np.stack([np.bincount(data.respondent, c, self._N) for c in ll_t.T], axis=1)

    def _m_step(
        self, betas: np.ndarray, ll_t: np.ndarray, P: np.ndarray, W: np.ndarray, data: ChoiceData
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One Newton step (with step halving) of every class's conditional logit with task weights ``W``.

        One step per EM iteration is enough: each raises the weighted likelihood, so EM still climbs (a
        generalised EM, Dempster, Laird and Rubin 1977) at a fraction of the cost of solving each M-step.
        Returns the new betas with their task log-likelihoods and row probabilities.
        """
        X = data.X
        x_chosen = X[data.chosen]
        K = X.shape[1]
        steps = np.empty_like(betas)
        for s in range(betas.shape[0]):
            w = W[:, s]
            px = X * P[:, s, None]
            xbar = np.add.reduceat(px, data.starts)
            g = (w[:, None] * (x_chosen - xbar)).sum(axis=0)
            H = (px * np.repeat(w, data.sizes)[:, None]).T @ X - (xbar * w[:, None]).T @ xbar
            steps[s] = np.linalg.solve(H + 1e-8 * np.eye(K), g)
        old = (W * ll_t).sum(axis=0)
        t = np.ones(betas.shape[0])
        for _ in range(30):
            new_betas = betas + t[:, None] * steps
            new_ll_t, new_P = self._all_classes(new_betas, data)
            worse = (W * new_ll_t).sum(axis=0) < old - 1e-12 * np.abs(old)
            if not worse.any():
                break
            t = np.where(worse, t / 2, t)
        return new_betas, new_ll_t, new_P

    def _gradient(self, theta: np.ndarray, data: ChoiceData) -> np.ndarray:
        """Analytic gradient of the marginal log-likelihood in (betas, share logits of classes 2..S)."""
        assert data.respondent is not None
        S, K = self.classes, data.X.shape[1]
        betas = theta[: S * K].reshape(S, K)
        alpha = np.r_[0.0, theta[S * K :]]
        log_pi = alpha - logsumexp(alpha)
        ll_t, P = self._all_classes(betas, data)
        L = self._by_respondent(ll_t, data) + log_pi
        h = np.exp(L - logsumexp(L, axis=1, keepdims=True))
        x_chosen = data.X[data.chosen]
        grad_b = [
            (
                h[data.respondent, s][:, None]
                * (x_chosen - np.add.reduceat(data.X * P[:, s, None], data.starts))
            ).sum(axis=0)
            for s in range(S)
        ]
        grad_a = (h - np.exp(log_pi)).sum(axis=0)[1:]
        return np.concatenate([np.concatenate(grad_b), grad_a])

    # ---- fitting --------------------------------------------------------------------------------------
    def fit(self, data: ChoiceData) -> LatentClassMNL:
        """Fit on :class:`~keepwise.conjoint.coding.ChoiceData` (a respondent per task); returns ``self``."""
        if data.respondent is None:
            raise BadInput("respondent", "latent classes need a respondent column (whose tasks are whose)")
        S = self.classes
        if S < 1 or self.starts < 1:
            raise KeepwiseInputError("latent classes need at least one class and one start")
        self._N = N = int(data.respondent.max()) + 1
        K = data.X.shape[1]
        n_params = S * K + S - 1
        if N < 2 * S or N < n_params:
            raise KeepwiseInputError(
                f"{N} respondents are too few for {S} classes of {K} coefficients ({n_params} parameters): "
                "latent classes need at least one respondent per parameter; use fewer classes"
            )
        rng = np.random.default_rng(self.seed)
        best: tuple[float, np.ndarray, np.ndarray, int] | None = None
        for _ in range(self.starts if S > 1 else 1):
            h = np.eye(S)[rng.integers(0, S, N)] * 0.8 + 0.2 / S  # a soft random partition
            betas = np.zeros((S, K))
            ll_t, P = self._all_classes(betas, data)
            pi = h.mean(axis=0)
            previous = -np.inf
            n_iter = 0
            ll = -np.inf
            while n_iter < self.max_iter:
                n_iter += 1
                betas, ll_t, P = self._m_step(betas, ll_t, P, h[data.respondent], data)
                pi = np.maximum(h.mean(axis=0), 1e-12)
                L = self._by_respondent(ll_t, data) + np.log(pi)
                total = logsumexp(L, axis=1)
                ll = float(total.sum())
                h = np.exp(L - total[:, None])
                if ll - previous < self.tol:
                    break
                previous = ll
            if best is None or ll > best[0] + 1e-9:
                best = (ll, betas, pi, n_iter)
        assert best is not None
        ll, betas, pi, n_iter = best
        order = np.argsort(-pi, kind="stable")
        betas, pi = betas[order], pi[order]
        theta = np.concatenate([betas.ravel(), np.log(pi[1:] / pi[0])])
        self.class_shares_ = pi
        self.class_coef_ = betas
        self.log_likelihood_ = ll
        self.n_params_ = S * K + S - 1
        self.bic_ = -2 * ll + self.n_params_ * np.log(N)
        self.aic_ = -2 * ll + 2 * self.n_params_
        L = self._by_respondent(self._all_classes(betas, data)[0], data) + np.log(pi)
        self.membership_ = np.exp(L - logsumexp(L, axis=1, keepdims=True))
        self.coef_ = pi @ betas
        self.theta_cov_ = self._covariance(theta, data)
        self.class_se_ = np.sqrt(np.maximum(np.diag(self.theta_cov_), 0.0))[: S * K].reshape(S, K)
        self.cov_ = self._population_covariance()
        self.se_ = np.sqrt(np.maximum(np.diag(self.cov_), 0.0))
        self.n_tasks_ = data.n_tasks
        self.n_respondents_ = N
        self.n_iter_ = n_iter
        self.names_ = list(data.names)
        self.respondents_ = data.respondents
        return self

    def _population_covariance(self) -> np.ndarray:
        r"""Delta-method covariance of the share-weighted part-worths :math:`\sum_s \pi_s \beta_s`."""
        pi, betas = self.class_shares_, self.class_coef_
        S, K = betas.shape
        J = np.zeros((K, S * K + S - 1))
        for s in range(S):
            J[:, s * K : (s + 1) * K] = pi[s] * np.eye(K)
        for j in range(1, S):
            J[:, S * K + j - 1] = pi[j] * (betas[j] - self.coef_)
        cov: np.ndarray = J @ self.theta_cov_ @ J.T
        return cov

    def class_covariance(self, s: int) -> np.ndarray:
        """Covariance of class ``s``'s part-worths (0-based, classes numbered by size)."""
        K = self.class_coef_.shape[1]
        block: np.ndarray = self.theta_cov_[s * K : (s + 1) * K, s * K : (s + 1) * K]
        return block

    def individual_betas(self) -> np.ndarray:
        """Part-worth rows to simulate with: one per class, weighted by :attr:`class_shares_`."""
        return np.asarray(self.class_coef_)

    def _covariance(self, theta: np.ndarray, data: ChoiceData) -> np.ndarray:
        P = len(theta)
        H = np.empty((P, P))
        for i in range(P):
            step = 1e-5 * max(1.0, abs(theta[i]))
            up, down = theta.copy(), theta.copy()
            up[i] += step
            down[i] -= step
            H[:, i] = (self._gradient(up, data) - self._gradient(down, data)) / (2 * step)
        H = (H + H.T) / 2
        try:
            cov = np.linalg.inv(-H)
        except np.linalg.LinAlgError:
            raise ConvergenceError(
                "the latent-class information matrix is singular. Check: 1. fewer classes (a class with "
                "almost no members cannot be estimated); 2. more respondents or tasks."
            ) from None
        return np.asarray(cov)

    @property
    def summary(self) -> pd.DataFrame:
        """Part-worths per class (rows: coefficients; columns: ``class s``, ``se s``) plus class shares."""
        columns: dict[str, np.ndarray] = {}
        for s in range(self.classes):
            columns[f"class {s + 1}"] = self.class_coef_[s]
            columns[f"se {s + 1}"] = self.class_se_[s]
        frame = pd.DataFrame(columns, index=pd.Index(self.names_, name="coefficient"))
        shares = pd.DataFrame(
            {f"class {s + 1}": [self.class_shares_[s]] for s in range(self.classes)}, index=["share"]
        )
        return pd.concat([frame, shares])

    def predict_class(self) -> np.ndarray:
        """Most probable class of each respondent (0-based, classes numbered by size)."""
        return self.membership_.argmax(axis=1)

    def shares(self, Z: np.ndarray) -> np.ndarray:
        r"""Shares of preference of options ``Z`` (rows in coefficient space): :math:`\sum_s \pi_s P_s`."""
        u = self.class_coef_ @ Z.T
        p = np.exp(u - u.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        return self.class_shares_ @ p
