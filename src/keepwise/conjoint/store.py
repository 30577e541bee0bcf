"""Fitted conjoint studies in the store: save one, load the latest (or a named) one back.

Two keepwise-written tables hold them (declared in :mod:`keepwise.store.schema`):

* ``conjoint_studies``: one row per study, with the model kind, where it was fitted from, the coding of the
  attributes (JSON) and the model's state (JSON: covariance, and for hierarchical Bayes the kept draws of the
  population means, the respondents' part-worths and the convergence diagnostics; for latent classes the
  class shares, part-worths, full covariance and the respondents' class memberships);
* ``conjoint_estimates``: one row per coefficient (estimate and standard error), for reading in SQL or on
  the dashboard without parsing JSON.

Floats go through JSON with their shortest exact representation, so a loaded result gives the same
part-worths, willingness to pay and shares as the fitted one, to the last bit. Not kept: the draws of the
hierarchical Bayes population covariance and the thinned individual draws (neither is used by the reports or
the simulator); a loaded model's ``cov_draws_`` and ``individual_draws_`` hold the posterior means only.

The study's prohibited offers, when given (``save_result(..., prohibitions=study_prohibitions(study))``), are
kept in the ``coding`` JSON as ``{attribute: level}`` partial profiles (the price as a number), so the
win-back ranking leaves them out without the study file; a study saved without them loads with
``prohibitions`` ``None`` (not recorded), one saved with a study that has none with ``()``. The study's
words and costs of its levels and its lost offer (:mod:`keepwise.conjoint.terms`) are kept there too
(``terms``), so letters word the offer and the ranking costs it without the file.

Saving again under the same name replaces the study. :func:`load_result` with no name returns the study
saved last (what the review and the win-back ranking use), or ``None`` when the store holds none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keepwise.conjoint.coding import AttributeCoding, Coding
from keepwise.conjoint.hb import HierarchicalBayesMNL
from keepwise.conjoint.latent_class import LatentClassMNL
from keepwise.conjoint.mnl import ConditionalLogit
from keepwise.conjoint.results import ConjointResult
from keepwise.conjoint.terms import OfferTerms
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.store.store import Store, as_store

if TYPE_CHECKING:
    from keepwise.conjoint.study import Study

__all__ = ["ESTIMATES", "STUDIES", "list_studies", "load_result", "save_result", "study_prohibitions"]

STUDIES = "conjoint_studies"
ESTIMATES = "conjoint_estimates"

_HB_OPTIONS = (
    "burn",
    "draws",
    "chains",
    "prior_dof",
    "seed",
    "max_rhat",
    "keep_individual",
    "mh_steps",
    "prior_variance",
)


def _coding_doc(coding: Coding) -> dict[str, Any]:
    return {
        "none": coding.none,
        "price": coding.price,
        "attributes": [
            {
                "name": a.name,
                "numeric": a.numeric,
                "levels": list(a.levels),
                "values": [float(v) for v in a.values],
                "kind": a.kind,
            }
            for a in coding.attributes
        ],
    }


def _coding_from(doc: dict[str, Any]) -> Coding:
    attributes = tuple(
        AttributeCoding(
            a["name"], bool(a["numeric"]), tuple(a["levels"]), tuple(float(v) for v in a["values"]), a["kind"]
        )
        for a in doc["attributes"]
    )
    return Coding(attributes, none=doc.get("none"), price=doc.get("price"))


def study_prohibitions(study: Study) -> list[dict[str, Any]]:
    """A study's prohibitions as ``{attribute: level}`` partial profiles (labels; the price as a number)."""
    return [
        {
            study.attributes[a].name: (
                float(study.attributes[a].levels[level])
                if study.attributes[a].numeric
                else str(study.attributes[a].levels[level])
            )
            for a, level in sorted(rule.items())
        }
        for rule in study.prohibitions
    ]


