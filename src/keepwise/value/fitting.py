"""Fitting the purchase, spend and retention models from the store (or from a per-customer summary).

From the store, per-customer summaries are computed in the engine (Ibis group-bys over purchase days, see
:mod:`keepwise.features.btyd`) and only the compressed histogram of unique ``(x, t_x, T)`` tuples with their
counts comes back to Python; the models of :mod:`keepwise.models` (which know nothing of the store) fit on it
with the counts as weights. :func:`fit_model` is what ``keepwise fit`` runs, and its result's
:meth:`FitResult.to_json` is what ``keepwise fit --json`` prints.

Examples
--------
>>> from keepwise.store import connect  # doctest: +SKIP
>>> result = fit_model(connect("duckdb:///keepwise.duckdb"), "bgnbd")  # doctest: +SKIP
>>> result.model.summary  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.features.btyd import (
    bgbb_histogram,
    customer_summary,
    purchase_days_until,
    rft_histogram,
    spend_exclusions,
    spend_histogram,
)
from keepwise.features.covariates import covariate_histogram, encode_covariates, need_columns
from keepwise.store import Store, as_store
from keepwise.store.inventory import Note

if TYPE_CHECKING:
    from keepwise.models import BaseModel, GammaGammaModel

__all__ = [
    "FIT_MODELS",
    "PURCHASE_MODELS",
    "FitResult",
    "covariate_effects",
    "covariate_spec",
    "fit_model",
    "fit_spend",
    "fit_summary",
    "fit_with_covariates",
    "new_model",
    "spend_note",
]

#: Models that can be fitted, by their name in :data:`keepwise.models.MODELS`.
FIT_MODELS: tuple[str, ...] = ("bgnbd", "mbgnbd", "pareto-nbd", "bgbb", "gamma-gamma", "sbg")
#: Purchase models that value customers (``keepwise clv``) and take covariates.
PURCHASE_MODELS: tuple[str, ...] = ("bgnbd", "mbgnbd", "pareto-nbd")


@dataclass
class FitResult:
    """A fitted model and facts about the data it was fitted on.

    Attributes
    ----------
    model:
        The fitted model (parameters in ``params_``, a table of estimates in ``summary``).
    name:
        Its name (``bgnbd``, ``gamma-gamma``, ...).
    info:
        ``time_unit``; from the store also ``calibration_end`` (ISO date) and ``unique_tuples`` (rows of
        the histogram fitted on); with covariates ``reference_levels``.
    covariates:
        The covariate columns the model was fitted with (empty: none).
    notes:
        What the fit left out or assumed, and what it did instead (:class:`~keepwise.store.inventory.Note`).
    """

    model: BaseModel
    name: str
    info: dict[str, Any] = field(default_factory=dict)
    covariates: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """What ``keepwise fit --json`` prints: parameters, standard errors, log-likelihood, sizes."""
        m: Any = self.model
        doc: dict[str, Any] = {
            "model": self.name,
            "params": m.params_,
            "std_errors": {k: v for k, v in m.std_errors_.items() if k in m.params_},
            "log_likelihood": m.log_likelihood_,
            "n_customers": m.n_customers_,
            "fit_seconds": m.fit_seconds_,
        }
        if self.covariates:
            doc["covariates"] = covariate_effects(m)
            doc["reference_levels"] = self.info.get("reference_levels", {})
        doc["notes"] = [n.to_json() for n in self.notes]
        return doc


def spend_note(
    left_out: int, repeat_customers: int, zero_mean: int, zero_days: int | None = None
) -> Note | None:
    """The note saying which customers the spend model left out and why (``None`` when none were).

    Parameters
    ----------
    left_out:
        Customers with repeat purchases left out of the fit (a repeat purchase worth 0 or less).
    repeat_customers:
        Customers with repeat purchases in all.
    zero_mean:
        Of those left out, the ones whose repeat purchases average 0 or less.
    zero_days:
        Repeat purchase days worth 0 (when known).
    """
    if left_out <= 0:
        return None
    days = f" ({zero_days:,} repeat purchase days)" if zero_days else ""
    instead = (
        "left out of the spend model (Gamma-Gamma) fit, which takes every purchase to be worth more than 0; "
        "keepwise clv still values them by their own mean spend, shrunk to the population's as for everyone"
    )
    if zero_mean:
        instead += (
            f", except {zero_mean:,} whose repeat purchases average 0 or less, who are given the "
            "population's mean spend per purchase (as a customer without repeat purchases)"
        )
    return Note(
        "orders",
        f"{left_out:,} of {repeat_customers:,} customers with repeat purchases have a repeat purchase worth "
        f"0 or less{days}",
        instead,
    )


def fit_spend(summary: Any) -> tuple[GammaGammaModel, Note | None, pd.DataFrame]:
    """Fit the Gamma-Gamma spend model on a per-customer summary in the engine (:func:`customer_summary`).

    Customers with a repeat purchase worth 0 are left out of the fit (:func:`spend_histogram`) and counted in
    the returned note (``None`` when nobody was left out). Returns the model, the note and the histogram of
    unique ``(x, zbar)`` it was fitted on.

    Raises
    ------
    KeepwiseInputError
        Fewer than two customers are left to fit on.
    """
    from keepwise.models import GammaGammaModel

    h = spend_histogram(summary)
    left = spend_exclusions(summary)
    note = spend_note(left["left_out"], left["repeat_customers"], left["zero_mean"], left["zero_days"])
    usable = int(h["count"].sum()) if len(h) else 0
    if left["repeat_customers"] == 0:
        raise KeepwiseInputError(
            "no customer has a repeat purchase in this history: the spend model (gamma-gamma) and customer "
            "lifetime value need some (use a later date, or load more orders)"
        )
    if usable < 2:
        raise KeepwiseInputError(
            "the spend model (gamma-gamma) needs at least 2 customers with repeat purchases worth more than "
            f"0; the data has {usable}"
        )
    return GammaGammaModel().fit(h["x"], h["zbar"], weights=h["count"]), note, h


def new_model(name: str) -> Any:
    """An unfitted model of :data:`FIT_MODELS` by name (a :class:`BadInput` for another name)."""
    from keepwise.models import MODELS

    if name not in FIT_MODELS:
        raise BadInput("model", f"must be one of {', '.join(FIT_MODELS)}", name)
    return MODELS[name]()


def covariate_spec(model: Any, columns: list[str], on: list[str] | None) -> dict[str, list[str]]:
    """Which parameters of ``model`` the covariate ``columns`` act on: ``on``, or every one that can."""
    allowed = list(type(model)._covariate_signs)
    if not allowed:
        raise KeepwiseInputError(
            f"covariates apply to bgnbd, mbgnbd and pareto-nbd, not to {type(model).__name__}"
        )
    params = on or allowed
    bad = [p for p in params if p not in allowed]
    if bad:
        raise BadInput(
            "covariates_on", f"{', '.join(bad)} cannot take covariates; choose from {', '.join(allowed)}"
        )
    return {p: list(columns) for p in params}


def fit_with_covariates(
    model: Any,
    frame: pd.DataFrame,
    rft: tuple[str, str, str],
    names: list[str],
    source: str,
    on: list[str] | None,
    weights: Any,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Fit a purchase model on ``frame``'s ``rft`` columns with ``names`` as covariates on ``on``.

    The columns are encoded by :func:`keepwise.features.covariates.encode_covariates`; returns the encoded
    columns (to score with) and the reference level of each text column.
    """
    z, references = encode_covariates(frame, names, source, weights=weights)
    x, t_x, T = rft
    model.fit(
        frame[x],
        frame[t_x],
        frame[T],
        weights=weights,
        covariates=z,
        covariate_columns=covariate_spec(model, list(z.columns), on),
    )
    return z, references


