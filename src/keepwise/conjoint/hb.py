r"""Hierarchical Bayes multinomial logit: individual part-worths with a full population covariance.

Each respondent ``n`` has part-worths :math:`\beta_n \sim N(b, W)`; given :math:`\beta_n` their choices
follow a conditional logit. The posterior is sampled by Gibbs sampling in three blocks (Allenby and Rossi
1998, "Marketing models of consumer heterogeneity"; Train 2009, *Discrete Choice Methods with Simulation*,
2nd ed., section 12.6.1):

1. :math:`b \mid W, \beta \sim N(\bar\beta, W / N)` (flat prior on ``b``);
2. :math:`W \mid b, \beta \sim IW(\nu_0 + N, \nu_0 s^2 I + \sum_n (\beta_n - b)(\beta_n - b)')` (prior
   :math:`IW(\nu_0, \nu_0 s^2 I)`, :math:`\nu_0 = K + 2`, prior variance :math:`s^2 = 0.1` by default:
   on three simulated panels of 400 respondents x 12 tasks (``bench/conjoint.py --hb-prior``, results in
   ``bench/RESULTS.md``) the population sds came out at a median 0.92 of the truth with 0.1, 0.82 with
   0.05, 1.30 with 0.5 and 1.57 with 1, and 0.1 covered the most population means; the individual data
   say little about ``W``, so its prior matters);
3. for every respondent at once, three Metropolis steps per iteration (``mh_steps``: on the same panels
   three steps x 10,000 iterations gave twice the smallest effective sample of one step x 20,000 in the
   same time), each :math:`\tilde\beta_n = \beta_n + \rho L\eta` (``L`` the
   Cholesky factor of ``W``), accepted with probability
   :math:`\min(1, L_n(\tilde\beta_n)\phi(\tilde\beta_n \mid b, W) / L_n(\beta_n)\phi(\beta_n \mid b, W))`;
   ``rho`` is tuned during burn-in towards an acceptance rate of 0.3.

The columns are standardised before sampling (so the ``IW(nu_0, nu_0 I)`` prior means the same for a price
in dollars as for an effects-coded level) and the draws are transformed back. Several chains run side by side
in the same numpy arrays; convergence is judged by the split R-hat and the effective sample size of the
population means and variances (Gelman et al. 2013, *Bayesian Data Analysis*, 3rd ed., section 11.4-11.5).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from keepwise.conjoint.coding import ChoiceData
from keepwise.exceptions import ConvergenceError, KeepwiseInputError

__all__ = ["HierarchicalBayesMNL", "effective_sample_size", "split_rhat"]


def split_rhat(draws: np.ndarray) -> np.ndarray:
    """Split R-hat of ``draws`` shaped ``(chains, draws, ...)`` (Gelman et al. 2013, section 11.4)."""
    D = draws.shape[1]
    half = D // 2
    halves = np.concatenate([draws[:, :half], draws[:, half : 2 * half]], axis=0)
    n = half
    means = halves.mean(axis=1)
    within = halves.var(axis=1, ddof=1).mean(axis=0)
    between = n * means.var(axis=0, ddof=1)
    pooled = (n - 1) / n * within + between / n
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.sqrt(np.where(within > 0, pooled / within, 1.0))


def effective_sample_size(draws: np.ndarray) -> np.ndarray:
    """Effective sample size of ``draws`` shaped ``(chains, draws, ...)``.

    Autocorrelations are combined over chains as in Gelman et al. (2013, section 11.5) and summed in pairs
    until a pair turns negative (Geyer's initial positive sequence).
    """
    C, D = draws.shape[:2]
    flat = draws.reshape(C, D, -1)
    centred = flat - flat.mean(axis=1, keepdims=True)
    size = 1 << (2 * D - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=size, axis=1)
    acov = np.fft.irfft(spectrum * np.conj(spectrum), n=size, axis=1)[:, :D] / D
    chain_var = acov[:, 0] * D / (D - 1)
    within = chain_var.mean(axis=0)
    between_over_n = flat.mean(axis=1).var(axis=0, ddof=1) if C > 1 else np.zeros(flat.shape[2])
    var_plus = within * (D - 1) / D + between_over_n
    out = np.empty(flat.shape[2])
    for k in range(flat.shape[2]):
        if var_plus[k] <= 0:
            out[k] = C * D
            continue
        rho = 1.0 - (within[k] - acov[:, :, k].mean(axis=0)) / var_plus[k]
        total = 0.0
        for t in range(0, D - 1, 2):
            pair = rho[t] + rho[t + 1]
            if pair < 0:
                break
            total += pair
        tau = max(2.0 * total - 1.0, 1.0 / np.log10(max(C * D, 10)))
        out[k] = C * D / tau
    return out.reshape(draws.shape[2:])


class HierarchicalBayesMNL:
    """Hierarchical Bayes MNL by Gibbs sampling with Metropolis steps (see the module docstring).

    Parameters
    ----------
    burn, draws:
        Iterations discarded (while ``rho`` is tuned) and kept, per chain.
    chains:
        Chains run side by side (at least 2 for R-hat).
    prior_dof:
        Degrees of freedom of the inverse-Wishart prior of ``W`` (default ``K + 2``).
    prior_variance:
        Prior variance ``s^2`` of each standardised part-worth (scale of the inverse-Wishart prior).
    mh_steps:
        Metropolis steps for the individual part-worths per Gibbs iteration.
    seed:
        Seed of the random numbers: the same seed gives the same draws.
    max_rhat:
        A population mean with a larger split R-hat raises :class:`~keepwise.exceptions.ConvergenceError`.
    keep_individual:
        Individual draws kept per chain for the simulator (thinned evenly).

    Attributes
    ----------
    coef_, se_:
        Posterior means and standard deviations of the population means ``b``.
    cov_:
        Posterior mean of the population covariance ``W``.
    individual_:
        Posterior means of each respondent's part-worths, ``(respondents, K)``.
    individual_sd_:
        Their posterior standard deviations.
    mean_draws_, cov_draws_:
        Kept draws of ``b`` ``(chains, draws, K)`` and of ``W`` ``(chains, draws, K, K)``.
    rhat_, ess_:
        Split R-hat and effective sample size of ``b`` and of the diagonal of ``W``.
    acceptance_:
        Metropolis acceptance rate of the kept draws.
    log_likelihood_:
        Log-likelihood of the data at the individual posterior means.
    """

    def __init__(
        self,
        burn: int = 5000,
        draws: int = 5000,
        chains: int = 2,
        prior_dof: float | None = None,
        seed: int = 0,
        max_rhat: float = 1.2,
        keep_individual: int = 100,
        mh_steps: int = 3,
        prior_variance: float = 0.1,
    ) -> None:
        self.burn = burn
        self.draws = draws
        self.chains = chains
        self.prior_dof = prior_dof
        self.seed = seed
        self.max_rhat = max_rhat
        self.keep_individual = keep_individual
        self.mh_steps = mh_steps
        self.prior_variance = prior_variance

    def fit(self, data: ChoiceData) -> HierarchicalBayesMNL:
        """Sample the posterior for ``data`` (which needs a respondent per task); returns ``self``."""
        if data.respondent is None:
            raise KeepwiseInputError("hierarchical Bayes needs a respondent column (--respondent-column)")
        if self.draws < 20 or self.chains < 1:
            raise KeepwiseInputError("hierarchical Bayes needs at least 20 kept draws and one chain")
        rng = np.random.default_rng(self.seed)
        X_raw = data.X
        K = X_raw.shape[1]
        scale = X_raw.std(axis=0)
        if (scale == 0).any():
            flat = [n for n, s in zip(data.names, scale, strict=True) if s == 0]
            raise KeepwiseInputError(f"column(s) {flat} never vary, so their part-worths cannot be estimated")
        X = X_raw / scale
        sizes = data.sizes
        starts = data.starts
        resp_of_task = data.respondent
        N = int(resp_of_task.max()) + 1
        resp_starts = np.flatnonzero(np.r_[True, resp_of_task[1:] != resp_of_task[:-1]])
        if len(resp_starts) != N:
            raise KeepwiseInputError("each respondent's tasks must be contiguous (sort by respondent)")
        resp_of_row = np.repeat(resp_of_task, sizes)
        C = self.chains
        nu0 = self.prior_dof if self.prior_dof is not None else K + 2.0

        tasks_per = np.diff(np.append(resp_starts, data.n_tasks))
        if (sizes == sizes[0]).all() and (tasks_per == tasks_per[0]).all():
            # every task has J alternatives and every respondent T tasks: a 4-d array, no reduceat
            J, T = int(sizes[0]), int(tasks_per[0])
            XT = np.ascontiguousarray(X.reshape(N, T * J, K).transpose(0, 2, 1))[None]  # (1, N, K, T*J)
            pick = (data.chosen - starts).reshape(N, T)[None, :, :, None]

            def loglik(beta: np.ndarray) -> np.ndarray:
                """Per chain and respondent log-likelihood; beta is (C, N, K)."""
                v = np.matmul(beta[:, :, None, :], XT).reshape(beta.shape[0], N, T, J)
                if np.abs(v).max() < 300:  # exp cannot overflow: skip the max shift
                    lse = np.log(np.exp(v).sum(axis=-1))
                else:
                    vmax = v.max(axis=-1, keepdims=True)
                    lse = np.log(np.exp(v - vmax).sum(axis=-1)) + vmax[..., 0]
                chosen = np.take_along_axis(v, np.broadcast_to(pick, (*v.shape[:3], 1)), -1)[..., 0]
                return (chosen - lse).sum(axis=-1)

        else:

            def loglik(beta: np.ndarray) -> np.ndarray:
                """Per chain and respondent log-likelihood; beta is (C, N, K)."""
                v = np.einsum("rk,crk->cr", X, beta[:, resp_of_row])
                return _respondent_ll(v, starts, sizes, data.chosen, resp_starts)

        b = rng.normal(0.0, 0.5, (C, K))
        W = np.broadcast_to(np.eye(K), (C, K, K)).copy()
        beta = b[:, None, :] + rng.normal(0.0, 0.1, (C, N, K))
        ll = loglik(beta)
        rho = np.full(C, 0.1)
        total = self.burn + self.draws
        mean_draws = np.empty((C, self.draws, K))
        cov_draws = np.empty((C, self.draws, K, K))
        sum_beta = np.zeros((C, N, K))
        sum_sq = np.zeros((C, N, K))
        keep_every = max(self.draws // max(self.keep_individual, 1), 1)
        kept: list[np.ndarray] = []
        accepted = 0.0
        window_accept = np.zeros(C)
        for it in range(total):
            # 1. population mean
            L = np.linalg.cholesky(W)
            bbar = beta.mean(axis=1)
            b = bbar + np.einsum("ckl,cl->ck", L, rng.standard_normal((C, K))) / np.sqrt(N)
            # 2. population covariance
            dev = beta - b[:, None, :]
            S = np.einsum("cnk,cnl->ckl", dev, dev)
            for c in range(C):
                W[c] = stats.invwishart.rvs(
                    df=nu0 + N, scale=nu0 * self.prior_variance * np.eye(K) + S[c], random_state=rng
                )
            L = np.linalg.cholesky(W)
            # 3. individual part-worths, Metropolis steps for everyone at once
            L_inv = np.linalg.inv(L)
            old_prior = _log_normal_kernel(beta, b, L_inv)
            rate = np.zeros(C)
            for _ in range(self.mh_steps):
                step = np.einsum("ckl,cnl->cnk", L, rng.standard_normal((C, N, K))) * rho[:, None, None]
                proposal = beta + step
                new_ll = loglik(proposal)
                new_prior = _log_normal_kernel(proposal, b, L_inv)
                accept = np.log(rng.random((C, N))) < new_ll + new_prior - ll - old_prior
                beta = np.where(accept[..., None], proposal, beta)
                ll = np.where(accept, new_ll, ll)
                old_prior = np.where(accept, new_prior, old_prior)
                rate += accept.mean(axis=1) / self.mh_steps
            if it < self.burn:
                window_accept += rate
                if (it + 1) % 10 == 0:
                    rho = np.where(window_accept / 10 > 0.3, rho * 1.1, rho * 0.9)
                    window_accept[:] = 0.0
                continue
            d = it - self.burn
            accepted += float(rate.mean())
            mean_draws[:, d] = b
            cov_draws[:, d] = W
            sum_beta += beta
            sum_sq += beta * beta
            if d % keep_every == 0 and len(kept) < self.keep_individual:
                kept.append(beta / scale)
        unscale = 1.0 / scale
        self.names_ = list(data.names)
        self.respondents_ = data.respondents
        self.mean_draws_ = mean_draws * unscale
        self.cov_draws_ = cov_draws * np.outer(unscale, unscale)
        self.coef_ = self.mean_draws_.mean(axis=(0, 1))
        self.se_ = self.mean_draws_.std(axis=(0, 1), ddof=1)
        self.cov_ = self.cov_draws_.mean(axis=(0, 1))
        n_kept = C * self.draws
        post_mean = sum_beta.sum(axis=0) / n_kept
        self.individual_ = post_mean * unscale
        var = np.maximum(sum_sq.sum(axis=0) / n_kept - post_mean**2, 0.0)
        self.individual_sd_ = np.sqrt(var) * unscale
        self.individual_draws_ = np.concatenate(kept, axis=0) if kept else self.individual_[None]
        diag = np.diagonal(self.cov_draws_, axis1=2, axis2=3)
        self.rhat_ = {"mean": split_rhat(self.mean_draws_), "variance": split_rhat(diag)}
        self.ess_ = {"mean": effective_sample_size(self.mean_draws_), "variance": effective_sample_size(diag)}
        self.acceptance_ = accepted / self.draws
        self.n_tasks_ = data.n_tasks
        self.n_respondents_ = N
        v = np.einsum("rk,rk->r", data.X, self.individual_[resp_of_row])
        self.log_likelihood_ = float(_respondent_ll(v[None], starts, sizes, data.chosen, resp_starts).sum())
        worst = float(np.max(self.rhat_["mean"]))
        if C > 1 and worst > self.max_rhat:
            raise ConvergenceError(
                f"hierarchical Bayes chains disagree (largest split R-hat of a population mean {worst:.3f} > "
                f"{self.max_rhat}). Check: 1. run longer (burn and draws); 2. a part-worth with very little "
                "information (a level rarely shown or never chosen): merge levels; 3. columns on very "
                "different scales are standardised, but a price with a few extreme values can still mix "
                "slowly: trim it; 4. too few tasks per respondent for the number of part-worths."
            )
        return self

    @property
    def summary(self) -> pd.DataFrame:
        """Population means with posterior sd, 95% credible intervals, population sd, R-hat and ESS."""
        lower, upper = np.percentile(self.mean_draws_, [2.5, 97.5], axis=(0, 1))
        return pd.DataFrame(
            {
                "coef": self.coef_,
                "se": self.se_,
                "lower 95%": lower,
                "upper 95%": upper,
                "population sd": np.sqrt(np.diag(self.cov_)),
                "rhat": self.rhat_["mean"],
                "ess": self.ess_["mean"],
            },
            index=pd.Index(self.names_, name="coefficient"),
        )

    def individual_betas(self) -> np.ndarray:
        """Posterior means of the respondents' part-worths, ``(respondents, K)``, for the simulator."""
        return self.individual_


def _respondent_ll(
    v: np.ndarray, starts: np.ndarray, sizes: np.ndarray, chosen: np.ndarray, resp_starts: np.ndarray
) -> np.ndarray:
    """Log-likelihood per chain and respondent from utilities ``v`` ``(C, rows)``."""
    vmax = np.maximum.reduceat(v, starts, axis=1)
    ev = np.exp(v - np.repeat(vmax, sizes, axis=1))
    lse = np.log(np.add.reduceat(ev, starts, axis=1)) + vmax
    task_ll = v[:, chosen] - lse
    return np.add.reduceat(task_ll, resp_starts, axis=1)


def _log_normal_kernel(beta: np.ndarray, b: np.ndarray, L_inv: np.ndarray) -> np.ndarray:
    """``-0.5 (beta - b)' W^{-1} (beta - b)`` per chain and respondent, with ``W^{-1} = L_inv' L_inv``."""
    z = np.einsum("ckl,cnl->cnk", L_inv, beta - b[:, None, :])
    return -0.5 * np.einsum("cnk,cnk->cn", z, z)
