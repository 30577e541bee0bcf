"""The statistics of an experiment, one function each: Welch, lift, bootstrap, CUPED, SRM, Holm, money.

The formulas and their references are in :mod:`keepwise.experiments.analysis`, which puts them together
(and re-exports every name here).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from keepwise.exceptions import KeepwiseInputError, StatisticalWarning

__all__ = [
    "SRM_THRESHOLD",
    "FloatArray",
    "SRMResult",
    "Welch",
    "bootstrap_interval",
    "cuped_adjust",
    "holm",
    "incremental_profit",
    "relative_lift",
    "srm_test",
    "welch",
    "welch_from_moments",
]

#: p-value below which the sample-ratio check warns (Fabijan et al. 2019 use 0.0005; 0.001 is common).
SRM_THRESHOLD = 0.001

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Welch:
    """Welch's comparison of two means; fields are floats or arrays of the same shape."""

    difference: Any
    std_error: Any
    df: Any
    ci_low: Any
    ci_high: Any
    p_value: Any


def welch_from_moments(
    mean_t: Any, var_t: Any, n_t: Any, mean_c: Any, var_c: Any, n_c: Any, alpha: float = 0.05
) -> Welch:
    """Welch's difference, standard error, interval and p-value from each arm's mean, variance and size.

    Vectorised: every argument may be an array (e.g. one entry per simulated experiment).

    Parameters
    ----------
    mean_t, var_t, n_t:
        Mean, sample variance (``ddof=1``) and size of the treatment arm.
    mean_c, var_c, n_c:
        The same for the control arm.
    alpha:
        1 - confidence level of the interval.
    """
    a = np.asarray(var_t, dtype=float) / np.asarray(n_t, dtype=float)
    b = np.asarray(var_c, dtype=float) / np.asarray(n_c, dtype=float)
    se = np.sqrt(a + b)
    with np.errstate(divide="ignore", invalid="ignore"):
        df = (a + b) ** 2 / (a**2 / (np.asarray(n_t) - 1) + b**2 / (np.asarray(n_c) - 1))
        d = np.asarray(mean_t, dtype=float) - np.asarray(mean_c, dtype=float)
        t = d / se
    q = stats.t.ppf(1 - alpha / 2, df)
    p = 2 * stats.t.sf(np.abs(t), df)
    return Welch(
        difference=_scalar(d),
        std_error=_scalar(se),
        df=_scalar(df),
        ci_low=_scalar(d - q * se),
        ci_high=_scalar(d + q * se),
        p_value=_scalar(p),
    )


def welch(treatment: npt.ArrayLike, control: npt.ArrayLike, alpha: float = 0.05, axis: int = -1) -> Welch:
    """Welch's comparison of ``treatment`` against ``control`` (difference = treatment - control).

    Parameters
    ----------
    treatment, control:
        Observations; with 2-d arrays, one experiment per row along ``axis``.
    alpha:
        1 - confidence level.
    axis:
        Axis of the observations.

    Examples
    --------
    >>> r = welch([1.9, 0.8, 1.1, 0.1, -0.1, 4.4, 5.5, 1.6, 4.6, 3.4],
    ...           [0.7, -1.6, -0.2, -1.2, -0.1, 3.4, 3.7, 0.8, 0.0, 2.0])
    >>> round(r.difference, 2), round(r.p_value, 5)
    (1.58, 0.07939)
    """
    t = np.asarray(treatment, dtype=float)
    c = np.asarray(control, dtype=float)
    return welch_from_moments(
        t.mean(axis=axis),
        t.var(axis=axis, ddof=1),
        t.shape[axis],
        c.mean(axis=axis),
        c.var(axis=axis, ddof=1),
        c.shape[axis],
        alpha,
    )


