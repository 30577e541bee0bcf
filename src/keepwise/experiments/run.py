"""The experiments stage's front doors: start an experiment in the store, and measure it.

:func:`start` chooses a population from the store, assigns it to arms (stratified, seeded), saves the design
and the assignment, and states the power of the split; :func:`analyze` reads an experiment's assignment back
with each customer's figures over the window after assignment and compares every arm with the control.
:func:`read_results` reads any result file (one row per customer) for :func:`keepwise.experiments.analysis.
analyze`. Each returns an object whose ``to_json()`` is what ``keepwise experiment design|analyze --json``
prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, cast

import pandas as pd

from keepwise.config import Config
from keepwise.exceptions import KeepwiseInputError
from keepwise.experiments.analysis import ExperimentResult
from keepwise.experiments.analysis import analyze as analyze_frame
from keepwise.experiments.design import Design, balance_table, parse_arms
from keepwise.experiments.power import power_statement
from keepwise.experiments.store import (
    METRICS,
    TooEarly,
    assignment_time,
    design_experiment,
    experiment_metrics,
)
from keepwise.store.inventory import Note, resolve_month
from keepwise.store.store import Store, as_store

__all__ = ["Analysis", "Started", "analyze", "read_results", "start"]


@dataclass
class Started:
    """An experiment just designed and saved (or found unchanged): its assignment, balance and power.

    Attributes
    ----------
    design:
        The design as saved.
    status:
        ``created``, or ``unchanged`` when the same design and population were saved before.
    assigned:
        One row per customer: ``customer_id``, ``arm`` and the population's columns (profit, tier, ...).
    balance:
        Standardised mean differences of each arm against the control
        (:func:`keepwise.experiments.design.balance_table`).
    power:
        Per treated arm: the smallest detectable effect on 12-month retention and on profit per customer,
        as a figure and a sentence.
    designed_at:
        When it was designed (UTC, the wall clock: when the command ran).
    month:
        The last month of the trailing-profit window (``YYYY-MM``).
    assigned_at:
        The time of the assignment: the end of ``month`` when it has passed, else the design's time; the
        window measured starts with the first full month after it.
    notes:
        The month chosen when none was given (:class:`~keepwise.store.inventory.Note`).
    """

    design: Design
    status: str
    assigned: pd.DataFrame
    balance: pd.DataFrame
    power: list[dict[str, Any]]
    designed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    month: str | None = None
    assigned_at: datetime | None = None
    notes: list[Note] = field(default_factory=list)

    @property
    def arm_counts(self) -> dict[str, int]:
        """Customers in each arm, in the design's order."""
        counts = self.assigned["arm"].value_counts()
        return {a: int(counts.get(a, 0)) for a in self.design.arms}

    def to_json(self) -> dict[str, Any]:
        """The document ``keepwise experiment design --json`` prints."""
        return {
            "experiment": self.design.name,
            "status": self.status,
            "population": self.design.population,
            "customers": len(self.assigned),
            "arms": self.arm_counts,
            "seed": self.design.seed,
            "strata": list(self.design.strata),
            "balance": self.balance.to_dict(orient="records"),
            "power": self.power,
            "designed_at": self.designed_at.isoformat(),
            "month": self.month,
            "assigned_at": None if self.assigned_at is None else self.assigned_at.isoformat(),
            "notes": [n.to_json() for n in self.notes],
        }


def start(
    store: Store,
    name: str,
    *,
    population: str = "top:1200",
    arms: str | Mapping[str, float] = "control:1,treatment:1",
    control: str = "control",
    seed: int = 0,
    strata: Sequence[str] = (),
    month: str | None = None,
    baseline_retention: float = 0.80,
    config: Config | None = None,
    at: datetime | None = None,
) -> Started:
    """Design experiment ``name``: choose its population, assign it to arms, save it, state its power.

    Re-running with the same seed and population changes nothing (``status`` ``unchanged``); a different
    design under an existing name is refused (:class:`~keepwise.exceptions.KeepwiseInputError`).

    Parameters
    ----------
    store:
        The store (:func:`keepwise.store.connect`).
    name:
        The new experiment's name.
    population:
        ``top:N`` (by trailing profit), ``tier:NAME[,NAME]``, ``list:FILE`` or ``all``
        (:func:`keepwise.experiments.store.population`).
    arms:
        Arms with ratios, ``control:1,treatment:1`` or ``{"control": 1, "treatment": 1}``.
    control:
        The control arm.
    seed:
        Seed of the random assignment.
    strata:
        Columns to stratify by: ``profit_decile``, ``tier``, ``segment``, ``channel``.
    month:
        Last month of the trailing-profit window (default: the data's last month with an order, said in
        ``notes``). A past month is assigned at its end, so the window measured starts the month after.
    baseline_retention:
        12-month retention without the program, for the power statement.
    config:
        Settings (``[experiments]`` alpha and power); default: the documented defaults.
    at:
        Time of the assignment (default: the end of ``month`` when it has passed, else now; see
        :func:`keepwise.experiments.store.assignment_time`).
    """
    store = as_store(store)
    config = config or Config()
    month, month_note = resolve_month(store, month)
    at = at or assignment_time(month)
    design = Design(
        name=name,
        arms=parse_arms(arms) if isinstance(arms, str) else dict(arms),
        seed=seed,
        control=control,
        strata=tuple(strata),
        population=population,
    )
    assigned, status = design_experiment(store, design, population, month=month, config=config, at=at)
    counts = assigned["arm"].value_counts()
    n_c = int(counts.get(control, 0))
    balance = balance_table(assigned, "arm", control, ["profit", "profit_decile"])
    statements: list[dict[str, Any]] = []
    for arm in design.arms:
        if arm == control:
            continue
        n_t = int(counts.get(arm, 0))
        if n_t < 2 or n_c < 2:
            continue
        retention = power_statement(
            "12-month retention",
            n_t,
            n_c,
            p_control=baseline_retention,
            alpha=config.experiments.alpha,
            power=config.experiments.power,
        )
        sd = float(assigned["profit"].std(ddof=1))
        profit = (
            power_statement(
                "profit per customer",
                n_t,
                n_c,
                sd=sd,
                alpha=config.experiments.alpha,
                power=config.experiments.power,
            )
            if sd > 0
            else None
        )
        statements.append(
            {
                "arm": arm,
                "retention": {"mde": retention.mde, "sentence": retention.sentence},
                "profit": None if profit is None else {"mde": profit.mde, "sentence": profit.sentence},
            }
        )
    if status == "unchanged":  # the assignment made before stands, with its time
        a = store.table("assignments")
        stored = pd.Timestamp(cast(Any, store.to_pandas(a.filter(a.experiment_id == name).assigned_at.min())))
        at = (stored.tz_convert("UTC") if stored.tzinfo else stored.tz_localize("UTC")).to_pydatetime()
    notes = [month_note] if month_note is not None else []
    return Started(design, status, assigned, balance, statements, month=month, assigned_at=at, notes=notes)


