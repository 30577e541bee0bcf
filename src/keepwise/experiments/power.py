"""Power and minimum detectable effect before launch, and the same in plain words.

Binary metric (e.g. retained for 12 months: yes/no), two-sided test of two proportions with the unpooled
normal approximation (the Welch comparison of :mod:`keepwise.experiments.analysis` on 0/1 values):

``power = Phi(|d| / se - z_{1-alpha/2}) + Phi(-|d| / se - z_{1-alpha/2})``,
``se = sqrt(p_c (1 - p_c) / n_c + p_t (1 - p_t) / n_t)``, ``p_t = p_c + d``
(Chow, Shao and Wang, "Sample Size Calculations in Clinical Research", 2nd ed., 2008, section 4.2). With equal
arms this is statsmodels' ``NormalIndPower`` at effect size ``d / sqrt((p_c q_c + p_t q_t) / 2)``.

Continuous metric (e.g. profit per customer) with a common standard deviation ``sd``: the exact power of the
two-sample t-test from the noncentral t distribution with ``n_t + n_c - 2`` degrees of freedom and
noncentrality ``d / (sd sqrt(1/n_t + 1/n_c))`` (Cohen, "Statistical Power Analysis for the Behavioral
Sciences", 2nd ed., 1988, chapter 2); statsmodels' ``TTestIndPower`` computes the same.

The minimum detectable effect (MDE) is the smallest change that is detected with the target power; it is found
by root finding on the power function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from keepwise.exceptions import KeepwiseInputError

__all__ = [
    "PowerStatement",
    "mde_binary",
    "mde_continuous",
    "power_binary",
    "power_continuous",
    "power_statement",
]


def _check(alpha: float, n_t: int, n_c: int) -> None:
    if not 0 < alpha < 1:
        raise KeepwiseInputError(f"alpha must be between 0 and 1, not {alpha}")
    if n_t < 2 or n_c < 2:
        raise KeepwiseInputError("each group needs at least 2 customers")


def power_binary(
    p_control: float, difference: float, n_treatment: int, n_control: int | None = None, alpha: float = 0.05
) -> float:
    """Probability of detecting a change of ``difference`` (absolute, e.g. 0.06 = 6 points) in a rate.

    Parameters
    ----------
    p_control:
        The rate without the program (e.g. 0.80 retained).
    difference:
        The true change the program makes (``p_treatment - p_control``).
    n_treatment, n_control:
        Group sizes (``n_control`` defaults to ``n_treatment``).
    alpha:
        Two-sided significance level.
    """
    n_c = n_treatment if n_control is None else n_control
    _check(alpha, n_treatment, n_c)
    p_t = p_control + difference
    if not (0 < p_control < 1 and 0 <= p_t <= 1):
        raise KeepwiseInputError(f"rates must lie between 0 and 1 (control {p_control}, treatment {p_t})")
    se = np.sqrt(p_control * (1 - p_control) / n_c + p_t * (1 - p_t) / n_treatment)
    z = stats.norm.ppf(1 - alpha / 2)
    shift = abs(difference) / se
    return float(stats.norm.cdf(shift - z) + stats.norm.cdf(-shift - z))


def power_continuous(
    sd: float, difference: float, n_treatment: int, n_control: int | None = None, alpha: float = 0.05
) -> float:
    """Probability that the two-sided t-test detects a change of ``difference`` in a mean (common ``sd``)."""
    n_c = n_treatment if n_control is None else n_control
    _check(alpha, n_treatment, n_c)
    if sd <= 0:
        raise KeepwiseInputError(f"the standard deviation must be positive, not {sd}")
    df = n_treatment + n_c - 2
    nc = abs(difference) / (sd * np.sqrt(1 / n_treatment + 1 / n_c))
    q = stats.t.ppf(1 - alpha / 2, df)
    return float(stats.nct.sf(q, df, nc) + stats.nct.cdf(-q, df, nc))


def mde_binary(
    p_control: float, n_treatment: int, n_control: int | None = None, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest increase of the rate detected with probability ``power`` (absolute, e.g. 0.06)."""
    top = 1 - p_control
    if power_binary(p_control, top - 1e-12, n_treatment, n_control, alpha) < power:
        raise KeepwiseInputError(
            f"no increase from {p_control:.0%} is detected with {power:.0%} probability at these group sizes"
        )
    return float(
        optimize.brentq(
            lambda d: power_binary(p_control, d, n_treatment, n_control, alpha) - power, 1e-9, top - 1e-12
        )
    )


