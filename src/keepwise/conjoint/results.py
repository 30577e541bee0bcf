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

A latent-class result (``model="lc"``) reports population-level figures from the share-weighted part-worths
:math:`\sum_s \pi_s \beta_s` (delta-method covariance, :mod:`keepwise.conjoint.latent_class`), its
importance as the share-weighted mean of the classes' importances, and the classes themselves through
:func:`segments` (share, coefficients, importance and WTP per class, each class treated as a conditional logit
with its own block of the covariance).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import stats

from keepwise.conjoint.coding import Coding, CodingKind, choice_data
from keepwise.conjoint.hb import HierarchicalBayesMNL
from keepwise.conjoint.latent_class import LatentClassMNL
from keepwise.conjoint.mnl import ConditionalLogit
from keepwise.conjoint.terms import OfferTerms
from keepwise.exceptions import BadInput, ConvergenceError, KeepwiseInputError, StatisticalWarning

__all__ = ["ConjointResult", "class_result", "estimate", "importance", "part_worths", "segments", "wtp"]


@dataclass
class ConjointResult:
    """A fitted choice model together with the coding of its columns (what the simulator needs).

    ``study`` names it once saved to the store (:mod:`keepwise.conjoint.store`); ``currency`` is the currency
    of the price attribute, shown with willingness to pay.
    """

    model: ConditionalLogit | HierarchicalBayesMNL | LatentClassMNL
    coding: Coding
    study: str | None = None
    currency: str = ""
    #: The study's prohibited offers as ``{attribute: level}`` partial profiles (``None``: not recorded).
    prohibitions: tuple[dict[str, Any], ...] | None = None
    #: Words and costs of the levels and the lost offer (``None``: saved without them).
    terms: OfferTerms | None = None

    @property
    def coefficients(self) -> dict[str, float]:
        """``{column: estimate}`` (population means for HB, share-weighted means for latent classes)."""
        return dict(zip(self.coding.names, map(float, self.model.coef_), strict=True))

    @property
    def std_errors(self) -> dict[str, float]:
        """``{column: standard error}`` (posterior sd of the population means for hierarchical Bayes)."""
        return dict(zip(self.coding.names, map(float, self.model.se_), strict=True))

    def betas(self) -> np.ndarray:
        """Part-worth rows to simulate with: one (MNL), one per respondent (HB) or one per latent class."""
        return self.model.individual_betas()

    def weights(self) -> np.ndarray:
        """Weight of each row of :meth:`betas` in shares and importance (class shares, else equal)."""
        if isinstance(self.model, LatentClassMNL):
            return np.asarray(self.model.class_shares_, dtype=float)
        n = len(self.betas())
        return np.full(n, 1.0 / n)

    def average(self, rows: np.ndarray) -> np.ndarray:
        """Average of per-row figures ``(rows, ...)``: weighted by class share (latent classes), else mean."""
        if isinstance(self.model, LatentClassMNL):
            return np.tensordot(self.weights(), rows, axes=1)
        return np.asarray(rows.mean(axis=0))


def estimate(
    frame: pd.DataFrame,
    attributes: Sequence[str],
    task: str,
    alternative: str,
    choice: str,
    respondent: str | None = None,
    model: Literal["mnl", "hb", "lc"] = "mnl",
    coding: CodingKind = "effects",
    categorical: Sequence[str] = (),
    price: str | None = None,
    none: str | None = None,
    source: str = "<data>",
    **hb_options: Any,
) -> ConjointResult:
    """Fit a conditional logit (``mnl``), hierarchical Bayes (``hb``) or latent-class (``lc``) model.

    Numeric attribute columns enter linearly, the others are effects- (or dummy-) coded; ``price`` names the
    price column (for willingness to pay), ``none`` a 0/1 "none of these" column. ``hb_options`` go to the
    estimator (for ``lc``: ``classes``, ``starts``, ``seed``...).
    """
    if not attributes:
        raise KeepwiseInputError("name at least one attribute column")
    scheme = Coding.from_frame(frame, attributes, coding, categorical, price, none, source)
    if model in ("hb", "lc") and respondent is None:
        raise BadInput("respondent", f"model '{model}' needs a respondent column (whose tasks are whose)")
    classes = hb_options.get("classes", 2)
    if model == "lc" and classes != "auto" and int(classes) < 2:
        raise BadInput(
            "classes", "latent classes need 2 or more, or 'auto'; one class is model 'mnl'", classes
        )
    data = choice_data(frame, scheme, task, alternative, choice, respondent, source)
    fitted: ConditionalLogit | HierarchicalBayesMNL | LatentClassMNL
    if model == "mnl":
        fitted = ConditionalLogit().fit(data)
    elif model == "hb":
        fitted = HierarchicalBayesMNL(**hb_options).fit(data)
    elif model == "lc" and classes == "auto":
        fitted = _lc_by_bic(data, {k: v for k, v in hb_options.items() if k != "classes"})
    elif model == "lc":
        fitted = LatentClassMNL(**hb_options).fit(data)
    else:
        raise KeepwiseInputError(f"unknown model '{model}': use mnl, hb or lc")
    return ConjointResult(fitted, scheme)


AUTO_CLASSES = range(1, 6)


