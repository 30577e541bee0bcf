"""``keepwise fit MODEL``: fit a purchase, spend or retention model from the store or a summary file.

The work is :func:`keepwise.value.fitting.fit_model` (from the store: histograms computed in the engine) and
:func:`keepwise.value.fitting.fit_summary` (from a file); this module parses the options, calls them and
prints. NumPy, pandas, Ibis and the models are imported when the command runs, so that ``keepwise --help``
starts fast.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL

if TYPE_CHECKING:
    from keepwise.models import BaseModel
    from keepwise.value.fitting import FitResult


class ModelName(StrEnum):
    """Models ``keepwise fit`` knows."""

    bgnbd = "bgnbd"
    mbgnbd = "mbgnbd"
    pareto_nbd = "pareto-nbd"
    bgbb = "bgbb"
    gamma_gamma = "gamma-gamma"
    sbg = "sbg"


class TimeUnitName(StrEnum):
    """Time units of the models."""

    day = "day"
    week = "week"


def parse_date(value: str | None, option: str) -> date | None:
    """Parse an ISO date option (YYYY-MM-DD) or raise a one-line input error naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise KeepwiseInputError(f"{option} must be a date as YYYY-MM-DD, got {value!r}") from None


@contextmanager
def phrased_for_cli() -> Iterator[None]:
    """Turn the stages' :class:`BadInput` errors into one-line messages that name the command's options."""
    from keepwise.features.covariates import MissingCovariates

    try:
        yield
    except MissingCovariates as exc:
        raise KeepwiseInputError(
            f"the customers table has no column {', '.join(map(repr, exc.missing))}; name columns of it "
            "(e.g. channel, segment) or pass --covariates-file FILE with customer_id and the columns"
        ) from None
    except BadInput as exc:
        raise KeepwiseInputError(exc.phrased("--" + exc.field.replace("_", "-"))) from None


def fit_model(
    name: str,
    db: str | None = None,
    summary: Path | None = None,
    calibration_end: date | None = None,
    time_unit: str = "week",
    covariates: list[str] | None = None,
    covariates_on: list[str] | None = None,
    covariates_file: Path | None = None,
) -> tuple[BaseModel, dict[str, Any]]:
    """Fit model ``name`` from a summary file or from the store at ``db``; return the model and facts.

    The command's way in to :func:`keepwise.value.fitting.fit_model` (from the store) and
    :func:`keepwise.value.fitting.fit_summary` (from a CSV file): see those for the arguments.
    """
    result = _fit(name, db, summary, calibration_end, time_unit, covariates, covariates_on, covariates_file)
    return result.model, result.info


def _fit(
    name: str,
    db: str | None,
    summary: Path | None,
    calibration_end: date | None,
    time_unit: str,
    covariates: list[str] | None,
    covariates_on: list[str] | None,
    covariates_file: Path | None,
) -> FitResult:
    import pandas as pd

    from keepwise.store.connection import connect
    from keepwise.value.fitting import covariate_spec, fit_model, fit_summary, new_model

    with phrased_for_cli():
        if covariates:
            covariate_spec(new_model(name), covariates, covariates_on)  # a wrong model or parameter first
        if summary is not None:
            try:
                frame = pd.read_csv(summary)
            except (OSError, ValueError) as exc:
                raise KeepwiseInputError(f"cannot read summary file {summary}: {exc}") from None
            return fit_summary(
                frame,
                name,
                source=str(summary),
                time_unit=time_unit,
                covariates=covariates,
                covariates_on=covariates_on,
            )
        if name == "sbg":
            raise KeepwiseInputError(
                "sbg needs contract durations, which orders do not give: pass --summary FILE with columns "
                "duration, churned (and optionally count)"
            )
        store = connect(db)
        try:
            return fit_model(
                store,
                name,
                calibration_end=calibration_end,
                time_unit=time_unit,
                covariates=covariates,
                covariates_on=covariates_on,
                covariates_file=covariates_file,
            )
        finally:
            store.disconnect()