def covariate_effects(m: Any) -> dict[str, dict[str, dict[str, float]]]:
    """Fitted covariate coefficients with standard errors: {parameter: {column: {estimate, std_error}}}."""
    se = m.std_errors_
    return {
        param: {c: {"estimate": v, "std_error": se[f"{param}:{c}"]} for c, v in coefs.items()}
        for param, coefs in m.covariate_params_.items()
    }


def _weights(df: pd.DataFrame) -> Any:
    for name in ("count", "weights"):
        if name in df.columns:
            return df[name]
    return None


def fit_summary(
    frame: pd.DataFrame,
    model: str,
    *,
    source: str = "the summary",
    time_unit: str = "week",
    covariates: list[str] | None = None,
    covariates_on: list[str] | None = None,
) -> FitResult:
    """Fit model ``model`` on a per-customer summary in the lifetimes layout.

    Columns: ``frequency``, ``recency``, ``T`` (BG/NBD, MBG/NBD, Pareto/NBD); ``frequency``,
    ``monetary_value`` (Gamma-Gamma); ``frequency``, ``recency``, ``n_periods`` (or ``periods``, ``T``) for
    BG/BB; ``duration``, ``churned`` for sBG; an optional ``count`` (or ``weights``) column weighs each row.
    ``covariates`` name columns of the summary. ``source`` names the summary in error messages.
    """
    m = new_model(model)
    names = list(covariates or [])
    info: dict[str, Any] = {"time_unit": time_unit}
    notes: list[Note] = []
    if names:
        covariate_spec(m, names, covariates_on)  # fail early on a wrong model or parameter
    w = _weights(frame)
    if names:
        need_columns(frame, ["frequency", "recency", "T"], source)
        _, info["reference_levels"] = fit_with_covariates(
            m, frame, ("frequency", "recency", "T"), names, source, covariates_on, w
        )
    elif model == "gamma-gamma":
        need_columns(frame, ["frequency", "monetary_value"], source)
        x = pd.to_numeric(frame["frequency"], errors="coerce")
        z = pd.to_numeric(frame["monetary_value"], errors="coerce")
        bad = (x > 0) & (z <= 0)
        rows = w if w is not None else pd.Series(1.0, index=frame.index)
        note = spend_note(int(rows[bad].sum()), int(rows[x > 0].sum()), int(rows[bad].sum()))
        if note is not None:
            notes.append(note)
        keep = ~bad
        m.fit(x[keep], z[keep], weights=None if w is None else w[keep])
    elif model == "sbg":
        need_columns(frame, ["duration", "churned"], source)
        m.fit(frame["duration"], frame["churned"], weights=w)
    elif model == "bgbb":
        periods = next((c for c in ("n_periods", "periods", "T") if c in frame.columns), "n_periods")
        need_columns(frame, ["frequency", "recency", periods], source)
        m.fit(frame["frequency"], frame["recency"], frame[periods], weights=w)
    else:
        need_columns(frame, ["frequency", "recency", "T"], source)
        m.fit(frame["frequency"], frame["recency"], frame["T"], weights=w)
    return FitResult(m, model, info, names, notes)


