r"""Estimation from long-format data, and what practitioners read off it: part-worths, importance, WTP.

*Part-worths* are zero-centred within each attribute (an attribute's levels sum to zero), so they
compare across attributes; a numeric attribute's part-worth at ``x`` is ``beta (x - mean of its levels)``.
*Importance* of an attribute is the range of its part-worths over the sum of ranges, in percent (Orme 2010,
*Getting Started with Conjoint Analysis*, chapter 9); with hierarchical Bayes it is computed per respondent
and averaged, as Sawtooth Software reports it.
*Willingness to pay* for level ``l`` over the attribute's first level is
:math:`-(u_l - u_1) / \beta_{price}`; its standard error follows from the delta method with gradient
:math:`-(c / \beta_p) + (c'\beta / \beta_p^2) e_p`, ``c`` the contrast of the two levels (Train 2009,
section 2.8; Hole 2007, "A comparison of approaches to estimating confidence intervals for willingness to
pay measures", *Health Economics* 16). For hierarchical Bayes the interval is taken from the posterior draws
of the population means instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from keepwise.conjoint.coding import Coding, CodingKind, choice_data
from keepwise.conjoint.hb import HierarchicalBayesMNL
from keepwise.conjoint.mnl import ConditionalLogit
from keepwise.exceptions import KeepwiseInputError

__all__ = ["ConjointResult", "estimate", "importance", "part_worths", "wtp"]


@dataclass
class ConjointResult:
    """A fitted choice model together with the coding of its columns (what the simulator needs).

    ``study`` names it once saved to the store (:mod:`keepwise.conjoint.store`); ``currency`` is the currency
    of the price attribute, shown with willingness to pay.
    """

    model: ConditionalLogit | HierarchicalBayesMNL
    coding: Coding
    study: str | None = None
    currency: str = ""
    #: The study's prohibited offers as ``{attribute: level}`` partial profiles (``None``: not recorded).
    prohibitions: tuple[dict[str, Any], ...] | None = None

    @property
    def coefficients(self) -> dict[str, float]:
        """``{column: estimate}`` (population means for hierarchical Bayes)."""
        return dict(zip(self.coding.names, map(float, self.model.coef_), strict=True))

    @property
    def std_errors(self) -> dict[str, float]:
        """``{column: standard error}`` (posterior sd of the population means for hierarchical Bayes)."""
        return dict(zip(self.coding.names, map(float, self.model.se_), strict=True))

    def betas(self) -> np.ndarray:
        """Part-worth rows to simulate with: one row (MNL) or one per respondent (hierarchical Bayes)."""
        return self.model.individual_betas()


def estimate(
    frame: pd.DataFrame,
    attributes: Sequence[str],
    task: str,
    alternative: str,
    choice: str,
    respondent: str | None = None,
    model: Literal["mnl", "hb"] = "mnl",
    coding: CodingKind = "effects",
    categorical: Sequence[str] = (),
    price: str | None = None,
    none: str | None = None,
    source: str = "<data>",
    **hb_options: Any,
) -> ConjointResult:
    """Fit a conditional logit (``mnl``) or hierarchical Bayes (``hb``) model to long-format choices.

    Numeric attribute columns enter linearly, the others are effects- (or dummy-) coded; ``price`` names the
    price column (for willingness to pay), ``none`` a 0/1 "none of these" column.
    """
    if not attributes:
        raise KeepwiseInputError("name at least one attribute column")
    scheme = Coding.from_frame(frame, attributes, coding, categorical, price, none, source)
    if model == "hb" and respondent is None:
        raise KeepwiseInputError("--model hb needs --respondent-column (whose tasks are whose)")
    data = choice_data(frame, scheme, task, alternative, choice, respondent, source)
    fitted: ConditionalLogit | HierarchicalBayesMNL
    if model == "mnl":
        fitted = ConditionalLogit().fit(data)
    elif model == "hb":
        fitted = HierarchicalBayesMNL(**hb_options).fit(data)
    else:
        raise KeepwiseInputError(f"unknown model '{model}': use mnl or hb")
    return ConjointResult(fitted, scheme)


def _level_rows(coding: Coding) -> list[tuple[str, str, np.ndarray]]:
    """(attribute, level label, zero-centred contrast vector) of every level of every attribute but none."""
    rows = []
    K = len(coding.names)
    for a in coding.attributes:
        if a.name == coding.none:
            continue
        where = coding.slices[a.name]
        if a.numeric:
            values = np.asarray(a.values, dtype=float)
            for value in values:
                vector = np.zeros(K)
                vector[where] = value - values.mean()
                rows.append((a.name, f"{value:g}", vector))
        else:
            table = a.lookup()[:-1]
            centred = table - table.mean(axis=0)
            for label, row in zip(a.levels, centred, strict=True):
                vector = np.zeros(K)
                vector[where] = row
                rows.append((a.name, label, vector))
    return rows


def part_worths(result: ConjointResult) -> pd.DataFrame:
    """Zero-centred part-worth of every level (population means for hierarchical Bayes)."""
    beta = result.model.coef_
    rows = [(a, level, float(vector @ beta)) for a, level, vector in _level_rows(result.coding)]
    return pd.DataFrame(rows, columns=["attribute", "level", "part_worth"])


def importance(result: ConjointResult) -> pd.DataFrame:
    """Importance in percent: range of part-worths over the sum of ranges (per respondent for HB)."""
    rows = _level_rows(result.coding)
    names = list(dict.fromkeys(a for a, _, _ in rows))
    betas = result.betas()
    utilities = np.stack([vector for _, _, vector in rows]) @ betas.T  # (levels, respondents)
    attr_of_row = np.array([names.index(a) for a, _, _ in rows])
    ranges = np.stack(
        [
            utilities[attr_of_row == i].max(axis=0) - utilities[attr_of_row == i].min(axis=0)
            for i in range(len(names))
        ]
    )
    share = 100 * ranges / ranges.sum(axis=0, keepdims=True)
    return pd.DataFrame(
        {"attribute": names, "range": ranges.mean(axis=1), "importance": share.mean(axis=1)}
    ).sort_values("importance", ascending=False, ignore_index=True)


def wtp(result: ConjointResult, price: str | None = None, level: float = 0.95) -> pd.DataFrame:
    """Willingness to pay for each level over its attribute's first level, with ``level`` intervals.

    MNL: delta-method standard errors and Wald intervals; hierarchical Bayes: posterior sd and percentile
    intervals of the WTP computed on each draw of the population means. Numeric attributes other than the
    price give the WTP per unit.
    """
    coding = result.coding
    price = price or coding.price
    if price is None:
        raise KeepwiseInputError("willingness to pay needs the price column (--price-column)")
    p = coding.slices[coding.attribute(price).name].start
    K = len(coding.names)
    contrasts: list[tuple[str, str, np.ndarray]] = []
    for a in coding.attributes:
        if a.name in (price, coding.none):
            continue
        if a.numeric:
            c = np.zeros(K)
            c[coding.slices[a.name]] = 1.0
            contrasts.append((a.name, "per unit", c))
            continue
        for label in a.levels[1:]:
            c = coding.level_vector(a.name, label) - coding.level_vector(a.name, a.levels[0])
            contrasts.append((a.name, f"{label} vs {a.levels[0]}", c))
    q = stats.norm.ppf(0.5 + level / 2)
    rows = []
    model = result.model
    for name, label, c in contrasts:
        if isinstance(model, HierarchicalBayesMNL):
            draws = model.mean_draws_.reshape(-1, K)
            values = -(draws @ c) / draws[:, p]
            value = float(np.median(values))
            se = float(values.std(ddof=1))
            lower, upper = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
        else:
            beta, cov = model.coef_, model.cov_
            value = float(-(c @ beta) / beta[p])
            gradient = -c / beta[p]
            gradient[p] += (c @ beta) / beta[p] ** 2
            se = float(np.sqrt(gradient @ cov @ gradient))
            lower, upper = value - q * se, value + q * se
        rows.append((name, label, value, se, float(lower), float(upper)))
    return pd.DataFrame(rows, columns=["attribute", "level", "wtp", "se", "lower", "upper"])