CovariatesOption = Annotated[
    str | None,
    typer.Option(
        "--covariates",
        help="Time-invariant customer covariates, comma-separated (e.g. channel,segment): columns of the "
        "--summary file (fit), of --covariates-file, or of the customers table. Text columns become 0/1 "
        "indicators against their most common value. bgnbd, mbgnbd and pareto-nbd only.",
    ),
]
CovariatesOnOption = Annotated[
    str | None,
    typer.Option(
        "--covariates-on",
        help="Parameters the covariates act on, comma-separated (bgnbd: alpha,a,b; pareto-nbd: "
        "alpha,beta); default: all of them.",
    ),
]
CovariatesFileOption = Annotated[
    Path | None,
    typer.Option(
        "--covariates-file", help="CSV with customer_id and the covariate columns (instead of customers)."
    ),
]


def covariate_options(
    covariates: str | None, covariates_on: str | None, covariates_file: Path | None
) -> tuple[list[str], list[str] | None]:
    """The covariate columns and the parameters they act on (None: all), from the three options."""
    names = _split(covariates)
    if (covariates_on or covariates_file) and not names:
        raise KeepwiseInputError("--covariates-on and --covariates-file need --covariates COLUMNS")
    return names, _split(covariates_on) or None


def fit(
    model: Annotated[ModelName, typer.Argument(help="bgnbd, mbgnbd, pareto-nbd, bgbb, gamma-gamma or sbg.")],
    db: DbOption = DEFAULT_URL,
    summary: Annotated[
        Path | None,
        typer.Option(
            "--summary",
            help="Fit on a per-customer summary CSV (lifetimes layout: frequency, recency, T; monetary_value "
            "for gamma-gamma; frequency, recency, n_periods (or periods) for bgbb; duration, churned for "
            "sbg; an optional count column) instead of the store.",
        ),
    ] = None,
    calibration_end: Annotated[
        str | None,
        typer.Option("--calibration-end", help="Last day (YYYY-MM-DD) of the data to fit on; default: all."),
    ] = None,
    time_unit: Annotated[
        TimeUnitName, typer.Option("--time-unit", help="Model time unit.")
    ] = TimeUnitName.week,
    save: Annotated[
        Path | None, typer.Option("--save", help="Write the fitted model to this JSON file.")
    ] = None,
    covariates: CovariatesOption = None,
    covariates_on: CovariatesOnOption = None,
    covariates_file: CovariatesFileOption = None,
    json_: JsonOption = False,
) -> None:
    """Fit a BTYD, spend or retention model and print its parameters with standard errors."""
    end = parse_date(calibration_end, "--calibration-end")
    names, on = covariate_options(covariates, covariates_on, covariates_file)
    started = time.perf_counter()
    result = _fit(model.value, db, summary, end, time_unit.value, names or None, on, covariates_file)
    m: Any = result.model
    info = result.info
    if save is not None:
        m.save(save)
    if json_:
        print_json(result.to_json())
        return
    err.print(
        f"fitted {model.value} on {m.n_customers_:,} customers in {time.perf_counter() - started:.2f} s"
    )
    if "calibration_end" in info:
        err.print(f"data up to {info['calibration_end']}, time unit {info['time_unit']}")
    if info.get("reference_levels"):
        refs = ", ".join(f"{k}={v}" for k, v in info["reference_levels"].items())
        err.print(f"covariate effects are relative to {refs}")
    for note in result.notes:
        err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    table = m.summary
    out.print(table.to_string(float_format=lambda v: f"{v:.4g}"))
    out.print(f"log-likelihood {m.log_likelihood_:.2f}, AIC {m.aic_:.2f}")
    if math.isfinite(m.fit_seconds_):
        err.print(f"optimiser {m.fit_seconds_:.3f} s")


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("fit")(fit)
