"""``keepwise fit MODEL``: fit a purchase, spend or retention model from the store or a summary file.

From the store, per-customer summaries are computed in the engine (Ibis group-bys over purchase days, see
:mod:`keepwise.features.btyd`) and only the compressed histogram of unique ``(x, t_x, T)`` tuples with their
counts comes back to Python. NumPy, pandas, Ibis and the models are imported when the command runs, so that
``keepwise --help`` starts fast.
"""

from __future__ import annotations

import math
import time
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL

if TYPE_CHECKING:
    import pandas as pd

    from keepwise.models import BaseModel


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


# ---- fitting ---------------------------------------------------------------------------------------------
def _weights(df: pd.DataFrame) -> Any:
    for name in ("count", "weights"):
        if name in df.columns:
            return df[name]
    return None


def _read_summary(path: Path) -> pd.DataFrame:
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise KeepwiseInputError(f"cannot read summary file {path}: {exc}") from None


def _need(df: pd.DataFrame, cols: list[str], source: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise KeepwiseInputError(f"{source} lacks column(s) {', '.join(missing)} (needs {', '.join(cols)})")


#: most levels a text covariate may have (each level but the most common becomes a 0/1 column)
MAX_LEVELS = 20


def encode_covariates(
    df: pd.DataFrame, names: list[str], source: str, weights: Any = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Numeric model columns from covariate columns: numbers as they are, text as 0/1 indicators.

    A text column becomes one indicator per level, named ``column=level``, except its most common level,
    the reference (coefficients are relative to it; most common among customers: rows count ``weights``
    each, default 1; ties go to the first level in sort order). Returns the columns and, per text column,
    its reference level. Missing values, a single level or too many levels are input errors.
    ``keepwise fit`` and ``keepwise clv`` both encode with this function.
    """
    import numpy as np
    import pandas as pd

    out: dict[str, np.ndarray] = {}
    reference: dict[str, Any] = {}
    for name in names:
        if name not in df.columns:
            raise KeepwiseInputError(f"covariate {name!r} is not a column of {source}")
        col = df[name]
        if col.isna().any():
            raise KeepwiseInputError(
                f"covariate {name!r} is empty for {int(col.isna().sum()):,} customers in {source}: fill it "
                "in or leave the covariate out"
            )
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out[name] = col.to_numpy(dtype=float)
            continue
        w = np.ones(len(col)) if weights is None else np.asarray(weights, dtype=float)
        counts = pd.Series(w, index=col.index).groupby(col.astype(str).to_numpy()).sum()
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        if len(counts) < 2 or len(counts) > MAX_LEVELS:
            raise KeepwiseInputError(
                f"covariate {name!r} has {len(counts)} distinct values; a text covariate needs 2 to "
                f"{MAX_LEVELS}"
            )
        ref = str(counts.index[0])
        reference[name] = ref
        values = col.astype(str).to_numpy()
        for level in sorted(counts.index[1:]):
            out[f"{name}={level}"] = (values == level).astype(float)
    return pd.DataFrame(out, index=df.index), reference


def _covariate_spec(model: Any, columns: list[str], on: list[str] | None) -> dict[str, list[str]]:
    allowed = list(type(model)._covariate_signs)
    if not allowed:
        raise KeepwiseInputError(
            f"covariates apply to bgnbd, mbgnbd and pareto-nbd, not to {type(model).__name__}"
        )
    params = on or allowed
    bad = [p for p in params if p not in allowed]
    if bad:
        raise KeepwiseInputError(
            f"--covariates-on: {', '.join(bad)} cannot take covariates; choose from {', '.join(allowed)}"
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

    The columns are encoded by :func:`encode_covariates`; returns the encoded columns (to score with) and
    the reference level of each text column.
    """
    z, references = encode_covariates(frame, names, source, weights=weights)
    x, t_x, T = rft
    model.fit(
        frame[x],
        frame[t_x],
        frame[T],
        weights=weights,
        covariates=z,
        covariate_columns=_covariate_spec(model, list(z.columns), on),
    )
    return z, references


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
    """Fit model ``name`` from a summary file or from the store; return the model and facts about the data.

    ``covariates`` name time-invariant customer columns: of the summary file, or of ``covariates_file``
    (``customer_id`` and the columns) or else of the store's ``customers`` table; they act on the parameters
    ``covariates_on`` (default: every parameter of the model that takes covariates).
    """
    from keepwise.features.btyd import (
        bgbb_histogram,
        customer_summary,
        purchase_days_until,
        rft_histogram,
        spend_histogram,
    )
    from keepwise.models import MODELS
    from keepwise.store.connection import connect

    model: Any = MODELS[name]()
    info: dict[str, Any] = {"time_unit": time_unit}
    if covariates:
        _covariate_spec(model, covariates, covariates_on)  # fail early on a wrong model or parameter
    if summary is not None:
        df = _read_summary(summary)
        w = _weights(df)
        src = str(summary)
        if covariates:
            _need(df, ["frequency", "recency", "T"], src)
            _, info["reference_levels"] = fit_with_covariates(
                model, df, ("frequency", "recency", "T"), covariates, src, covariates_on, w
            )
            return model, info
        if name == "gamma-gamma":
            _need(df, ["frequency", "monetary_value"], src)
            model.fit(df["frequency"], df["monetary_value"], weights=w)
        elif name == "sbg":
            _need(df, ["duration", "churned"], src)
            model.fit(df["duration"], df["churned"], weights=w)
        elif name == "bgbb":
            periods = next((c for c in ("n_periods", "periods", "T") if c in df.columns), "n_periods")
            _need(df, ["frequency", "recency", periods], src)
            model.fit(df["frequency"], df["recency"], df[periods], weights=w)
        else:
            _need(df, ["frequency", "recency", "T"], src)
            model.fit(df["frequency"], df["recency"], df["T"], weights=w)
        return model, info
    if name == "sbg":
        raise KeepwiseInputError(
            "sbg needs contract durations, which orders do not give: pass --summary FILE with columns "
            "duration, churned (and optionally count)"
        )
    backend = connect(db)
    try:
        days, end = purchase_days_until(backend, calibration_end)
        info["calibration_end"] = end.isoformat()
        if name == "bgbb":
            h = bgbb_histogram(days, end, time_unit)
            model.fit(h["x"], h["t_x"], h["n"], weights=h["count"])
        elif name == "gamma-gamma":
            h = spend_histogram(customer_summary(days, end, time_unit))
            model.fit(h["x"], h["zbar"], weights=h["count"])
        elif covariates:
            summ = customer_summary(days, end, time_unit)
            _, h, source = covariate_histogram(backend, summ, ["x", "t_x", "T"], covariates, covariates_file)
            h = h[h["T"] >= 0].reset_index(drop=True)
            _, info["reference_levels"] = fit_with_covariates(
                model, h, ("x", "t_x", "T"), covariates, source, covariates_on, h["count"]
            )
        else:
            h = rft_histogram(customer_summary(days, end, time_unit))
            h = h[h["T"] >= 0]
            model.fit(h["x"], h["t_x"], h["T"], weights=h["count"])
        info["unique_tuples"] = len(h)
    finally:
        backend.disconnect()
    return model, info


def covariate_histogram(
    backend: Any, summary: Any, keys: list[str], names: list[str], path: Path | None
) -> tuple[Any, pd.DataFrame, str]:
    """The summary joined with the covariates, and its histogram.

    Returns the joined table (Ibis), its histogram over ``keys`` and ``names`` with ``count`` (pandas) and
    where the covariates came from (for messages).
    """
    joined = _with_covariates(backend, summary, names, path)
    h = joined.group_by([*keys, *names]).aggregate(count=joined.count()).to_pandas()
    return joined, h, str(path) if path is not None else "the customers table"


def _with_covariates(backend: Any, summary: Any, names: list[str], path: Path | None) -> Any:
    """The per-customer summary joined (in the engine) with covariate columns by customer_id."""
    import ibis
    import pandas as pd

    if path is not None:
        try:
            extra = pd.read_csv(path, dtype={"customer_id": str})
        except (OSError, ValueError) as exc:
            raise KeepwiseInputError(f"cannot read covariates file {path}: {exc}") from None
        _need(extra, ["customer_id", *names], str(path))
        if extra["customer_id"].duplicated().any():
            raise KeepwiseInputError(f"{path} has more than one row for some customer_id")
        table = ibis.memtable(extra[["customer_id", *names]])
        source = str(path)
    else:
        table = backend.table("customers")
        missing = [n for n in names if n not in table.columns]
        if missing:
            raise KeepwiseInputError(
                f"the customers table has no column {', '.join(map(repr, missing))}; name columns of it "
                "(e.g. channel, segment) or pass --covariates-file FILE with customer_id and the columns"
            )
        table = table.select("customer_id", *names)
        source = "the customers table"
    joined = summary.left_join(table, summary.customer_id == table.customer_id)
    joined = joined.select(*[summary[c] for c in summary.columns], *[table[n] for n in names])
    lacking = int(joined.filter(ibis.or_(*[joined[n].isnull() for n in names])).count().to_pyarrow().as_py())
    if lacking:
        raise KeepwiseInputError(
            f"{lacking:,} customers with purchases have no value of {', '.join(names)} in {source}: fill "
            "them in or leave the covariates out"
        )
    return joined


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


def covariate_effects(m: Any) -> dict[str, dict[str, dict[str, float]]]:
    """Fitted covariate coefficients with standard errors: {parameter: {column: {estimate, std_error}}}."""
    se = m.std_errors_
    return {
        param: {c: {"estimate": v, "std_error": se[f"{param}:{c}"]} for c, v in coefs.items()}
        for param, coefs in m.covariate_params_.items()
    }


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
    m, info = fit_model(
        model.value,
        db,
        summary,
        end,
        time_unit.value,
        names or None,
        on,
        covariates_file,
    )
    if save is not None:
        m.save(save)
    if json_:
        doc: dict[str, Any] = {
            "model": model.value,
            "params": m.params_,
            "std_errors": {k: v for k, v in m.std_errors_.items() if k in m.params_},
            "log_likelihood": m.log_likelihood_,
            "n_customers": m.n_customers_,
            "fit_seconds": m.fit_seconds_,
        }
        if names:
            doc["covariates"] = covariate_effects(m)
            doc["reference_levels"] = info.get("reference_levels", {})
        print_json(doc)
        return
    err.print(
        f"fitted {model.value} on {m.n_customers_:,} customers in {time.perf_counter() - started:.2f} s"
    )
    if "calibration_end" in info:
        err.print(f"data up to {info['calibration_end']}, time unit {info['time_unit']}")
    if info.get("reference_levels"):
        refs = ", ".join(f"{k}={v}" for k, v in info["reference_levels"].items())
        err.print(f"covariate effects are relative to {refs}")
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
