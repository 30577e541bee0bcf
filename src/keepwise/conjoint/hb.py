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
3. :math:`\beta_n \mid b, W`: for every respondent at once, one elliptical slice sampling update (Murray,
   Adams and MacKay 2010, "Elliptical slice sampling", AISTATS): the prior :math:`N(b, W)` is Gaussian, so
   the new point is sought on the ellipse :math:`b + (\beta_n - b)\cos\theta + \nu\sin\theta`,
   :math:`\nu \sim N(0, W)`, shrinking the bracket of :math:`\theta` until the likelihood clears a uniform
   slice level. It needs no step size and always moves (about 3 likelihood evaluations per respondent here);
   the utilities are linear in :math:`\theta`'s sine and cosine, so each evaluation is a few array sums.
4. Two Metropolis moves of the whole population. With 12 answers per respondent the part-worths say little
   more than the population distribution, and blocks 1-3 then move ``b`` and ``W`` only a little per
   iteration (the centred parameterisation mixes slowly when individual data are weak; Papaspiliopoulos,
   Roberts and Skold 2007, Statistical Science 22(1)). So ``b`` and every :math:`\beta_n` are shifted by the
   same :math:`\delta \sim N(0, \sigma_1^2 H^{-1})` (accepted on the likelihood ratio: the flat prior of
   ``b`` and the normal density of the deviations do not change), and the deviations and ``W`` are
   stretched together, :math:`\beta_n - b \to A(\beta_n - b)`, :math:`W \to AWA'`, with
   :math:`A = R^{-1}\mathrm{diag}(e^{\epsilon})R`, :math:`\epsilon \sim N(0, \sigma_2^2 I)`: the normal
   densities lose :math:`|A|^N`, the Jacobian adds :math:`|A|^{N + K + 1}`, so the log acceptance ratio is
   the log-likelihood ratio :math:`- \nu_0 \sum\epsilon - \tfrac12 \nu_0 s^2 \mathrm{tr}(A^{-T}W^{-1}A^{-1}
   - W^{-1})` (Liu and Sabatti 2000, "Generalised Gibbs sampler and multigrid Monte Carlo", JASA 95(449)).
   ``H = R'R`` is the information of all answers at the current part-worths. During burn-in only, ``H`` is
   recomputed every 50 iterations and :math:`\sigma_1, \sigma_2` are tuned towards an acceptance of 0.3;
   both are fixed afterwards, so the kept draws come from a valid Markov chain.

