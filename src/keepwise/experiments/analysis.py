"""Analysis of a randomised experiment: differences, intervals, p-values, lift, CUPED, SRM, Holm and money.

Every comparison is an arm against the control arm, one metric at a time:

- the difference of means ``d = mean_t - mean_c`` with the Welch standard error
  ``se = sqrt(s_t^2 / n_t + s_c^2 / n_c)``, Welch-Satterthwaite degrees of freedom
  ``nu = se^4 / ((s_t^2/n_t)^2/(n_t-1) + (s_c^2/n_c)^2/(n_c-1))``, the interval ``d +- t_{1-alpha/2, nu} se``
  and the two-sided p-value of ``d / se`` against Student's t with ``nu`` degrees of freedom (Welch, "The
  generalization of 'Student's' problem when several different population variances are involved",
  Biometrika 34, 1947). A binary metric (retained or not) is the same formula on 0/1 values;
- the relative lift ``L = mean_t / mean_c - 1`` with a delta-method interval:
  ``Var(L) ~ s_t^2 / (n_t mean_c^2) + mean_t^2 s_c^2 / (n_c mean_c^4)`` (the two arms are independent), and
  a normal interval (Kohavi, Tang and Xu, "Trustworthy Online Controlled Experiments", Cambridge University
  Press 2020, chapter 18);
- on request, a percentile bootstrap interval of the difference (each arm resampled on its own);
- CUPED (Deng, Xu, Kohavi and Walker, "Improving the Sensitivity of Online Controlled Experiments by
  Utilizing Pre-Experiment Data", WSDM 2013): ``y_adj = y - theta (x - mean(x))`` with
  ``theta = cov(y, x) / var(x)`` estimated on both arms pooled, then the Welch comparison of ``y_adj``. The
  variance of the estimate falls by the factor ``1 - rho^2`` (``rho`` = correlation of ``y`` and the
  pre-period covariate ``x``) and, because ``x`` is measured before assignment, the estimate stays unbiased;
- the sample-ratio-mismatch check: Pearson's chi-square goodness of fit of the arm counts against the
  designed ratios; below :data:`SRM_THRESHOLD` it raises a :class:`~keepwise.exceptions.StatisticalWarning`,
  because a broken split usually means a broken experiment (Fabijan et al., "Diagnosing Sample Ratio Mismatch
  in Online Controlled Experiments", KDD 2019);
- Holm's step-down correction across all comparisons (Holm, "A simple sequentially rejective multiple test
  procedure", Scandinavian Journal of Statistics 6, 1979);
- the money: incremental profit over the treated group = ``n_t x d(profit per customer)`` minus the
  program's cost, with the interval ``n_t x [ci_low, ci_high] - cost`` (the cost is known, not estimated).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import stats

from keepwise.exceptions import KeepwiseInputError, StatisticalWarning

__all__ = [
    "SRM_THRESHOLD",
    "Comparison",
    "ExperimentResult",
    "SRMResult",
    "Welch",
    "analyze",
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


@dataclass(frozen=True)
class Comparison:
    """One arm against the control on one metric."""

    arm: str
    metric: str
    difference: float
    std_error: float
    ci_low: float
    ci_high: float
    p_value: float
    relative_lift: float | None
    lift_ci_low: float | None
    lift_ci_high: float | None
    p_value_holm: float
    df: float
    n: int
    n_control: int
    mean: float
    mean_control: float
    method: str = "welch"
    theta: float | None = None
    bootstrap_ci: tuple[float, float] | None = None


@dataclass(frozen=True)
class ExperimentResult:
    """The analysis of one experiment: sample-ratio check, arms and comparisons against the control."""

    control: str
    metrics: list[str]
    alpha: float
    srm: SRMResult
    arms: dict[str, dict[str, Any]]
    comparisons: list[Comparison]
    money: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_json(self, full: bool = False) -> dict[str, Any]:
        """The documented JSON document; ``full`` adds Holm p-values, lift intervals and the sample check.

        ``arms[name]["mean"]`` is a number when one metric was analysed and ``{metric: mean}`` for several.
        """
        single = len(self.metrics) == 1
        arms = {
            name: {"n": a["n"], "mean": a["mean"][self.metrics[0]] if single else dict(a["mean"])}
            for name, a in self.arms.items()
        }
        keys = ("arm", "metric", "difference", "std_error", "ci_low", "ci_high", "p_value", "relative_lift")
        comps = []
        for c in self.comparisons:
            row = {k: _clean(getattr(c, k)) for k in keys}
            if full:
                extra = {k: _clean(v) for k, v in asdict(c).items() if k not in keys}
                row.update(extra)
            comps.append(row)
        doc: dict[str, Any] = {"srm": {"p_value": self.srm.p_value}, "arms": arms, "comparisons": comps}
        if full:
            doc["srm"].update(
                statistic=self.srm.statistic,
                mismatch=self.srm.mismatch,
                observed=self.srm.observed,
                expected=self.srm.expected,
            )
            doc["control"] = self.control
            doc["alpha"] = self.alpha
            if self.money:
                doc["money"] = self.money
        return doc


def analyze(
    frame: pd.DataFrame,
    arm_column: str,
    control: str,
    metrics: Sequence[str],
    *,
    alpha: float = 0.05,
    ratios: Mapping[str, float] | None = None,
    covariates: Mapping[str, str] | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    profit_metric: str | None = None,
    program_cost: float = 0.0,
    source: str = "the data",
) -> ExperimentResult:
    """Compare every arm with the control on every metric.

    Parameters
    ----------
    frame:
        One row per randomised unit (customer).
    arm_column:
        Column holding each unit's arm.
    control:
        The control arm's value in ``arm_column``.
    metrics:
        Metric columns (numbers or true/false).
    alpha:
        1 - confidence level of every interval.
    ratios:
        Designed ratio of each arm for the sample-ratio check (``None``: equal).
    covariates:
        ``{metric: pre-period column}`` to analyse that metric with CUPED.
    bootstrap:
        Number of bootstrap resamples for a percentile interval of each difference (0: none).
    seed:
        Seed of the bootstrap.
    profit_metric:
        A metric in ``metrics`` that is profit per customer; adds ``money`` (incremental profit over each
        treated arm minus ``program_cost``).
    program_cost:
        What the program cost in total, per treated arm.
    source:
        Name of the data in error messages (e.g. the file name).
    """
    if not 0 < alpha < 1:
        raise KeepwiseInputError(f"alpha must be between 0 and 1, not {alpha}")
    if not metrics:
        raise KeepwiseInputError("give at least one metric")
    covariates = dict(covariates or {})
    for col in [arm_column, *metrics, *covariates.values()]:
        if col not in frame.columns:
            raise KeepwiseInputError(
                f"{source} has no column '{col}'; its columns are: {', '.join(frame.columns)}"
            )
    for m in covariates:
        if m not in metrics:
            raise KeepwiseInputError(f"covariate given for '{m}', which is not one of the metrics")
    if profit_metric is not None and profit_metric not in metrics:
        raise KeepwiseInputError(f"profit metric '{profit_metric}' is not one of the metrics")
    arms_col = frame[arm_column]
    if arms_col.isna().any():
        raise KeepwiseInputError(f"{source}: column '{arm_column}' has empty values")
    labels = arms_col.astype(str)
    control = str(control)
    names = sorted(labels.unique().tolist(), key=lambda a: (a != control, a))
    if control not in names:
        raise KeepwiseInputError(
            f"{source}: control arm '{control}' does not appear in column '{arm_column}' "
            f"(arms found: {', '.join(names)})"
        )
    if len(names) < 2:
        raise KeepwiseInputError(f"{source}: column '{arm_column}' has only the control arm")
    values = {m: _numeric(frame, m, source) for m in [*metrics, *covariates.values()]}
    masks = {a: (labels == a).to_numpy() for a in names}
    counts = {a: int(masks[a].sum()) for a in names}
    small = [a for a, n in counts.items() if n < 2]
    if small:
        raise KeepwiseInputError(f"{source}: arm(s) {', '.join(small)} have fewer than 2 rows")
    srm = srm_test(counts, ratios)

    arms: dict[str, dict[str, Any]] = {a: {"n": counts[a], "mean": {}} for a in names}
    raw: list[dict[str, Any]] = []
    for m in metrics:
        y = values[m]
        nan = np.isnan(y)
        if nan.any():
            raise KeepwiseInputError(f"{source}: column '{m}' has {int(nan.sum())} empty value(s)")
        theta = None
        adjusted = y
        if m in covariates:
            adjusted, theta = cuped_adjust(y, values[covariates[m]])
        for a in names:
            arms[a]["mean"][m] = float(y[masks[a]].mean())
        c_raw, c_adj = y[masks[control]], adjusted[masks[control]]
        for a in names[1:]:
            t_raw, t_adj = y[masks[a]], adjusted[masks[a]]
            w = welch(t_adj, c_adj, alpha)
            lift = relative_lift(
                t_adj.mean(),
                t_adj.var(ddof=1),
                len(t_adj),
                c_adj.mean(),
                c_adj.var(ddof=1),
                len(c_adj),
                alpha,
            )
            boot = bootstrap_interval(t_adj, c_adj, alpha, bootstrap, seed) if bootstrap > 0 else None
            raw.append(
                {
                    "arm": a,
                    "metric": m,
                    "w": w,
                    "lift": lift,
                    "n": len(t_raw),
                    "n_control": len(c_raw),
                    "mean": float(t_raw.mean()),
                    "mean_control": float(c_raw.mean()),
                    "method": "cuped" if m in covariates else "welch",
                    "theta": None if theta is None else float(theta),
                    "boot": boot,
                }
            )
    adjusted_p = holm([r["w"].p_value for r in raw])
    comparisons = [
        Comparison(
            arm=r["arm"],
            metric=r["metric"],
            difference=float(r["w"].difference),
            std_error=float(r["w"].std_error),
            ci_low=float(r["w"].ci_low),
            ci_high=float(r["w"].ci_high),
            p_value=float(r["w"].p_value),
            relative_lift=_opt(r["lift"][0]),
            lift_ci_low=_opt(r["lift"][1]),
            lift_ci_high=_opt(r["lift"][2]),
            p_value_holm=float(ph),
            df=float(r["w"].df),
            n=r["n"],
            n_control=r["n_control"],
            mean=r["mean"],
            mean_control=r["mean_control"],
            method=r["method"],
            theta=r["theta"],
            bootstrap_ci=r["boot"],
        )
        for r, ph in zip(raw, adjusted_p, strict=True)
    ]
    money = {}
    if profit_metric is not None:
        for c in comparisons:
            if c.metric == profit_metric:
                money[c.arm] = incremental_profit(c.difference, c.ci_low, c.ci_high, c.n, program_cost)
    return ExperimentResult(
        control=control,
        metrics=list(metrics),
        alpha=alpha,
        srm=srm,
        arms=arms,
        comparisons=comparisons,
        money=money,
    )


def _numeric(frame: pd.DataFrame, column: str, source: str) -> FloatArray:
    col = frame[column]
    if col.dtype == bool or str(col.dtype) == "boolean":
        return np.asarray(col.astype(float).to_numpy(), dtype=np.float64)
    if col.dtype == object or pd.api.types.is_string_dtype(col):
        lowered = col.astype(str).str.strip().str.lower()
        if lowered.isin(["true", "false"]).all():
            return np.asarray((lowered == "true").to_numpy(), dtype=np.float64)
    converted = pd.to_numeric(col, errors="coerce")
    bad = converted.isna() & col.notna()
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        raise KeepwiseInputError(
            f"{source}: column '{column}' must hold numbers or true/false; "
            f"row {first + 1} has {col.iloc[first]!r}"
        )
    return converted.to_numpy(dtype=float)


def _scalar(x: Any) -> Any:
    arr = np.asarray(x)
    return float(arr) if arr.ndim == 0 else arr


def _opt(x: Any) -> float | None:
    v = float(x)
    return None if math.isnan(v) else v


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, tuple):
        return [_clean(x) for x in v]
    return v