def fit_model(
    store: Store,
    model: str,
    *,
    calibration_end: date | None = None,
    time_unit: str = "week",
    covariates: list[str] | None = None,
    covariates_on: list[str] | None = None,
    covariates_file: Path | None = None,
) -> FitResult:
    """Fit model ``model`` on the store's orders up to ``calibration_end`` (default: all of them).

    Parameters
    ----------
    store:
        The store (:func:`keepwise.store.connect`; an Ibis backend is accepted too).
    model:
        One of :data:`FIT_MODELS` except ``sbg`` (contract durations are not in the orders: use
        :func:`fit_summary`).
    calibration_end:
        Last day of the data to fit on.
    time_unit:
        ``"week"`` or ``"day"``.
    covariates:
        Time-invariant customer columns: of ``covariates_file`` or else of the store's ``customers`` table.
    covariates_on:
        The parameters the covariates act on (default: every parameter of the model that takes them).
    covariates_file:
        A CSV file with ``customer_id`` and the covariate columns.

    Returns
    -------
    FitResult
        The fitted model; ``to_json()`` is what ``keepwise fit --json`` prints.
    """
    store = as_store(store)
    m = new_model(model)
    names = list(covariates or [])
    info: dict[str, Any] = {"time_unit": time_unit}
    if names:
        covariate_spec(m, names, covariates_on)  # fail early on a wrong model or parameter
    if model == "sbg":
        raise BadInput(
            "model",
            "sbg needs contract durations, which orders do not give: fit it on a summary with columns "
            "duration, churned (and optionally count)",
        )
    days, end = purchase_days_until(store, calibration_end)
    info["calibration_end"] = end.isoformat()
    notes: list[Note] = []
    if calibration_end is None:
        notes.append(
            Note(
                "calibration_end",
                "none given",
                f"fitted on every order, to {end.isoformat()}, the last day with an order in the data",
            )
        )
    if model == "bgbb":
        h = bgbb_histogram(days, end, time_unit)
        m.fit(h["x"], h["t_x"], h["n"], weights=h["count"])
    elif model == "gamma-gamma":
        summ = customer_summary(days, end, time_unit)
        m, spend, h = fit_spend(summ)
        notes += [spend] if spend is not None else []
    elif names:
        summ = customer_summary(days, end, time_unit)
        _, h, source = covariate_histogram(store, summ, ["x", "t_x", "T"], names, covariates_file)
        h = h[h["T"] >= 0].reset_index(drop=True)
        _, info["reference_levels"] = fit_with_covariates(
            m, h, ("x", "t_x", "T"), names, source, covariates_on, h["count"]
        )
    else:
        h = rft_histogram(customer_summary(days, end, time_unit))
        h = h[h["T"] >= 0]
        m.fit(h["x"], h["t_x"], h["T"], weights=h["count"])
    info["unique_tuples"] = len(h)
    return FitResult(m, model, info, names, notes)