On 400 respondents x 12 tasks (``bench/conjoint.py --hb-mixing``, ``bench/RESULTS.md``, three seeds, same
wall time of about 33 s) the largest R-hat of a population mean went from 1.12-1.27 to 1.01-1.03 and the
smallest bulk effective sample from 5-10 to 91-137, against the random-walk Metropolis sampler it replaced
(three steps :math:`\beta_n + \rho L\eta` per iteration, ``L`` the Cholesky factor of ``W``, one ``rho``
per chain tuned during burn-in; bayesm's ``rhierMnlRwMixture`` shapes the step by
:math:`(H_n + W^{-1})^{-1}` instead, which an earlier trial here found no better). The population variances
still mix more slowly (on the test's seed, R-hat up to 1.11 and bulk ESS 10 for one of them): run longer
before quoting population sds.

The columns are standardised before sampling (so the ``IW(nu_0, nu_0 I)`` prior means the same for a price
in dollars as for an effects-coded level) and the draws are transformed back. Several chains run side by side
in the same numpy arrays. Convergence is judged by the rank-normalised split R-hat (the larger of the bulk and
the folded one) and the bulk effective sample size of the population means and variances (Vehtari, Gelman,
Simpson, Carpenter and Buerkner 2021, "Rank-normalization, folding, and localization: an improved R-hat",
Bayesian Analysis 16(2); they ask R-hat < 1.01 and ESS > 400 for publishable summaries). A population mean
with R-hat above ``max_rhat`` (1.2) raises :class:`~keepwise.exceptions.ConvergenceError`; above
``warn_rhat`` (1.05) or an ESS below ``warn_ess`` (100) gives a
:class:`~keepwise.exceptions.StatisticalWarning` saying what to do. The defaults are looser than Vehtari et
al.'s because conjoint simulators use posterior means of part-worths, for which 100 effective draws give a
Monte Carlo error of a tenth of a posterior sd; 95% interval ends need more.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
from scipy import stats

from keepwise.conjoint.coding import ChoiceData
from keepwise.exceptions import ConvergenceError, KeepwiseInputError, StatisticalWarning

__all__ = [
    "HierarchicalBayesMNL",
    "bulk_ess",
    "effective_sample_size",
    "rank_normalized_rhat",
    "split_rhat",
]


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


def _rank_normal(draws: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks of ``draws`` ``(chains, draws, ...)`` (Blom's offsets)."""
    C, D = draws.shape[:2]
    ranks = stats.rankdata(draws.reshape(C * D, -1), axis=0)
    return stats.norm.ppf((ranks - 0.375) / (C * D + 0.25)).reshape(draws.shape)


def rank_normalized_rhat(draws: np.ndarray) -> np.ndarray:
    """Rank-normalised split R-hat of ``draws`` ``(chains, draws, ...)``.

    The larger of the bulk and the folded (tail) R-hat (Vehtari, Gelman, Simpson, Carpenter and Buerkner
    2021, "Rank-normalization, folding, and localization: an improved R-hat", Bayesian Analysis 16(2)).
    """
    bulk = split_rhat(_rank_normal(draws))
    median = np.median(draws.reshape(-1, *draws.shape[2:]), axis=0)
    return np.maximum(bulk, split_rhat(_rank_normal(np.abs(draws - median))))


def bulk_ess(draws: np.ndarray) -> np.ndarray:
    """Bulk effective sample size (Vehtari et al. 2021): the ESS of the rank-normalised split chains."""
    half = draws.shape[1] // 2
    halves = np.concatenate([draws[:, :half], draws[:, half : 2 * half]], axis=0)
    return effective_sample_size(_rank_normal(halves))


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

            # sum over each respondent's tasks of the chosen offers' attributes: the chosen utilities' sum
            chosen_x = np.take_along_axis(X.reshape(N, T, J, K), pick[0][..., None], 2).sum(axis=(1, 2))

            def loglik(beta: np.ndarray) -> np.ndarray:
                """Per chain and respondent log-likelihood; beta is (C, N, K)."""
                v = np.matmul(beta[:, :, None, :], XT).reshape(beta.shape[0], N, T, J)
                with np.errstate(over="ignore"):
                    lse = np.log(np.exp(v).sum(axis=-1))
                if not np.isfinite(lse).all():  # exp overflowed: shift by the largest utility
                    vmax = v.max(axis=-1, keepdims=True)
                    lse = np.log(np.exp(v - vmax).sum(axis=-1)) + vmax[..., 0]
                return np.einsum("cnk,nk->cn", beta, chosen_x) - lse.sum(axis=-1)

            def ellipse(f: np.ndarray, nu: np.ndarray, b: np.ndarray) -> _Ellipse:
                """Log-likelihoods on the ellipse ``b + f cos(theta) + nu sin(theta)`` (linear utilities)."""
                vb, vf, vn = (
                    np.matmul(x[:, :, None, :], XT).reshape(C * N, T, J) for x in (b[:, None], f, nu)
                )
                sb, sf, sn = (
                    np.einsum("cnk,nk->cn", x, chosen_x).reshape(C * N) for x in (b[:, None], f, nu)
                )

                def at(theta: np.ndarray, active: np.ndarray) -> np.ndarray:
                    cos, sin = np.cos(theta), np.sin(theta)
                    v = vb[active] + vf[active] * cos[:, None, None]
                    v += vn[active] * sin[:, None, None]
                    with np.errstate(over="ignore"):
                        lse = np.log(np.exp(v).sum(axis=-1))
                    if not np.isfinite(lse).all():  # exp overflowed: shift by the largest utility
                        vmax = v.max(axis=-1, keepdims=True)
                        lse = np.log(np.exp(v - vmax).sum(axis=-1)) + vmax[..., 0]
                    return sb[active] + sf[active] * cos + sn[active] * sin - lse.sum(axis=-1)

                return at

        else:

            def loglik(beta: np.ndarray) -> np.ndarray:
                """Per chain and respondent log-likelihood; beta is (C, N, K)."""
                v = np.einsum("rk,crk->cr", X, beta[:, resp_of_row])
                return _respondent_ll(v, starts, sizes, data.chosen, resp_starts)

            def ellipse(f: np.ndarray, nu: np.ndarray, b: np.ndarray) -> _Ellipse:
                """Log-likelihoods on the ellipse ``b + f cos(theta) + nu sin(theta)`` (linear utilities)."""
                vb = X @ b.T
                vf = np.einsum("rk,crk->cr", X, f[:, resp_of_row])
                vn = np.einsum("rk,crk->cr", X, nu[:, resp_of_row])

                def at(theta: np.ndarray, active: np.ndarray) -> np.ndarray:
                    full = np.zeros(C * N)
                    full[active] = theta
                    rows = full.reshape(C, N)[:, resp_of_row]
                    v = vb.T + vf * np.cos(rows) + vn * np.sin(rows)
                    return _respondent_ll(v, starts, sizes, data.chosen, resp_starts).reshape(C * N)[active]

                return at

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
        shift_root, R, R_inv = _move_shapes(X, beta[:, resp_of_row], starts, sizes)
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
                beta, ll, used = _elliptical_slice(rng, beta, ll, b, L, ellipse)
                evaluations += used / self.mh_steps
            # 4. non-centred moves of the whole population (see the module docstring)
            if it < self.burn and it % 50 == 49:
                shift_root, R, R_inv = _move_shapes(X, beta[:, resp_of_row], starts, sizes)
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
        self.log_likelihood_ = float(_respondent_ll(v[None], starts, sizes, data.chosen, resp_starts).sum())
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


def _respondent_ll(
    v: np.ndarray, starts: np.ndarray, sizes: np.ndarray, chosen: np.ndarray, resp_starts: np.ndarray
) -> np.ndarray:
    """Log-likelihood per chain and respondent from utilities ``v`` ``(C, rows)``."""
    vmax = np.maximum.reduceat(v, starts, axis=1)
    ev = np.exp(v - np.repeat(vmax, sizes, axis=1))
    lse = np.log(np.add.reduceat(ev, starts, axis=1)) + vmax
    task_ll = v[:, chosen] - lse
    return np.add.reduceat(task_ll, resp_starts, axis=1)


_Ellipse = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _elliptical_slice(
    rng: np.random.Generator,
    beta: np.ndarray,
    ll: np.ndarray,
    b: np.ndarray,
    L: np.ndarray,
    ellipse: Callable[[np.ndarray, np.ndarray, np.ndarray], _Ellipse],
) -> tuple[np.ndarray, np.ndarray, float]:
    """One elliptical slice update (Murray, Adams and MacKay 2010) of every chain's every respondent.

    The prior of ``beta`` ``(C, N, K)`` is ``N(b, L L')``; ``ll`` ``(C, N)`` its log-likelihoods. Returns the
    new part-worths, their log-likelihoods and the likelihood evaluations used per respondent.
    """
    C, N, K = beta.shape
    f = beta - b[:, None, :]
    nu = np.einsum("ckl,cnl->cnk", L, rng.standard_normal((C, N, K)))
    at = ellipse(f, nu, b)
    log_y = ll.reshape(C * N) + np.log(rng.random(C * N))
    theta = rng.uniform(0.0, 2.0 * np.pi, C * N)
    lo, hi = theta - 2.0 * np.pi, theta.copy()
    new_theta = np.zeros(C * N)
    new_ll = ll.reshape(C * N).copy()
    active = np.arange(C * N)
    used = 0
    for _ in range(200):  # the bracket shrinks towards the current point; 200 halvings reach it in practice
        if not active.size:
            break
        th = theta[active]
        value = at(th, active)
        used += active.size
        ok = value > log_y[active]
        new_theta[active[ok]] = th[ok]
        new_ll[active[ok]] = value[ok]
        active, th = active[~ok], th[~ok]
        lo[active] = np.where(th < 0, th, lo[active])
        hi[active] = np.where(th < 0, hi[active], th)
        theta[active] = rng.uniform(lo[active], hi[active])
    angle = new_theta.reshape(C, N, 1)
    return b[:, None, :] + f * np.cos(angle) + nu * np.sin(angle), new_ll.reshape(C, N), used / (C * N)


def _move_shapes(
    X: np.ndarray, beta_rows: np.ndarray, starts: np.ndarray, sizes: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Shapes of the population moves from the information ``H`` of all answers at ``beta_rows``.

    Returns the Cholesky factor of ``H^-1`` (shift proposals) and ``R = chol(H)'`` with its inverse (the
    scale move stretches the coordinates ``R beta``, in which the answers are about equally informative).
    """
    v = np.einsum("rk,crk->cr", X, beta_rows)
    vmax = np.maximum.reduceat(v, starts, axis=1)
    ev = np.exp(v - np.repeat(vmax, sizes, axis=1))
    p = ev / np.repeat(np.add.reduceat(ev, starts, axis=1), sizes, axis=1)
    xbar = np.add.reduceat(p[:, :, None] * X[None], starts, axis=1)
    H = np.einsum("cr,rk,rl->ckl", p, X, X) - np.einsum("ctk,ctl->ckl", xbar, xbar)
    H += 1e-6 * np.eye(X.shape[1])
    chol = np.linalg.cholesky(H)
    R = np.swapaxes(chol, 1, 2)
    return np.linalg.cholesky(np.linalg.inv(H)), R, np.linalg.inv(R)