def _checked_prohibitions(
    coding: Coding, prohibitions: Sequence[Mapping[str, Any]], where: str
) -> list[dict[str, Any]]:
    """The prohibitions as plain JSON, each pair checked against the fitted coding (one-line errors)."""
    coded = {a.name: a for a in coding.attributes if a.name != coding.none}
    out: list[dict[str, Any]] = []
    for i, rule in enumerate(prohibitions):
        if not isinstance(rule, Mapping) or not rule:
            raise KeepwiseInputError(f"{where}: prohibitions[{i}] must map attributes to a level each")
        plain: dict[str, Any] = {}
        for name, level in rule.items():
            attr = coded.get(str(name))
            if attr is None:
                raise KeepwiseInputError(
                    f"{where}: prohibitions[{i}]: attribute '{name}' is not in the fitted study "
                    f"(attributes: {sorted(coded)})"
                )
            if attr.numeric:
                try:
                    value: Any = float(level)
                except (TypeError, ValueError):
                    value = None
                ok = value is not None and value in attr.values
                shown_levels: list[Any] = list(attr.values)
            else:
                value = str(level)
                ok = value in attr.levels
                shown_levels = list(attr.levels)
            if not ok:
                raise KeepwiseInputError(
                    f"{where}: prohibitions[{i}]: '{level}' is not a level of '{name}' in the fitted study "
                    f"(levels: {shown_levels})"
                )
            plain[str(name)] = value
        out.append(plain)
    return out


def _arr(value: np.ndarray) -> Any:
    return np.asarray(value, dtype=float).tolist()


def _plain(values: Any) -> list[Any]:
    return [v.item() if isinstance(v, np.generic) else v for v in values]


_LC_OPTIONS = ("classes", "starts", "max_iter", "tol", "seed")


def _lc_state(model: LatentClassMNL) -> dict[str, Any]:
    return {
        "kind": "lc",
        "options": {name: getattr(model, name) for name in _LC_OPTIONS},
        "names": list(model.names_),
        "respondents": _plain(model.respondents_) if model.respondents_ is not None else None,
        "class_shares": _arr(model.class_shares_),
        "class_coef": _arr(model.class_coef_),
        "class_se": _arr(model.class_se_),
        "theta_cov": _arr(model.theta_cov_),
        "coef": _arr(model.coef_),
        "se": _arr(model.se_),
        "cov": _arr(model.cov_),
        "membership": _arr(model.membership_),
        "log_likelihood": float(model.log_likelihood_),
        "bic": float(model.bic_),
        "aic": float(model.aic_),
        "n_params": int(model.n_params_),
        "n_tasks": int(model.n_tasks_),
        "n_respondents": int(model.n_respondents_),
        "n_iter": int(model.n_iter_),
    }


def _lc_from(state: dict[str, Any]) -> LatentClassMNL:
    lc = LatentClassMNL(**state["options"])
    lc.names_ = list(state["names"])
    respondents = state.get("respondents")
    lc.respondents_ = np.array(respondents) if respondents is not None else None
    for name in ("class_shares", "class_coef", "class_se", "theta_cov", "coef", "se", "cov", "membership"):
        setattr(lc, f"{name}_", np.array(state[name], dtype=float))
    for name in ("log_likelihood", "bic", "aic", "n_params", "n_tasks", "n_respondents", "n_iter"):
        setattr(lc, f"{name}_", state[name])
    return lc


def _state(model: ConditionalLogit | HierarchicalBayesMNL | LatentClassMNL) -> dict[str, Any]:
    if isinstance(model, LatentClassMNL):
        return _lc_state(model)
    if isinstance(model, ConditionalLogit):
        return {
            "kind": "mnl",
            "options": {"max_iter": model.max_iter, "tol": model.tol},
            "names": list(model.names_),
            "coef": _arr(model.coef_),
            "se": _arr(model.se_),
            "cov": _arr(model.cov_),
            "log_likelihood": float(model.log_likelihood_),
            "null_log_likelihood": float(model.null_log_likelihood_),
            "rho_squared": float(model.rho_squared_),
            "adjusted_rho_squared": float(model.adjusted_rho_squared_),
            "n_tasks": int(model.n_tasks_),
            "n_iter": int(model.n_iter_),
        }
    return {
        "kind": "hb",
        "options": {name: getattr(model, name) for name in _HB_OPTIONS},
        "names": list(model.names_),
        "respondents": _plain(model.respondents_) if model.respondents_ is not None else None,
        "coef": _arr(model.coef_),
        "se": _arr(model.se_),
        "cov": _arr(model.cov_),
        "mean_draws": _arr(model.mean_draws_),
        "individual": _arr(model.individual_),
        "individual_sd": _arr(model.individual_sd_),
        "rhat": {k: _arr(v) for k, v in model.rhat_.items()},
        "ess": {k: _arr(v) for k, v in model.ess_.items()},
        "acceptance": float(model.acceptance_),
        "log_likelihood": float(model.log_likelihood_),
        "n_tasks": int(model.n_tasks_),
        "n_respondents": int(model.n_respondents_),
    }


