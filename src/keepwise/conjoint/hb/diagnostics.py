"""Convergence diagnostics of MCMC draws: split R-hat, rank-normalised R-hat, (bulk) effective sample size.

Draws are shaped ``(chains, draws, ...)``. References: Gelman et al. (2013), *Bayesian Data Analysis*, 3rd
ed., sections 11.4-11.5; Vehtari, Gelman, Simpson, Carpenter and Buerkner (2021), "Rank-normalization,
folding, and localization: an improved R-hat", Bayesian Analysis 16(2).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["bulk_ess", "effective_sample_size", "rank_normalized_rhat", "split_rhat"]


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