@dataclass
class Analysis:
    """An experiment's analysis: the comparisons and, for a store experiment, the window measured.

    Attributes
    ----------
    result:
        The comparisons of every arm with the control (:class:`~keepwise.experiments.analysis.
        ExperimentResult`).
    window:
        First and last month measured (``first_month``, ``last_month``, ``pre_first_month``), the window's
        last day (``ends_on``) and the day the data reach (``data_end``); ``None`` for a result file.
    """

    result: ExperimentResult
    window: dict[str, str | None] | None = None

    def to_json(self, details: bool = False) -> dict[str, Any]:
        """The document ``keepwise experiment analyze [--details] --json`` prints."""
        doc = self.result.to_json(full=details)
        if details and self.window is not None:
            doc["window"] = self.window
        return doc


def analyze(
    store: Store,
    experiment_id: str,
    *,
    metrics: Sequence[str] | None = None,
    control: str | None = None,
    cuped: bool = False,
    covariates: Mapping[str, str] | None = None,
    ratios: Mapping[str, float] | None = None,
    alpha: float | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    profit_metric: str | None = None,
    program_cost: float = 0.0,
    months: int = 12,
    config: Config | None = None,
) -> Analysis:
    """Compare every arm of experiment ``experiment_id`` with its control over the window after assignment.

    Each customer's figures (:data:`~keepwise.experiments.store.METRICS`) are read from the store over the
    ``months`` after the assignment (:func:`keepwise.experiments.store.experiment_metrics`) and compared
    with :func:`keepwise.experiments.analysis.analyze`: Welch differences and intervals, lift, the
    sample-ratio check against the designed ratios, Holm, and the money when ``profit`` is measured.

    Parameters
    ----------
    store:
        The store.
    experiment_id:
        The experiment (designed with :func:`start`, or a message flow's holdout).
    metrics:
        Metrics to compare (default: all of :data:`~keepwise.experiments.store.METRICS`).
    control:
        The control arm (default: the design's).
    cuped:
        Adjust each metric (but ``retained``) by its value over the ``months`` before the window (CUPED).
    covariates:
        More ``{metric: column}`` CUPED covariates.
    ratios:
        Designed ratios for the sample-ratio check (default: the design's).
    alpha:
        1 - confidence level (default: ``[experiments] alpha`` of the settings).
    bootstrap, seed:
        Bootstrap resamples for extra intervals, and their seed.
    profit_metric:
        The metric that is profit per customer (default: ``profit`` when it is measured).
    program_cost:
        Total cost of the program per treated arm, taken off the incremental profit.
    months:
        Months measured after the start.
    config:
        Settings; default: the documented defaults.

    Raises
    ------
    TooEarly
        The data do not reach the window's last day yet (nothing is compared: months without data would
        read as customers who bought nothing).
    """
    store = as_store(store)
    config = config or Config()
    frame, design, window = experiment_metrics(store, experiment_id, months=months, config=config)
    if window.get("warning"):
        ends_on, data_end = window["ends_on"], window["data_end"]
        assert ends_on is not None
        raise TooEarly(date.fromisoformat(ends_on), date.fromisoformat(data_end) if data_end else None)
    chosen = list(metrics) if metrics else list(METRICS)
    covs = dict(covariates or {})
    if cuped:
        covs.update({m: f"pre_{m}" for m in chosen if m != "retained" and f"pre_{m}" in frame.columns})
    if profit_metric is None and "profit" in chosen:
        profit_metric = "profit"
    result = analyze_frame(
        frame=frame,
        arm_column="arm",
        control=control or design.control,
        metrics=chosen,
        alpha=alpha if alpha is not None else config.experiments.alpha,
        ratios=ratios if ratios is not None else design.arms,
        covariates=covs,
        bootstrap=bootstrap,
        seed=seed,
        profit_metric=profit_metric,
        program_cost=program_cost,
        source=f"experiment '{experiment_id}'",
    )
    return Analysis(result, window)


def read_results(path: Path) -> pd.DataFrame:
    """A result file (CSV, or Parquet by its suffix) as a DataFrame.

    A missing or unreadable file is an input error naming it.
    """
    if not path.exists():
        raise KeepwiseInputError(f"file '{path}' does not exist")
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:
        raise KeepwiseInputError(f"cannot read '{path}': {str(exc).splitlines()[0]}") from None