def mde_continuous(
    sd: float, n_treatment: int, n_control: int | None = None, alpha: float = 0.05, power: float = 0.8
) -> float:
    """Smallest change of the mean detected with probability ``power`` (in the metric's units)."""
    n_c = n_treatment if n_control is None else n_control
    hi = sd * float(np.sqrt(1 / n_treatment + 1 / n_c))  # noncentrality 1; doubled until power is reached
    while power_continuous(sd, hi, n_treatment, n_control, alpha) < power:
        hi *= 2
    return float(
        optimize.brentq(lambda d: power_continuous(sd, d, n_treatment, n_control, alpha) - power, 0.0, hi)
    )


@dataclass(frozen=True)
class PowerStatement:
    """A power calculation and its sentence."""

    metric: str
    kind: str
    n_treatment: int
    n_control: int
    alpha: float
    power: float
    mde: float
    baseline: float
    compare_with: float
    compare_power: float
    sentence: str


def power_statement(
    metric: str,
    n_treatment: int,
    n_control: int | None = None,
    *,
    p_control: float | None = None,
    sd: float | None = None,
    alpha: float = 0.05,
    power: float = 0.8,
    compare_with: float | None = None,
    unit: str = "",
) -> PowerStatement:
    """The MDE and the chance of detecting a smaller change, in plain words.

    Give ``p_control`` for a binary metric (the statement speaks in percentage points) or ``sd`` for a
    continuous one (the statement speaks in ``unit``). ``compare_with`` is a second, smaller change to state
    the power for (default: binary, the MDE rounded to a whole point less one; continuous, 80% of the MDE
    to two significant figures).

    Examples
    --------
    >>> power_statement("12-month retention", 600, p_control=0.80).sentence  # doctest: +ELLIPSIS
    'With 600 customers per group you can detect a 6.1-point change in 12-month retention (from 80.0%) ...'
    """
    n_c = n_treatment if n_control is None else n_control
    if (p_control is None) == (sd is None):
        raise KeepwiseInputError("give either the control rate (binary metric) or the standard deviation")
    groups = (
        f"{n_treatment:,} customers per group"
        if n_treatment == n_c
        else f"{n_treatment:,} treated and {n_c:,} control customers"
    )
    if p_control is not None:
        mde = mde_binary(p_control, n_treatment, n_c, alpha, power)
        other = compare_with if compare_with is not None else _smaller(mde * 100) / 100
        other_power = power_binary(p_control, other, n_treatment, n_c, alpha)
        sentence = (
            f"With {groups} you can detect a {mde * 100:.1f}-point change in {metric} "
            f"(from {p_control:.1%}) with {power:.0%} probability; a {other * 100:.1f}-point change would be "
            f"detected {other_power:.0%} of the time."
        )
        kind, baseline = "binary", p_control
    else:
        assert sd is not None
        mde = mde_continuous(sd, n_treatment, n_c, alpha, power)
        other = compare_with if compare_with is not None else float(f"{0.8 * mde:.2g}")
        other_power = power_continuous(sd, other, n_treatment, n_c, alpha)
        u = f" {unit}" if unit else ""
        sentence = (
            f"With {groups} you can detect a change of {mde:,.2f}{u} in {metric} (standard deviation "
            f"{sd:,.2f}{u}) with {power:.0%} probability; a change of {other:,.2f}{u} would be detected "
            f"{other_power:.0%} of the time."
        )
        kind, baseline = "continuous", sd
    sentence += f" (Two-sided test at the {alpha:.0%} level.)"
    return PowerStatement(
        metric=metric,
        kind=kind,
        n_treatment=n_treatment,
        n_control=n_c,
        alpha=alpha,
        power=power,
        mde=mde,
        baseline=baseline,
        compare_with=other,
        compare_power=other_power,
        sentence=sentence,
    )


def _smaller(x: float) -> float:
    """A round figure clearly below ``x``: ``x`` rounded to a whole number, less one; else 80% of ``x``."""
    whole = float(np.round(x)) - 1
    return whole if whole > 0 else 0.8 * x
