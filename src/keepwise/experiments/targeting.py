"""Uplift targeting's front doors: learn from a trial, score customers, plan who gets which offer.

They work on DataFrames (or the files they were read from) so that any randomised trial can be used:
:func:`fit_uplift` learns each offer's effect (and its held-out Qini area), :func:`score_uplift` predicts each
offer's effect for other customers, :func:`plan_uplift` gives each customer the offer whose predicted
incremental margin exceeds its cost and estimates what the plan will really add, with an interval, on the
part of the trial the learner did not see (:mod:`keepwise.experiments.calibration`). Each returns an object
whose ``to_json()`` is what ``keepwise uplift fit|score|plan --json`` prints. The models are in
:mod:`keepwise.experiments.uplift` (scikit-learn, imported when a learner is fitted or a plan made).
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from keepwise.exceptions import KeepwiseInputError
from keepwise.experiments.calibration import Holdout, PlanMargin, calibrate, plan_margin

__all__ = [
    "UpliftFit",
    "UpliftPlan",
    "UpliftScores",
    "fit_uplift",
    "load_uplift",
    "numeric_columns",
    "plan_uplift",
    "read_table",
    "score_uplift",
]


def read_table(path: Path) -> pd.DataFrame:
    """A CSV file (Parquet by its suffix) as a DataFrame; a missing or unreadable file is an input error."""
    if not path.exists():
        raise KeepwiseInputError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise KeepwiseInputError(f"{path.name}: cannot be read: {str(exc).splitlines()[0]}") from None


def numeric_columns(frame: pd.DataFrame, columns: Sequence[str], source: str) -> pd.DataFrame:
    """The named columns as floats; the first missing column or non-numeric cell is an input error."""
    for col in columns:
        if col not in frame.columns:
            raise KeepwiseInputError(f"{source}, column '{col}': missing column")
    out = pd.DataFrame(index=frame.index)
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if len(bad):
            row = int(bad[0])
            raise KeepwiseInputError(
                f"{source}, row {row + 1}, column '{col}': not a number: '{frame[col].iloc[row]}'"
            )
        out[col] = values.astype(float)
    return out


@dataclass
class UpliftFit:
    """A learner fitted on 70% of a trial, with each offer's Qini area and calibration on the other 30%.

    Attributes
    ----------
    learner:
        The learner, fitted on the 70% (not refitted on the holdout, so that the holdout can still measure
        what its plans realise).
    kind:
        ``t``, ``x`` or ``dr``.
    features, outcome:
        The feature columns and the outcome column it was fitted on.
    n_customers, held_out:
        Customers in the trial, and how many of them the evaluation learner did not see.
    qini_area:
        Per offer, the area between the held-out Qini curve and random targeting (0 = random).
    calibration:
        Per offer, predicted against realised uplift by decile on the holdout
        (:func:`keepwise.experiments.calibration.calibrate`).
    holdout:
        The held-out customers (kept with the model to measure what a plan realises).
    """

    learner: Any
    kind: str
    features: list[str]
    outcome: str
    n_customers: int
    held_out: int
    qini_area: dict[str, float]
    calibration: dict[str, list[dict[str, Any]]] | None = None
    holdout: Holdout | None = None

    def save(self, path: Path) -> None:
        """Write the learner as ``keepwise uplift fit --model-out`` does (a pickle: trust its source)."""
        with path.open("wb") as f:
            pickle.dump(
                {
                    "learner": self.learner,
                    "features": self.features,
                    "outcome": self.outcome,
                    "holdout": self.holdout,
                },
                f,
            )

    def to_json(self, model: Path | str | None = None) -> dict[str, Any]:
        """The document ``keepwise uplift fit --json`` prints (``model``: where the learner was saved)."""
        return {
            "learner": self.kind,
            "offers": list(self.learner.treatments_),
            "n_customers": self.n_customers,
            "held_out": self.held_out,
            "qini_area": self.qini_area,
            "calibration": self.calibration,
            "model": str(model),
        }


def fit_uplift(
    trial: pd.DataFrame,
    *,
    arm_column: str,
    outcome: str,
    features: Sequence[str],
    control: str = "control",
    learner: str = "dr",
    seed: int = 0,
    value_column: str | None = None,
    source: str = "the trial",
) -> UpliftFit:
    """Learn each offer's effect from a randomised trial; evaluate it on a seeded 30% it did not see.

    The learner (:func:`keepwise.experiments.uplift.make_learner`) is fitted on 70% of the trial; its Qini
    area and its calibration (predicted against realised uplift by decile) are measured on the other 30%,
    which is kept with the model so that :func:`plan_uplift` can measure what a plan realises. It is not
    refitted on the whole trial: the holdout would then no longer be unseen.

    Parameters
    ----------
    trial:
        One row per customer: the features, the arm and the outcome.
    arm_column, outcome, features:
        Columns of the arm, the outcome (0/1 retained, or profit) and the features.
    control:
        The control arm's value.
    learner:
        ``t``, ``x`` or ``dr``.
    seed:
        Seed of the evaluation split and of the models.
    value_column:
        For a 0/1 outcome, each customer's margin if retained (what ``plan --value-column`` names in the
        customers' file), so that a plan's incremental margin can be measured on the holdout.
    source:
        Name of the data in error messages (e.g. the file name).
    """
    from keepwise.experiments.uplift import make_learner, qini_area  # scikit-learn: imported when used

    names = list(features)
    X = numeric_columns(trial, names, source)
    y = numeric_columns(trial, [outcome], source)[outcome].to_numpy()
    value = None
    if value_column is not None:
        value = numeric_columns(trial, [value_column], source)[value_column].to_numpy()
    if arm_column not in trial.columns:
        raise KeepwiseInputError(f"{source}, column '{arm_column}': missing column")
    arm = trial[arm_column].astype(str).to_numpy()
    held_out = np.random.default_rng(seed).random(len(trial)) < 0.3
    evaluation = make_learner(learner, control=control, random_state=seed, threads=1)
    evaluation.fit(X[~held_out], arm[~held_out], y[~held_out])
    effects = evaluation.predict(X[held_out])
    qini: dict[str, float] = {}
    calibration: dict[str, list[dict[str, Any]]] = {}
    for offer in effects.columns:
        pair = (arm[held_out] == offer) | (arm[held_out] == control)
        score = effects[offer].to_numpy()[pair]
        qini[offer] = qini_area(y[held_out][pair], (arm[held_out][pair] == offer).astype(float), score)
        calibration[offer] = calibrate(score, arm[held_out][pair] == offer, y[held_out][pair])
    holdout = Holdout(
        X[held_out].reset_index(drop=True),
        arm[held_out],
        y[held_out],
        None if value is None else value[held_out],
        control,
    )
    return UpliftFit(
        evaluation, learner, names, outcome, len(trial), int(held_out.sum()), qini, calibration, holdout
    )


def load_uplift(path: Path) -> dict[str, Any]:
    """A learner saved by :meth:`UpliftFit.save`: ``{"learner", "features", "outcome"}``."""
    if not path.exists():
        raise KeepwiseInputError(f"{path}: no such model file (make one with keepwise uplift fit)")
    try:
        with path.open("rb") as f:
            saved = pickle.load(f)
    except (pickle.UnpicklingError, EOFError, AttributeError) as exc:
        raise KeepwiseInputError(f"{path}: not a keepwise uplift model ({exc})") from None
    if not isinstance(saved, dict) or "learner" not in saved:
        raise KeepwiseInputError(f"{path}: not a keepwise uplift model")
    return saved


@dataclass
class UpliftScores:
    """Each offer's predicted effect on the outcome (columns) per customer (rows, indexed by id)."""

    outcome: str
    effects: pd.DataFrame
    customers: pd.DataFrame
    model: Mapping[str, Any] | None = None

    @property
    def table(self) -> pd.DataFrame:
        """The effects with a ``customer_id`` column first (what ``--out`` writes)."""
        return self.effects.reset_index(names="customer_id")

    def to_json(self) -> dict[str, Any]:
        """The document ``keepwise uplift score --json`` prints."""
        return {"outcome": self.outcome, "customers": self.table.to_dict(orient="records")}


