"""The hierarchical Bayes MNL estimator (the method and its references: :mod:`keepwise.conjoint.hb`)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from scipy import stats

from keepwise.conjoint.coding import ChoiceData
from keepwise.conjoint.hb.diagnostics import bulk_ess, rank_normalized_rhat
from keepwise.conjoint.hb.sampler import elliptical_slice, likelihoods, move_shapes, respondent_ll
from keepwise.exceptions import BadInput, ConvergenceError, KeepwiseInputError, StatisticalWarning

__all__ = ["HierarchicalBayesMNL"]


class HierarchicalBayesMNL:
    """Hierarchical Bayes MNL by Gibbs sampling with slice and Metropolis steps (see the module docstring).

    Parameters
    ----------
    burn, draws:
        Iterations discarded (while the population moves are tuned) and kept, per chain.
    chains:
        Chains run side by side (at least 2 for R-hat).
    prior_dof:
        Degrees of freedom of the inverse-Wishart prior of ``W`` (default ``K + 2``).
    prior_variance:
        Prior variance ``s^2`` of each standardised part-worth (scale of the inverse-Wishart prior).
    mh_steps:
        Elliptical slice updates of the individual part-worths per Gibbs iteration (name kept from the
        random-walk Metropolis sampler it replaced, so stored estimates still load).
    seed:
        Seed of the random numbers: the same seed gives the same draws.
    max_rhat:
        A population mean with a larger R-hat raises :class:`~keepwise.exceptions.ConvergenceError`.
    population_moves:
        Rounds of the two population moves (block 4) per Gibbs iteration. 1: on the test panel, 2 rounds x
        5,500 iterations gave a smallest bulk ESS of 93 and 23 (seeds 0, 1) against 91 and 137 for 1 round
        x 7,000 iterations in the same time.
    warn_rhat, warn_ess:
        A population mean with a larger R-hat, or a smaller bulk effective sample size, gives a
        :class:`~keepwise.exceptions.StatisticalWarning` (see the module docstring for the defaults).
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
        Rank-normalised split R-hat and bulk effective sample size of ``b`` and of the diagonal of ``W``
        (keys ``"mean"`` and ``"variance"``).
    acceptance_:
        Acceptance rate of the two population moves over the kept draws.
    slice_evaluations_:
        Likelihood evaluations per respondent per elliptical slice update.
    log_likelihood_:
        Log-likelihood of the data at the individual posterior means.
    """

    def __init__(
        self,
        burn: int = 1500,
        draws: int = 5500,
        chains: int = 2,
        prior_dof: float | None = None,
        seed: int = 0,
        max_rhat: float = 1.2,
        keep_individual: int = 100,
        mh_steps: int = 1,
        prior_variance: float = 0.1,
        warn_rhat: float = 1.05,
        warn_ess: float = 100.0,
        population_moves: int = 1,
    ) -> None:
        self.population_moves = population_moves
        self.warn_rhat = warn_rhat
        self.warn_ess = warn_ess
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
            raise BadInput(
                "respondent", "hierarchical Bayes needs a respondent column (whose tasks are whose)"
            )
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

        loglik, ellipse = likelihoods(
            X, data.chosen, starts, sizes, resp_starts, resp_of_row, data.n_tasks, N, C
        )

        b = rng.normal(0.0, 0.5, (C, K))
        W = np.broadcast_to(np.eye(K), (C, K, K)).copy()
        beta = b[:, None, :] + rng.normal(0.0, 0.1, (C, N, K))
        ll = loglik(beta)
        total = self.burn + self.draws
        mean_draws = np.empty((C, self.draws, K))
        cov_draws = np.empty((C, self.draws, K, K))
        sum_beta = np.zeros((C, N, K))
        sum_sq = np.zeros((C, N, K))
        keep_every = max(self.draws // max(self.keep_individual, 1), 1)
        kept: list[np.ndarray] = []
        # population moves: step sizes tuned during burn-in towards an acceptance of 0.3, shapes from the
        # information of all answers at the current part-worths; both frozen once burn-in ends
        shift_step = np.full(C, 2.38 / np.sqrt(K))
        scale_step = np.full(C, 0.02)
        window = np.zeros((2, C))
        kept_accept = np.zeros(2)
        evaluations = 0.0
        shift_root, R, R_inv = move_shapes(X, beta[:, resp_of_row], starts, sizes)
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
            # 3. individual part-worths: elliptical slice sampling for everyone at once
            for _ in range(self.mh_steps):
                beta, ll, used = elliptical_slice(rng, beta, ll, b, L, ellipse)
                evaluations += used / self.mh_steps
            # 4. non-centred moves of the whole population (see the module docstring)
            if it < self.burn and it % 50 == 49:
                shift_root, R, R_inv = move_shapes(X, beta[:, resp_of_row], starts, sizes)
            moved = np.zeros((2, C))
            for _ in range(self.population_moves):
                # shift everyone and the population mean by the same random step
                z = rng.standard_normal((C, K))
                delta = np.einsum("ckl,cl->ck", shift_root, z) * shift_step[:, None]
                proposal = beta + delta[:, None, :]
                new_ll = loglik(proposal)
                ok = np.log(rng.random(C)) < (new_ll - ll).sum(axis=1)
                beta = np.where(ok[:, None, None], proposal, beta)
                ll = np.where(ok[:, None], new_ll, ll)
                b = np.where(ok[:, None], b + delta, b)
                moved[0] += ok
                eps = rng.standard_normal((C, K)) * scale_step[:, None]
                A = np.einsum("ckl,cl,clm->ckm", R_inv, np.exp(eps), R)
                A_inv = np.einsum("ckl,cl,clm->ckm", R_inv, np.exp(-eps), R)
                proposal = b[:, None, :] + np.einsum("ckl,cnl->cnk", A, beta - b[:, None, :])
                new_ll = loglik(proposal)
                W_inv = np.linalg.inv(W)
                trace_change = np.einsum("clk,clm,cmk->c", A_inv, W_inv, A_inv) - np.trace(
                    W_inv, axis1=1, axis2=2
                )
                log_ratio = (
                    (new_ll - ll).sum(axis=1)
                    - nu0 * eps.sum(axis=1)
                    - 0.5 * nu0 * self.prior_variance * trace_change
                )
                ok = np.log(rng.random(C)) < log_ratio
                beta = np.where(ok[:, None, None], proposal, beta)
                ll = np.where(ok[:, None], new_ll, ll)
                W = np.where(ok[:, None, None], A @ W @ np.swapaxes(A, 1, 2), W)
                moved[1] += ok
            if it < self.burn:
                window += moved
                if it % 20 == 19:
                    target = 0.3 * 20 * self.population_moves
                    shift_step = np.where(window[0] > target, shift_step * 1.2, shift_step / 1.2)
                    scale_step = np.where(window[1] > target, scale_step * 1.2, scale_step / 1.2)
                    window[:] = 0.0
                continue
            d = it - self.burn
            kept_accept += moved.mean(axis=1) / self.population_moves
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
        self.rhat_ = {"mean": rank_normalized_rhat(self.mean_draws_), "variance": rank_normalized_rhat(diag)}
        self.ess_ = {"mean": bulk_ess(self.mean_draws_), "variance": bulk_ess(diag)}
        self.acceptance_ = float(kept_accept.mean() / self.draws)
        self.slice_evaluations_ = evaluations / max(total, 1)
        self.n_tasks_ = data.n_tasks
        self.n_respondents_ = N
        v = np.einsum("rk,rk->r", data.X, self.individual_[resp_of_row])
        self.log_likelihood_ = float(respondent_ll(v[None], starts, sizes, data.chosen, resp_starts).sum())
        worst = float(np.max(self.rhat_["mean"]))
        if C > 1 and worst > self.max_rhat:
            raise ConvergenceError(
                f"hierarchical Bayes chains disagree (largest R-hat of a population mean {worst:.3f} > "
                f"{self.max_rhat}). Check: 1. run longer (burn and draws); 2. a part-worth with very little "
                "information (a level rarely shown or never chosen): merge levels; 3. columns on very "
                "different scales are standardised, but a price with a few extreme values can still mix "
                "slowly: trim it; 4. too few tasks per respondent for the number of part-worths."
            )
        fewest = float(np.min(self.ess_["mean"]))
        if (C > 1 and worst > self.warn_rhat) or fewest < self.warn_ess:
            tasks = data.n_tasks / N
            warnings.warn(
                f"hierarchical Bayes: the population means are not yet reliable (largest R-hat {worst:.3f}, "
                f"warn above {self.warn_rhat}; smallest effective sample size {fewest:.0f}, warn below "
                f"{self.warn_ess:g}). Run more draws (the effective sample grows in proportion: about "
                f"{max(self.warn_ess / max(fewest, 1.0), 1.0) * self.draws:,.0f} per chain here), keeping "
                f"every k-th (thinning saves memory, not accuracy); in the next study ask more tasks per "
                f"respondent (here {tasks:.3g} for {K} part-worths), which also speeds mixing.",
                StatisticalWarning,
                stacklevel=2,
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
