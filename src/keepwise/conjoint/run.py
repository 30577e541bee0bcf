"""The conjoint stage's front doors: estimate part-worths from answers, show a saved study, rank offers.

:func:`estimate` fits a conditional logit, hierarchical Bayes or latent-class model to long-format answers
(a DataFrame or a CSV file) and :meth:`Estimate.save` keeps it in the store; :func:`show` loads a saved
study; :func:`simulate` ranks candidate win-back offers by expected margin. Each returns an object whose
``to_json()`` is what ``keepwise conjoint estimate|show|simulate --json`` prints (without the command's
timing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from keepwise.conjoint.coding import CodingKind
from keepwise.conjoint.hb import HierarchicalBayesMNL
from keepwise.conjoint.latent_class import LatentClassMNL
from keepwise.conjoint.results import ConjointResult, importance, part_worths, segments, wtp
from keepwise.conjoint.results import estimate as fit_result
from keepwise.conjoint.simulator import OfferChoice, best_offer
from keepwise.conjoint.store import load_result, save_result
from keepwise.conjoint.terms import OfferTerms
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.store.store import Store, as_store

__all__ = [
    "Estimate",
    "Shown",
    "estimate",
    "load_offers",
    "model_kind",
    "read_answers",
    "show",
    "simulate",
]


def model_kind(result: ConjointResult) -> Literal["mnl", "hb", "lc"]:
    """``mnl``, ``hb`` or ``lc``: the kind of model a result holds."""
    if isinstance(result.model, HierarchicalBayesMNL):
        return "hb"
    return "lc" if isinstance(result.model, LatentClassMNL) else "mnl"


@dataclass
class Estimate:
    """A fitted study and, once saved, the name it is stored under.

    Attributes
    ----------
    result:
        The fitted model with its coding (named and with its prohibitions once saved).
    saved_as:
        The study name in the store, or ``None`` when it was not saved.
    """

    result: ConjointResult
    saved_as: str | None = None

    def save(
        self,
        store: Store,
        study: str,
        *,
        source: str = "",
        prohibitions: Sequence[Mapping[str, Any]] | None = None,
        prohibitions_from: str = "prohibitions",
        terms: OfferTerms | None = None,
    ) -> Estimate:
        """Save the study in the store under ``study`` (:func:`keepwise.conjoint.store.save_result`)."""
        saved = save_result(
            as_store(store),
            self.result,
            study,
            source=source,
            prohibitions=prohibitions,
            prohibitions_from=prohibitions_from,
            terms=terms,
        )
        return Estimate(saved, study)

    def to_json(self) -> dict[str, Any]:
        """The document ``keepwise conjoint estimate --json`` prints (without ``seconds``)."""
        result = self.result
        fitted = result.model
        doc: dict[str, Any] = {
            "model": model_kind(result),
            "coefficients": result.coefficients,
            "std_errors": result.std_errors,
            "log_likelihood": float(fitted.log_likelihood_),
            "n_tasks": int(fitted.n_tasks_),
        }
        if isinstance(fitted, HierarchicalBayesMNL):
            doc["n_respondents"] = int(fitted.n_respondents_)
            doc["population_sd"] = dict(
                zip(fitted.names_, map(float, fitted.summary["population sd"]), strict=True)
            )
            doc["diagnostics"] = {
                "rhat": dict(zip(fitted.names_, map(float, fitted.rhat_["mean"]), strict=True)),
                "ess": dict(zip(fitted.names_, map(float, fitted.ess_["mean"]), strict=True)),
                "acceptance": float(fitted.acceptance_),
            }
        elif isinstance(fitted, LatentClassMNL):
            doc["n_respondents"] = int(fitted.n_respondents_)
            doc["classes"] = int(fitted.classes)
            doc["bic"] = float(fitted.bic_)
            doc["aic"] = float(fitted.aic_)
            if fitted.bic_by_classes_ is not None:
                doc["bic_by_classes"] = {str(k): v for k, v in fitted.bic_by_classes_.items()}
            doc["population"] = (
                "coefficients, std_errors, importance and wtp are share-weighted over the classes"
            )
            doc["segments"] = segments(result)
        else:
            doc["null_log_likelihood"] = float(fitted.null_log_likelihood_)
            doc["rho_squared"] = float(fitted.rho_squared_)
            doc["adjusted_rho_squared"] = float(fitted.adjusted_rho_squared_)
        doc["part_worths"] = part_worths(result).to_dict(orient="records")
        doc["importance"] = importance(result).to_dict(orient="records")
        if result.coding.price is not None:
            doc["wtp"] = wtp(result).to_dict(orient="records")
        if self.saved_as is not None:
            doc["saved_as"] = self.saved_as
            if result.prohibitions is not None:
                doc["prohibitions"] = list(result.prohibitions)
            if result.terms is not None:
                doc["terms"] = result.terms.to_json()
        return doc


def read_answers(path: Path, text_columns: Sequence[str] = (), *, all_text: bool = False) -> pd.DataFrame:
    """A long-format answers CSV file (``text_columns`` read as text); a bad file is an input error.

    ``all_text`` reads every column as text exactly as written, a blank cell as an empty string.
    """
    if not path.exists():
        raise KeepwiseInputError(f"{path}: no such file")
    try:
        if all_text:
            return pd.read_csv(path, dtype=str, keep_default_na=False)
        return pd.read_csv(path, dtype=dict.fromkeys(text_columns, str))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise KeepwiseInputError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None


def estimate(
    answers: pd.DataFrame | Path,
    attributes: Sequence[str],
    task: str,
    alternative: str,
    choice: str,
    *,
    respondent: str | None = None,
    model: Literal["mnl", "hb", "lc"] = "mnl",
    classes: int | Literal["auto"] | None = None,
    coding: CodingKind = "effects",
    categorical: Sequence[str] = (),
    price: str | None = None,
    none: str | None = None,
    draws: int = 3000,
    burn: int = 3000,
    seed: int = 0,
    currency: str = "",
    source: str | None = None,
) -> Estimate:
    """Estimate part-worths from long-format choices (one row per alternative per task).

    Parameters
    ----------
    answers:
        The answers, or a CSV file of them (``categorical`` columns are then read as text).
    attributes:
        Attribute columns; numeric ones enter linearly, the others are effects- (or dummy-) coded. The
        ``none`` column is added when missing.
    task, alternative, choice:
        Columns of the task, the alternative and the 0/1 choice.
    respondent:
        Respondent column (needed for ``hb`` and ``lc``).
    model:
        ``mnl`` (conditional logit), ``hb`` (hierarchical Bayes) or ``lc`` (latent classes).
    classes:
        ``lc``: number of classes (2 or more) or ``auto`` (the lowest BIC).
    coding:
        ``effects`` or ``dummy`` coding of categorical attributes.
    categorical:
        Numeric-looking columns to treat as categorical.
    price, none:
        The price column (for willingness to pay) and a 0/1 "none of these" column.
    draws, burn:
        ``hb``: kept draws and burn-in iterations per chain.
    seed:
        ``hb`` and ``lc``: random seed.
    currency:
        Currency of the price (upper-cased).
    source:
        Name of the answers in messages (default: the file name).
    """
    if isinstance(answers, pd.DataFrame):
        frame, source = answers, source or "<data>"
    else:
        frame, source = read_answers(Path(answers), categorical), source or str(answers)
    names = list(attributes)
    if none and none not in names:
        names.append(none)
    options: dict[str, Any] = {"draws": draws, "burn": burn, "seed": seed} if model == "hb" else {}
    if model == "lc":
        if classes is None:
            raise BadInput("classes", "latent classes need a number of classes (2 or more) or 'auto'")
        options = {"classes": classes, "seed": seed}
    result = fit_result(
        frame,
        names,
        task,
        alternative,
        choice,
        respondent=respondent,
        model=model,
        coding=coding,
        categorical=list(categorical),
        price=price,
        none=none,
        source=source,
        **options,
    )
    result.currency = currency.strip().upper()
    return Estimate(result)


@dataclass
class Shown:
    """A saved study, as ``keepwise conjoint show`` and ``GET /api/conjoint`` show it."""

    result: ConjointResult

    def to_json(self) -> dict[str, Any]:
        """The document ``keepwise conjoint show --json`` prints (``conjoint.report.show_document``)."""
        from keepwise.conjoint.report import show_document  # plotly: imported when a study is shown

        return show_document(self.result)


def show(store: Store, study: str | None = None) -> Shown:
    """The saved study ``study`` (default: the one saved last): importance, willingness to pay, segments.

    A store without any study raises :class:`~keepwise.exceptions.BadInput` (field ``study``); a name that is
    not stored raises :class:`~keepwise.exceptions.KeepwiseInputError` listing the stored names.
    """
    result = load_result(as_store(store), study)
    if result is None:
        raise BadInput("study", "the store holds no conjoint study yet: estimate one and save it")
    return Shown(result)


def load_offers(path: Path) -> dict[str, Any]:
    """A YAML file of ``candidates`` (offers, each with a ``cost``) and optional ``competitors``."""
    if not path.exists():
        raise KeepwiseInputError(f"{path}: no such offers file")
    import yaml

    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        raise KeepwiseInputError(f"{path}: not valid YAML") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("candidates"), list) or not doc["candidates"]:
        raise KeepwiseInputError(f"{path}: needs 'candidates', a list of offers with a 'cost'")
    for i, c in enumerate(doc["candidates"]):
        if not isinstance(c, dict) or "cost" not in c:
            raise KeepwiseInputError(f"{path}: candidates[{i}] needs a 'cost'")
    if not isinstance(doc.get("competitors", []), list):
        raise KeepwiseInputError(f"{path}: 'competitors' must be a list of offers")
    return doc


def simulate(result: ConjointResult, offers: Mapping[str, Any]) -> OfferChoice:
    """The candidate offer with the best expected margin ``take-up x (price - cost)`` against competitors.

    The answer's ``to_json()`` is what ``keepwise conjoint simulate --json`` prints.

    ``offers`` is what :func:`load_offers` reads: ``candidates`` (each with a ``cost``) and optional
    ``competitors`` (``{attribute: level}``).
    """
    candidates = [{k: v for k, v in c.items() if k != "cost"} for c in offers["candidates"]]
    return best_offer(
        result,
        candidates,
        [c["cost"] for c in offers["candidates"]],
        competitors=offers.get("competitors", []),
    )