def score_uplift(
    saved: Mapping[str, Any],
    customers: pd.DataFrame,
    *,
    id_column: str = "customer_id",
    source: str = "the data",
) -> UpliftScores:
    """Predict each offer's effect for every customer with a learner from :func:`load_uplift`."""
    if id_column not in customers.columns:
        raise KeepwiseInputError(f"{source}, column '{id_column}': missing column")
    X = numeric_columns(customers, saved["features"], source)
    effects = saved["learner"].predict(X)
    effects.index = customers[id_column].astype(str)
    return UpliftScores(str(saved["outcome"]), effects, customers, saved)


@dataclass
class UpliftPlan:
    """Who gets which offer: one row per customer, best first, with the reason.

    The rows are :func:`keepwise.experiments.uplift.plan`'s (each customer's ``incremental_margin`` is the
    learner's prediction); ``margin`` is what the plan as a whole is measured to add on the trial's holdout
    (``None`` when the model holds no holdout to measure it on, with ``note`` saying why).
    """

    customers: pd.DataFrame
    margin: PlanMargin | None = None
    note: str | None = None

    @property
    def summary(self) -> dict[str, Any]:
        """How many are treated, by offer, and the incremental margin (with its interval), cost and net.

        ``incremental_margin`` is the holdout's measure when there is one, else the learner's prediction;
        ``predicted_incremental_margin`` is always the learner's (the sum over the treated of their predicted
        effects, which runs high: the plan picks the customers whose predictions are largest).
        """
        treated = self.customers[self.customers["offer"] != "none"]
        predicted = float(treated["incremental_margin"].sum())
        cost = float(treated["cost"].sum())
        margin = self.margin.estimate if self.margin is not None else predicted
        interval = None if self.margin is None else [self.margin.low, self.margin.high]
        return {
            "treated": len(treated),
            "by_offer": {str(k): int(v) for k, v in treated["offer"].value_counts().items()},
            "incremental_margin": round(margin, 2),
            "incremental_margin_interval": None if interval is None else [round(x, 2) for x in interval],
            "predicted_incremental_margin": round(predicted, 2),
            "cost": round(cost, 2),
            "net": round(margin - cost, 2),
            "net_interval": None if interval is None else [round(x - cost, 2) for x in interval],
        }

    def to_json(self) -> dict[str, Any]:
        """The document ``keepwise uplift plan --json`` prints."""
        return {
            "summary": self.summary,
            "holdout": None if self.margin is None else self.margin.to_json(),
            "notes": [self.note] if self.note else [],
            "customers": self.customers.to_dict(orient="records"),
        }