def _model_from(state: dict[str, Any]) -> ConditionalLogit | HierarchicalBayesMNL | LatentClassMNL:
    if state["kind"] == "lc":
        return _lc_from(state)
    if state["kind"] == "mnl":
        mnl = ConditionalLogit(**state["options"])
        mnl.names_ = list(state["names"])
        mnl.coef_ = np.array(state["coef"], dtype=float)
        mnl.se_ = np.array(state["se"], dtype=float)
        mnl.cov_ = np.array(state["cov"], dtype=float)
        mnl.log_likelihood_ = state["log_likelihood"]
        mnl.null_log_likelihood_ = state["null_log_likelihood"]
        mnl.rho_squared_ = state["rho_squared"]
        mnl.adjusted_rho_squared_ = state["adjusted_rho_squared"]
        mnl.n_tasks_ = state["n_tasks"]
        mnl.n_iter_ = state["n_iter"]
        return mnl
    hb = HierarchicalBayesMNL(**state["options"])
    hb.names_ = list(state["names"])
    respondents = state.get("respondents")
    hb.respondents_ = np.array(respondents) if respondents is not None else None
    hb.coef_ = np.array(state["coef"], dtype=float)
    hb.se_ = np.array(state["se"], dtype=float)
    hb.cov_ = np.array(state["cov"], dtype=float)
    hb.mean_draws_ = np.array(state["mean_draws"], dtype=float)
    hb.cov_draws_ = hb.cov_[None, None]
    hb.individual_ = np.array(state["individual"], dtype=float)
    hb.individual_sd_ = np.array(state["individual_sd"], dtype=float)
    hb.individual_draws_ = hb.individual_[None]
    hb.rhat_ = {k: np.array(v, dtype=float) for k, v in state["rhat"].items()}
    hb.ess_ = {k: np.array(v, dtype=float) for k, v in state["ess"].items()}
    hb.acceptance_ = state["acceptance"]
    hb.log_likelihood_ = state["log_likelihood"]
    hb.n_tasks_ = state["n_tasks"]
    hb.n_respondents_ = state["n_respondents"]
    return hb


def _state_kind(model: Any) -> str:
    if isinstance(model, LatentClassMNL):
        return "lc"
    return "hb" if isinstance(model, HierarchicalBayesMNL) else "mnl"


