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
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from keepwise.exceptions import KeepwiseInputError
from keepwise.experiments.stats import (
    SRM_THRESHOLD,
    FloatArray,
    SRMResult,
    Welch,
    bootstrap_interval,
    cuped_adjust,
    holm,
    incremental_profit,
    relative_lift,
    srm_test,
    welch,
    welch_from_moments,
)

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


def _opt(x: Any) -> float | None:
    v = float(x)
    return None if math.isnan(v) else v


def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, tuple):
        return [_clean(x) for x in v]
    return v
