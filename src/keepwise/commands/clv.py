"""``keepwise clv``: customer lifetime value over a horizon, from the store.

Fits the purchase model (BG/NBD by default) and the Gamma-Gamma spend model on the compressed histograms
computed in the engine, scores the unique tuples, and joins the scores back to customers in the engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.commands.fit import (
    CovariatesFileOption,
    CovariatesOnOption,
    CovariatesOption,
    TimeUnitName,
    covariate_options,
    parse_date,
)
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL

#: --model choices: names in keepwise.models.MODELS (imported when the command runs)
PURCHASE_MODELS: tuple[str, ...] = ("bgnbd", "mbgnbd", "pareto-nbd")


def _margin_rate(backend: Any, end: Any) -> tuple[float, str]:
    """Share of revenue that is margin, and the currency, over the orders up to ``end`` (in the engine)."""
    from datetime import UTC, datetime, timedelta

    from keepwise.features import order_lines

    before = datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1)
    lines = order_lines(backend, before=before)
    raw = backend.table("orders")
    currencies = raw.select("currency").distinct().to_pandas()["currency"].dropna().tolist()
    if len(currencies) > 1:
        raise KeepwiseInputError(
            f"orders are in several currencies ({', '.join(sorted(currencies))}): CLV needs one; load one "
            "currency per store"
        )
    tot = lines.aggregate(rev=lines.revenue.sum(), mar=lines.margin.sum()).to_pandas().iloc[0]
    rev = float(tot["rev"] or 0)
    rate = float(tot["mar"] or 0) / rev if rev > 0 else 1.0
    return rate, (currencies[0] if currencies else "")


def clv(
    horizon_months: Annotated[
        int, typer.Option("--horizon-months", help="Months ahead to value.", min=1)
    ] = 12,
    discount_rate: Annotated[
        float, typer.Option("--discount-rate", help="Annual discount rate, e.g. 0.1 for 10% a year.")
    ] = 0.1,
    model: Annotated[
        str, typer.Option("--model", help="Purchase model: bgnbd, mbgnbd or pareto-nbd.")
    ] = "bgnbd",
    margin: Annotated[
        float | None,
        typer.Option("--margin", help="Share of revenue that is margin; default: measured from the orders."),
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Last day (YYYY-MM-DD) of history to use; default: all.")
    ] = None,
    time_unit: Annotated[
        TimeUnitName, typer.Option("--time-unit", help="Model time unit.")
    ] = TimeUnitName.week,
    draws: Annotated[
        int, typer.Option("--draws", help="Parameter draws for the 95% intervals (0: none).", min=0)
    ] = 100,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write one row per customer to this CSV or Parquet file.")
    ] = None,
    save: Annotated[
        bool,
        typer.Option(
            "--save/--no-save",
            help="Store the values in the store's clv table (DuckDB stores), replacing the rows of the same "
            "--as-of date and model.",
        ),
    ] = True,
    method: Annotated[
        str,
        typer.Option(
            "--discounting",
            help="auto (Pareto/NBD: closed-form DERT, continuous; others: monthly sum), monthly or dert.",
        ),
    ] = "auto",
    covariates: CovariatesOption = None,
    covariates_on: CovariatesOnOption = None,
    covariates_file: CovariatesFileOption = None,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Customer lifetime value: discounted expected purchases x expected spend x margin, per customer.

    With --covariates, the purchase model is fitted with them as in keepwise fit and each customer is
    valued with his own covariate-adjusted parameters.
    """
    import ibis
    import numpy as np
    import pandas as pd

    from keepwise.commands.fit import (
        _covariate_spec,
        covariate_effects,
        covariate_histogram,
        fit_with_covariates,
    )
    from keepwise.features.btyd import customer_summary, purchase_days_until, rft_histogram, spend_histogram
    from keepwise.models import MODELS, GammaGammaModel
    from keepwise.models.data import days_per_unit
    from keepwise.store.connection import connect
    from keepwise.value.clv import customer_lifetime_value, uses_dert

    if model not in PURCHASE_MODELS:
        raise KeepwiseInputError(f"--model must be one of {', '.join(PURCHASE_MODELS)}, got {model!r}")
    if not np.isfinite(discount_rate) or discount_rate <= -1:
        raise KeepwiseInputError("--discount-rate must be above -1 (e.g. 0.1 for 10% a year)")
    if margin is not None and not 0 <= margin <= 1:
        raise KeepwiseInputError("--margin must be a share between 0 and 1")
    if out_file is not None and out_file.suffix.lower() not in (".csv", ".parquet"):
        raise KeepwiseInputError("--out must name a .csv or .parquet file")
    end = parse_date(as_of, "--as-of")
    names, on = covariate_options(covariates, covariates_on, covariates_file)
    purchase: Any = MODELS[model]()
    if names:
        _covariate_spec(purchase, names, on)  # fail early on a wrong parameter
    label = _model_label(model, names, on)
    z: Any = None
    references: dict[str, Any] = {}
    backend = connect(db)
    try:
        days, end = purchase_days_until(backend, end)
        summary = customer_summary(days, end, time_unit.value)
        spend_h = spend_histogram(summary)
        if names:
            # score each unique (x, t_x, T, zbar, covariates) once; fit on the same rows (same likelihood)
            summary, keys, source = covariate_histogram(
                backend, summary, ["x", "t_x", "T", "zbar"], names, covariates_file
            )
            z, references = fit_with_covariates(
                purchase, keys, ("x", "t_x", "T"), names, source, on, keys["count"]
            )
        else:
            rft = rft_histogram(summary)
            purchase.fit(rft["x"], rft["t_x"], rft["T"], weights=rft["count"])
            # score each unique (x, t_x, T, zbar) once, then join back to customers in the engine
            keys = summary.group_by(["x", "t_x", "T", "zbar"]).aggregate(count=summary.count()).to_pandas()
        spend = GammaGammaModel().fit(spend_h["x"], spend_h["zbar"], weights=spend_h["count"])
        measured, currency = _margin_rate(backend, end)
        rate = measured if margin is None else margin
        scored = customer_lifetime_value(
            purchase,
            spend,
            keys["x"],
            keys["t_x"],
            keys["T"],
            keys["zbar"],
            horizon_months=horizon_months,
            discount_rate=discount_rate,
            time_unit=time_unit.value,
            margin=rate,
            n_draws=draws,
            method=method,
            covariates=z,
        )
        key_cols = ["x", "t_x", "T", "zbar", *names]
        scored = pd.concat([keys[key_cols].reset_index(drop=True), scored], axis=1)
        # expected date of the next purchase if the customer stays alive (NaT: infinite mean wait)
        wait = purchase._time_to_next(
            purchase._params_for(z, len(keys)),
            keys["x"].to_numpy(float),
            keys["t_x"].to_numpy(float),
            keys["T"].to_numpy(float),
        )
        wait_days = np.where(np.isfinite(wait), wait * days_per_unit(time_unit.value), np.nan)
        scored["next_purchase_date"] = pd.Timestamp(end) + pd.to_timedelta(np.round(wait_days), unit="D")
        weights = keys["count"].to_numpy(dtype=float)
        total = float(np.dot(weights, scored["clv"]))
        scores = ibis.memtable(scored)
        joined = summary.inner_join(scores, key_cols)
        cols = ["customer_id", *names, "x", "t_x", "T", "p_alive", "expected_purchases", "next_purchase_date"]
        cols += ["expected_spend", "clv"]
        cols += ["clv_lower", "clv_upper"] if draws > 0 else []
        table = joined.select(cols).order_by(ibis.desc("clv"))
        if out_file is not None:
            if out_file.suffix.lower() == ".csv":
                table.to_csv(out_file)
            else:
                table.to_parquet(out_file)
        saved = 0
        if save and getattr(backend, "name", "") == "duckdb":
            run = {"as_of": end, "model": label, "horizon": horizon_months, "rate": discount_rate}
            saved = save_clv(backend.con, table.to_pyarrow(), run, currency)
        elif save:
            err.print("the clv table is written on DuckDB stores only: values not stored (use --out FILE)")
    finally:
        backend.disconnect()
    doc = {
        "model": model,
        "spend_model": "gamma-gamma",
        "as_of": end.isoformat(),
        "time_unit": time_unit.value,
        "horizon_months": horizon_months,
        "discount_rate": discount_rate,
        "margin_rate": rate,
        "margin_rate_source": "measured from orders" if margin is None else "--margin",
        "currency": currency,
        "n_customers": int(weights.sum()),
        "total_clv": total,
        "mean_clv": total / float(weights.sum()),
        "params": purchase.params_,
        "spend_params": spend.params_,
        "clv_model": label,
        "discounting": "continuous (DERT)" if uses_dert(purchase, method) else "monthly",
        "out": str(out_file) if out_file is not None else None,
        "table": "clv" if saved else None,
        "rows_saved": saved,
    }
    if names:
        doc["covariates"] = covariate_effects(purchase)
        doc["reference_levels"] = references
    if json_:
        print_json(doc)
        return
    err.print(
        f"{label} + gamma-gamma on {doc['n_customers']:,} customers, history to {doc['as_of']}, "
        f"margin {rate:.1%}"
    )
    if references:
        refs = ", ".join(f"{k}={v}" for k, v in references.items())
        err.print(f"covariate effects are relative to {refs}")
    out.print(
        f"CLV over {horizon_months} months at {discount_rate:.1%} a year: total {total:,.2f} {currency}, "
        f"mean {doc['mean_clv']:,.2f} {currency} per customer"
    )
    if out_file is not None:
        err.print(f"per-customer values written to {out_file}")
    if saved:
        err.print(f"{saved:,} rows stored in the clv table (as of {doc['as_of']}, {label})")


