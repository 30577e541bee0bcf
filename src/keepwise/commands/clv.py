"""``keepwise clv``: customer lifetime value over a horizon, from the store.

The stage is :func:`keepwise.value.clv.run` (fit, value every customer, write the clv table); this module
parses the options, calls it and prints.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.commands.fit import (
    CovariatesFileOption,
    CovariatesOnOption,
    CovariatesOption,
    TimeUnitName,
    covariate_options,
    parse_date,
    phrased_for_cli,
)
from keepwise.store.connection import DEFAULT_URL


def clv(
    horizon_months: Annotated[
        int | None,
        typer.Option(
            "--horizon-months",
            help="Months ahead to value; default: [clv] horizon_months of keepwise.toml (12).",
            min=1,
            show_default=False,
        ),
    ] = None,
    discount_rate: Annotated[
        float | None,
        typer.Option(
            "--discount-rate",
            help="Annual discount rate, e.g. 0.1 for 10% a year; default: [clv] discount_rate of "
            "keepwise.toml (0.1).",
            show_default=False,
        ),
    ] = None,
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
            help="Store the values in the store's clv table, replacing the rows of the same --as-of date and "
            "model.",
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
    valued with his own covariate-adjusted parameters. The horizon and the discount rate default to
    [clv] of keepwise.toml in the working directory.
    """
    from keepwise.config import load_config
    from keepwise.store.connection import connect
    from keepwise.value.clv import run

    end = parse_date(as_of, "--as-of")
    names, on = covariate_options(covariates, covariates_on, covariates_file)
    config = load_config()
    with phrased_for_cli():
        store = connect(db)
        try:
            result = run(
                store,
                config=config,
                save=save,
                model=model,
                horizon_months=horizon_months,
                discount_rate=discount_rate,
                margin=margin,
                as_of=end,
                time_unit=time_unit.value,
                draws=draws,
                method=method,
                covariates=names,
                covariates_on=on,
                covariates_file=covariates_file,
                out=out_file,
            )
        finally:
            store.disconnect()
    doc = result.to_json()
    if json_:
        print_json(doc)
        return
    label, rate, currency = doc["clv_model"], doc["margin_rate"], doc["currency"]
    err.print(
        f"{label} + gamma-gamma on {doc['n_customers']:,} customers, history to {doc['as_of']}, "
        f"margin {rate:.1%}"
    )
    references = doc.get("reference_levels")
    if references:
        refs = ", ".join(f"{k}={v}" for k, v in references.items())
        err.print(f"covariate effects are relative to {refs}")
    out.print(
        f"CLV over {doc['horizon_months']} months at {doc['discount_rate']:.1%} a year: total "
        f"{doc['total_clv']:,.2f} {currency}, mean {doc['mean_clv']:,.2f} {currency} per customer"
    )
    if doc["exited_customers"]:
        err.print(
            f"{doc['exited_customers']:,} customers with a recorded exit after their last purchase: P(alive) "
            "and value 0"
        )
    if doc["without_next_purchase_date"]:
        err.print(
            f"{doc['without_next_purchase_date']:,} customers without a next purchase date (P(alive) below "
            f"{doc['next_purchase_min_p_alive']:.0%}, [clv] next_purchase_min_p_alive)",
            markup=False,
        )
    for note in result.notes:
        err.print(f"note: {note}", markup=False, highlight=False, soft_wrap=True)
    if out_file is not None:
        err.print(f"per-customer values written to {out_file}")
    if doc["rows_saved"]:
        err.print(f"{doc['rows_saved']:,} rows stored in the clv table (as of {doc['as_of']}, {label})")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("clv")(clv)