def relative_lift(
    mean_t: Any, var_t: Any, n_t: Any, mean_c: Any, var_c: Any, n_c: Any, alpha: float = 0.05
) -> tuple[Any, Any, Any]:
    """Relative lift ``mean_t / mean_c - 1`` and its delta-method interval ``(lift, low, high)``.

    ``Var(mean_t / mean_c) ~ var_t / (n_t mean_c^2) + mean_t^2 var_c / (n_c mean_c^4)``; the interval is
    normal. With a control mean of zero the lift is undefined and every figure is ``nan``.
    """
    mt = np.asarray(mean_t, dtype=float)
    mc = np.asarray(mean_c, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = np.where(mc != 0, mt / mc - 1, np.nan)
        var = np.asarray(var_t) / (np.asarray(n_t) * mc**2) + mt**2 * np.asarray(var_c) / (
            np.asarray(n_c) * mc**4
        )
        se = np.where(mc != 0, np.sqrt(var), np.nan)
    z = stats.norm.ppf(1 - alpha / 2)
    return _scalar(lift), _scalar(lift - z * se), _scalar(lift + z * se)


def bootstrap_interval(
    treatment: npt.ArrayLike,
    control: npt.ArrayLike,
    alpha: float = 0.05,
    n_resamples: int = 2000,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile bootstrap interval of the difference of means (each arm resampled on its own).

    Resampled in chunks, so memory stays bounded for large arms.
    """
    t = np.asarray(treatment, dtype=float)
    c = np.asarray(control, dtype=float)
    rng = np.random.default_rng(seed)
    diffs = np.empty(n_resamples)
    chunk = max(1, 2_000_000 // max(len(t) + len(c), 1))
    for start in range(0, n_resamples, chunk):
        k = min(chunk, n_resamples - start)
        mt = t[rng.integers(0, len(t), size=(k, len(t)))].mean(axis=1)
        mc = c[rng.integers(0, len(c), size=(k, len(c)))].mean(axis=1)
        diffs[start : start + k] = mt - mc
    low, high = np.quantile(diffs, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


def cuped_adjust(y: npt.ArrayLike, x: npt.ArrayLike, axis: int = -1) -> tuple[FloatArray, Any]:
    """CUPED: ``y - theta (x - mean(x))`` with ``theta = cov(y, x) / var(x)``, pooled over all arms.

    Pass every customer of the experiment (all arms together) so that one ``theta`` serves all arms.

    Returns
    -------
    (adjusted, theta)
        The adjusted outcomes (same shape as ``y``) and ``theta`` (one per experiment along ``axis``).
    """
    yv = np.asarray(y, dtype=float)
    xv = np.asarray(x, dtype=float)
    xc = xv - xv.mean(axis=axis, keepdims=True)
    yc = yv - yv.mean(axis=axis, keepdims=True)
    vx = (xc * xc).sum(axis=axis, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        theta = np.where(vx > 0, (xc * yc).sum(axis=axis, keepdims=True) / vx, 0.0)
    return yv - theta * xc, _scalar(np.squeeze(theta, axis=axis))


@dataclass(frozen=True)
class SRMResult:
    """Sample-ratio-mismatch check: counts, expected counts, chi-square statistic and p-value."""

    observed: dict[str, int]
    expected: dict[str, float]
    statistic: float
    p_value: float
    mismatch: bool


def srm_test(
    counts: Mapping[str, int], ratios: Mapping[str, float] | None = None, threshold: float = SRM_THRESHOLD
) -> SRMResult:
    """Pearson's chi-square test of the arm counts against the designed ratios; warns loudly on a mismatch.

    Parameters
    ----------
    counts:
        Customers per arm.
    ratios:
        Designed ratio of each arm (any positive numbers; they are normalised). ``None``: equal arms.
    threshold:
        p-value below which a :class:`~keepwise.exceptions.StatisticalWarning` is raised.
    """
    arms = list(counts)
    if ratios is None:
        ratios = dict.fromkeys(arms, 1.0)
    missing = [a for a in arms if a not in ratios]
    if missing:
        raise KeepwiseInputError(f"no designed ratio for arm(s) {', '.join(missing)}")
    observed = np.array([counts[a] for a in arms], dtype=float)
    weights = np.array([float(ratios[a]) for a in arms])
    if np.any(weights <= 0):
        raise KeepwiseInputError("arm ratios must be positive")
    expected = observed.sum() * weights / weights.sum()
    if len(arms) < 2:
        statistic, p = 0.0, 1.0
    else:
        res = stats.chisquare(observed, expected)
        statistic, p = float(res.statistic), float(res.pvalue)
    mismatch = p < threshold
    if mismatch:
        seen = ", ".join(f"{a} {counts[a]:,}" for a in arms)
        want = ", ".join(f"{a} {e:,.0f}" for a, e in zip(arms, expected, strict=True))
        warnings.warn(
            f"SAMPLE RATIO MISMATCH: the arms have {seen} customers where the design expects {want} "
            f"(chi-square p = {p:.2g}). The split is broken (assignment, data loss or a filter that depends "
            "on the treatment); do not trust the comparisons until you know why.",
            StatisticalWarning,
            stacklevel=2,
        )
    return SRMResult(
        observed={a: int(counts[a]) for a in arms},
        expected={a: float(e) for a, e in zip(arms, expected, strict=True)},
        statistic=statistic,
        p_value=p,
        mismatch=mismatch,
    )


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given; ``nan`` stays ``nan``)."""
    p = np.asarray(p_values, dtype=float)
    ok = ~np.isnan(p)
    out = np.full(p.shape, np.nan)
    q = p[ok]
    m = len(q)
    if m == 0:
        return out.tolist()
    order = np.argsort(q, kind="stable")
    adjusted = np.maximum.accumulate((m - np.arange(m)) * q[order])
    back = np.empty(m)
    back[order] = np.minimum(adjusted, 1.0)
    out[ok] = back
    return out.tolist()


def incremental_profit(
    difference: float, ci_low: float, ci_high: float, n_treated: int, program_cost: float = 0.0
) -> dict[str, float]:
    """Incremental profit across the treated group minus the program's cost, with its interval.

    ``n_treated x difference - program_cost``; the interval scales the difference's interval the same way.
    """
    return {
        "n_treated": int(n_treated),
        "program_cost": float(program_cost),
        "incremental_profit": float(n_treated * difference - program_cost),
        "ci_low": float(n_treated * ci_low - program_cost),
        "ci_high": float(n_treated * ci_high - program_cost),
    }


def _scalar(x: Any) -> Any:
    arr = np.asarray(x)
    return float(arr) if arr.ndim == 0 else arr