def _model_label(model: str, names: list[str], on: list[str] | None) -> str:
    """The clv table's ``model`` of a run, e.g. ``bgnbd ~ channel,segment on alpha``.

    A rerun replaces only the rows of the same label.
    """
    if not names:
        return model
    return f"{model} ~ {','.join(names)}" + (f" on {','.join(on)}" if on else "")


def save_clv(con: Any, rows: Any, run: dict[str, Any], currency: str) -> int:
    """Replace the clv table's rows of this as-of date and model by ``rows`` (one per customer), atomically.

    Amounts are stored as DECIMAL(18, 4) in ``currency``; the expected next purchase date, a day, as
    midnight UTC.
    """
    from datetime import UTC, datetime

    day = run["as_of"].isoformat()
    has_interval = "clv_lower" in rows.column_names
    lower = "CAST(clv_lower AS DECIMAL(18,4))" if has_interval else "NULL"
    upper = "CAST(clv_upper AS DECIMAL(18,4))" if has_interval else "NULL"
    con.register("_kw_clv_rows", rows)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "DELETE FROM clv WHERE as_of = timezone('UTC', CAST(? AS TIMESTAMP)) AND model = ?",
            [day, run["model"]],
        )
        con.execute(
            "INSERT INTO clv (customer_id, as_of, model, horizon_months, discount_rate, p_alive, "
            "expected_purchases, next_purchase_date, expected_spend, clv, clv_lower, clv_upper, currency, "
            "computed_at) SELECT customer_id, timezone('UTC', CAST(? AS TIMESTAMP)), ?, ?, ?, p_alive, "
            "expected_purchases, timezone('UTC', CAST(next_purchase_date AS TIMESTAMP)), "
            f"CAST(expected_spend AS DECIMAL(18,4)), CAST(clv AS DECIMAL(18,4)), {lower}, {upper}, ?, ? "
            "FROM _kw_clv_rows",
            [day, run["model"], run["horizon"], run["rate"], currency or None, datetime.now(UTC)],
        )
        n = con.execute(
            "SELECT count(*) FROM clv WHERE as_of = timezone('UTC', CAST(? AS TIMESTAMP)) AND model = ?",
            [day, run["model"]],
        ).fetchone()[0]
        con.execute("COMMIT")
    except Exception:
        con.execute("ROLLBACK")
        raise
    finally:
        con.unregister("_kw_clv_rows")
    return int(n)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("clv")(clv)