def save_result(
    store: Store,
    result: ConjointResult,
    study: str,
    *,
    source: str = "",
    saved_at: datetime | None = None,
    prohibitions: Sequence[Mapping[str, Any]] | None = None,
    prohibitions_from: str = "prohibitions",
    terms: OfferTerms | None = None,
) -> ConjointResult:
    """Save ``result`` as study ``study`` (replacing a study of that name) and return it named.

    Parameters
    ----------
    store:
        The store (:func:`keepwise.store.connect`; on DuckDB the study is replaced in one transaction).
    result:
        A fitted result (:func:`keepwise.conjoint.results.estimate`).
    study:
        Name to save it under (what ``load_result(store, study)`` finds it by).
    source:
        Where the answers came from (shown in reports).
    saved_at:
        Time stamp (default: now, UTC); :func:`load_result` without a name takes the latest.
    prohibitions:
        The study's prohibited offers as ``{attribute: level}`` partial profiles (:func:`study_prohibitions`
        of its YAML); default: ``result.prohibitions``, and ``None`` records none (not known).
    prohibitions_from:
        Where they came from (the study file), to name in errors.
    terms:
        The study's words and costs of its levels and its lost offer (``Study.terms`` of its YAML);
        default: ``result.terms`` (``None``: none kept, offers are then costed by the price cut alone).
    """
    study = study.strip()
    if not study:
        raise BadInput("study", "give the study a name")
    from keepwise.store.measurement import ensure_tables

    store = as_store(store)
    ensure_tables(store, (STUDIES, ESTIMATES))
    model = result.model
    stamp = saved_at or datetime.now(UTC)
    rules = result.prohibitions if prohibitions is None else prohibitions
    coding_doc = _coding_doc(result.coding)
    kept: tuple[dict[str, Any], ...] | None = None
    if rules is not None:
        kept = tuple(_checked_prohibitions(result.coding, rules, prohibitions_from))
        coding_doc["prohibitions"] = list(kept)
    kept_terms = result.terms if terms is None else terms
    if kept_terms is not None:
        coding_doc["terms"] = kept_terms.to_json()
    n_respondents = getattr(model, "n_respondents_", None)
    row = pd.DataFrame(
        {
            "study": [study],
            "saved_at": [pd.Timestamp(stamp)],
            "model": [_state_kind(model)],
            "source": [source],
            "currency": [result.currency or None],
            "n_tasks": [int(model.n_tasks_)],
            "n_respondents": [None if n_respondents is None else int(n_respondents)],
            "log_likelihood": [float(model.log_likelihood_)],
            "coding": [json.dumps(coding_doc)],
            "state": [json.dumps(_state(model))],
        }
    )
    estimates = pd.DataFrame(
        {
            "study": study,
            "coefficient": list(result.coding.names),
            "position": range(len(result.coding.names)),
            "estimate": [float(b) for b in model.coef_],
            "std_error": [float(se) for se in model.se_],
        }
    )
    with store.transaction():
        if store.count(ESTIMATES, where={"study": study}):
            store.delete(ESTIMATES, {"study": study})
        if store.count(STUDIES, where={"study": study}):
            store.delete(STUDIES, {"study": study})
        store.append(STUDIES, row)
        store.append(ESTIMATES, estimates)
    return ConjointResult(
        model, result.coding, study=study, currency=result.currency, prohibitions=kept, terms=kept_terms
    )


def list_studies(store: Store) -> pd.DataFrame:
    """The saved studies, latest first: study, saved_at, model, source, currency, n_tasks, n_respondents."""
    columns = [
        "study",
        "saved_at",
        "model",
        "source",
        "currency",
        "n_tasks",
        "n_respondents",
        "log_likelihood",
    ]
    store = as_store(store)
    if not store.has_table(STUDIES):
        return pd.DataFrame(columns=columns)
    table = store.table(STUDIES)
    frame = table.select(columns).to_pyarrow().to_pandas()
    return frame.sort_values(["saved_at", "study"], ascending=False, ignore_index=True)


def load_result(store: Store, study: str | None = None) -> ConjointResult | None:
    """The saved study ``study`` (default: the one saved last) as a :class:`ConjointResult`.

    Its ``prohibitions`` are the stored ones (``None`` when it was saved without them).

    Returns ``None`` when the store holds no study at all; a name that is not stored is a user error that
    lists the stored names.
    """
    store = as_store(store)
    if not store.has_table(STUDIES):
        return None
    table = store.table(STUDIES)
    if study is None:
        expr = table.order_by([table.saved_at.desc(), table.study.desc()]).limit(1)
    else:
        expr = table.filter(table.study == study)
    rows = expr.select("study", "currency", "coding", "state").to_pyarrow().to_pylist()
    if not rows:
        if study is None:
            return None
        known = list_studies(store)["study"].tolist()
        hint = f"saved: {', '.join(known)}" if known else "none saved yet"
        raise KeepwiseInputError(f"no conjoint study '{study}' in the store ({hint})")
    row = rows[0]
    coding = json.loads(row["coding"])
    rules = coding.get("prohibitions")
    return ConjointResult(
        _model_from(json.loads(row["state"])),
        _coding_from(coding),
        study=row["study"],
        currency=row["currency"] or "",
        prohibitions=None if rules is None else tuple(dict(r) for r in rules),
        terms=None if coding.get("terms") is None else OfferTerms.from_json(coding["terms"]),
    )