def plan_uplift(
    scores: UpliftScores,
    costs: Mapping[str, float],
    *,
    value_column: str | None = None,
    budget: float | None = None,
    max_count: int | None = None,
    source: str = "the data",
) -> UpliftPlan:
    """Give each scored customer the offer whose predicted incremental margin exceeds its cost.

    ``value_column`` names the customers' margin if retained when the outcome is 0/1 (omit it when the
    outcome is profit); ``budget`` and ``max_count`` cap the total cost and the customers treated. When the
    model keeps its trial's holdout (:func:`fit_uplift`), the plan's incremental margin is measured there
    with a 90% interval (:func:`keepwise.experiments.calibration.plan_margin`).
    """
    from keepwise.experiments.uplift import plan

    value = None
    if value_column is not None:
        value = numeric_columns(scores.customers, [value_column], source)[value_column].to_numpy()
    planned = plan(
        scores.effects, costs, value=value, budget=budget, max_count=max_count, ids=list(scores.effects.index)
    )
    holdout = None if scores.model is None else scores.model.get("holdout")
    if scores.model is None or holdout is None:
        return UpliftPlan(
            planned, note="the model keeps no holdout: the incremental margin is its prediction"
        )
    if value is not None and holdout.value is None:
        return UpliftPlan(
            planned,
            note=(
                "the model was fitted without the trial's margin if retained (uplift fit --value-column), so "
                "the plan's incremental margin is the learner's prediction, not measured; predictions of the "
                "customers a plan picks run high"
            ),
        )
    if value is None and holdout.value is not None:
        holdout = Holdout(holdout.features, holdout.arm, holdout.outcome, None, holdout.control)
    treated = planned["offer"].to_numpy() != "none"
    row = pd.Series(range(len(scores.effects)), index=scores.effects.index)
    pos = row.loc[planned["customer_id"][treated]].to_numpy()
    col = [list(scores.effects.columns).index(o) for o in planned["offer"][treated]]
    margin = plan_margin(
        scores.model["learner"],
        holdout,
        planned["offer"][treated].to_numpy(),
        scores.effects.to_numpy()[pos, col],
        None if value is None else value[pos],
    )
    return UpliftPlan(planned, margin, margin.note)