def _lc_by_bic(data: Any, options: dict[str, Any]) -> LatentClassMNL:
    """The number of latent classes in 1..5 with the lowest BIC, refitted with all its random starts.

    The scan uses at most 3 EM starts per number of classes and stops once BIC has risen twice in a row
    (more classes than the data support converge slowly and only ever add parameters); numbers the
    respondents cannot carry (one per parameter) or whose information matrix is singular are skipped.
    """
    scan = {**options, "starts": min(int(options.get("starts", 10)), 3)}
    bics: dict[int, float] = {}
    for S in AUTO_CLASSES:
        try:
            bics[S] = float(LatentClassMNL(classes=S, **scan).fit(data).bic_)
        except KeepwiseInputError:
            break  # too few respondents for this many classes, and for more
        except ConvergenceError:
            continue  # a class with almost no members: this many classes is not estimable
        tried = list(bics.values())
        if len(tried) >= 3 and tried[-1] > tried[-2] > tried[-3]:
            break
    if not bics:
        raise KeepwiseInputError("too few respondents for even one class: need one per coefficient")
    best = LatentClassMNL(classes=min(bics, key=lambda S: bics[S]), **options).fit(data)
    best.bic_by_classes_ = {**bics, best.classes: float(best.bic_)}
    return best


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
    """Importance in percent: range of part-worths over the sum of ranges (per respondent for HB).

    Ranges and importances are averaged over the rows of :meth:`ConjointResult.betas` with
    :meth:`ConjointResult.weights` (the class shares for latent classes).
    """
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
    if isinstance(result.model, LatentClassMNL):
        w = result.weights()
        mean_range, mean_share = ranges @ w, share @ w
    else:  # the plain mean, bit for bit as before
        mean_range, mean_share = ranges.mean(axis=1), share.mean(axis=1)
    return pd.DataFrame({"attribute": names, "range": mean_range, "importance": mean_share}).sort_values(
        "importance", ascending=False, ignore_index=True
    )


def wtp(result: ConjointResult, price: str | None = None, level: float = 0.95) -> pd.DataFrame:
    """Willingness to pay for each level over its attribute's first level, with ``level`` intervals.

    MNL (and latent classes, on the share-weighted part-worths): delta-method standard errors and Wald
    intervals; hierarchical Bayes: posterior sd and percentile
    intervals of the WTP computed on each draw of the population means. Numeric attributes other than the
    price give the WTP per unit.

    WTP divides by the price coefficient, so it means something only when that coefficient is clearly
    negative: a :class:`~keepwise.exceptions.StatisticalWarning` says so when it is not (its z-statistic
    above ``-PRICE_Z``; for hierarchical Bayes, more than 2.5% of the draws of its mean at zero or above).
    """
    coding = result.coding
    price = price or coding.price
    if price is None:
        raise BadInput("price", "willingness to pay needs the price column")
    p = coding.slices[coding.attribute(price).name].start
    K = len(coding.names)
    _check_price_coefficient(result, price, p)
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


#: A price coefficient whose z-statistic is above -PRICE_Z is not clearly negative (5% two-sided).
PRICE_Z = 1.96


def _check_price_coefficient(result: ConjointResult, price: str, p: int) -> None:
    """Warn when the price coefficient is not clearly negative: WTP is then unstable or meaningless."""
    model = result.model
    if isinstance(model, HierarchicalBayesMNL):
        draws = model.mean_draws_.reshape(-1, len(result.coding.names))[:, p]
        share = float(np.mean(draws >= 0))
        if share > 0.025:
            warnings.warn(
                f"willingness to pay: {share:.0%} of the draws of the mean price coefficient ({price}) are "
                "zero or positive, so WTP (a ratio to it) is unstable; test a wider price range or treat "
                "the WTP figures as unknown",
                StatisticalWarning,
                stacklevel=3,
            )
        return
    beta, se = float(model.coef_[p]), float(np.sqrt(model.cov_[p, p]))
    z = beta / se if se > 0 else float("-inf") if beta < 0 else float("inf")
    if z > -PRICE_Z:
        warnings.warn(
            f"willingness to pay: the price coefficient ({price}) is {beta:.4g} with standard error "
            f"{se:.2g} (z = {z:.2f}), not clearly negative, so WTP (a ratio to it) is unstable; test a "
            "wider price range or treat the WTP figures as unknown",
            StatisticalWarning,
            stacklevel=3,
        )


def class_result(result: ConjointResult, s: int) -> ConjointResult:
    """Class ``s`` (0-based, largest first) of a latent-class result as a conditional-logit result.

    Its coefficients and covariance are the class's own (its block of the full covariance), so
    :func:`importance`, :func:`part_worths` and :func:`wtp` give the class's figures.
    """
    model = result.model
    if not isinstance(model, LatentClassMNL):
        raise BadInput("model", "segments exist only for a latent-class result (model 'lc')")
    one = ConditionalLogit()
    one.names_ = list(model.names_)
    one.coef_ = np.asarray(model.class_coef_[s], dtype=float)
    one.cov_ = model.class_covariance(s)
    one.se_ = np.asarray(model.class_se_[s], dtype=float)
    one.n_tasks_ = model.n_tasks_
    return ConjointResult(one, result.coding, study=result.study, currency=result.currency)


def segments(result: ConjointResult) -> list[dict[str, Any]]:
    """The latent classes of a result, largest first (an empty list for other models).

    Each: ``class`` (1-based), ``share``, ``coefficients``, ``std_errors``, ``part_worths``, ``importance``
    (``{attribute: percent}``) and, when there is a price, ``wtp`` (records as :func:`wtp`).
    """
    model = result.model
    if not isinstance(model, LatentClassMNL):
        return []
    out = []
    for s in range(len(model.class_shares_)):
        one = class_result(result, s)
        doc: dict[str, Any] = {
            "class": s + 1,
            "share": float(model.class_shares_[s]),
            "coefficients": one.coefficients,
            "std_errors": one.std_errors,
            "part_worths": part_worths(one).to_dict(orient="records"),
            "importance": {
                str(r["attribute"]): float(r["importance"]) for r in importance(one).to_dict(orient="records")
            },
        }
        if result.coding.price is not None:
            doc["wtp"] = wtp(one).to_dict(orient="records")
        out.append(doc)
    return out
