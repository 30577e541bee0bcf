"""``keepwise uplift fit|score|plan``: who does an offer actually change, and who should get it.

All three work on files so analysts can bring any randomised trial: ``fit`` learns each offer's effect from a
trial (one row per customer: features, the arm, the outcome) and saves the learner; ``score`` predicts each
offer's effect for other customers; ``plan`` gives each customer the offer whose predicted incremental margin
exceeds its cost, optionally under a budget or a maximum count.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keepwise.commands.common import JsonOption, err, print_json
from keepwise.exceptions import KeepwiseInputError

if TYPE_CHECKING:
    from keepwise.experiments.targeting import UpliftScores

uplift_app = typer.Typer(
    help="Uplift targeting: learn who an offer changes (T, X, DR learners) and plan offers."
)

FileOption = Annotated[Path, typer.Option("--file", help="CSV or Parquet file, one row per customer.")]
FeaturesOption = Annotated[str, typer.Option("--features", help="Feature columns, comma-separated.")]


def _columns(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",") if c.strip()]
    if not names:
        raise KeepwiseInputError("--features names no columns")
    return names


@uplift_app.command("fit")
def fit(
    file: FileOption,
    arm_column: Annotated[str, typer.Option("--arm-column", help="Column holding each customer's arm.")],
    outcome: Annotated[str, typer.Option("--outcome", help="Outcome column (0/1 retained, or profit).")],
    features: FeaturesOption,
    model_out: Annotated[Path, typer.Option("--model-out", help="Where to save the fitted learner.")],
    control: Annotated[str, typer.Option("--control", help="Value of the arm column for the control.")] = (
        "control"
    ),
    learner: Annotated[str, typer.Option("--learner", help="t, x or dr.")] = "dr",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the evaluation split and the models.")] = 0,
    value_column: Annotated[
        str | None,
        typer.Option(
            "--value-column", help="Margin if retained (for a 0/1 outcome), to measure plans' margin."
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Learn each offer's effect from a randomised trial; report Qini area and calibration on a 30% holdout.

    The learner is fitted on 70% of the trial and saved with the seeded 30% it did not see (a pickle: load
    it only from a source you trust); plans measure their incremental margin on that 30%.
    """
    from keepwise.experiments.targeting import fit_uplift, read_table

    trial = read_table(file)
    names = _columns(features)
    fitted = fit_uplift(
        trial,
        arm_column=arm_column,
        outcome=outcome,
        features=names,
        control=control,
        learner=learner,
        seed=seed,
        value_column=value_column,
        source=file.name,
    )
    fitted.save(model_out)
    doc = fitted.to_json(model=model_out)
    qini = fitted.qini_area
    held_out = fitted.held_out
    if json_:
        print_json(doc)
        return
    err.print(f"fitted a {learner}-learner on {fitted.n_customers:,} customers; saved to {model_out}")
    for offer, area in qini.items():
        err.print(f"  {offer}: Qini area {area:,.4f} on {held_out:,} held-out customers (0 = random)")
        top = (fitted.calibration or {}).get(offer, [])[-1:]
        for row in top:
            err.print(
                f"    top decile: predicted uplift {row['predicted_uplift']:,.3f}, realised "
                f"{row['realised_uplift'] if row['realised_uplift'] is not None else 'unknown'}"
            )


def _scores(model: Path, file: Path, id_column: str) -> UpliftScores:
    from keepwise.experiments.targeting import load_uplift, read_table, score_uplift

    saved = load_uplift(model)
    return score_uplift(saved, read_table(file), id_column=id_column, source=file.name)


IdOption = Annotated[str, typer.Option("--id-column", help="Column with the customer id.")]
ModelOption = Annotated[Path, typer.Option("--model", help="A learner saved by keepwise uplift fit.")]
OutOption = Annotated[Path | None, typer.Option("--out", help="Also write the table to this CSV file.")]


@uplift_app.command("score")
def score(
    model: ModelOption,
    file: FileOption,
    id_column: IdOption = "customer_id",
    out: OutOption = None,
    json_: JsonOption = False,
) -> None:
    """Predict each offer's effect on the outcome for every customer in a file."""
    scores = _scores(model, file, id_column)
    table = scores.table
    if out is not None:
        from keepwise.exports import write_csv

        write_csv(table, out)
    if json_:
        print_json(scores.to_json())
    else:
        err.print(
            f"scored {len(table):,} customers for {', '.join(scores.effects.columns)}"
            + (f"; wrote {out}" if out else "")
        )


@uplift_app.command("plan")
def plan_offers(
    model: ModelOption,
    file: FileOption,
    cost: Annotated[list[str], typer.Option("--cost", help="OFFER=AMOUNT, the cost of one offer; repeat.")],
    id_column: IdOption = "customer_id",
    value_column: Annotated[
        str | None,
        typer.Option("--value-column", help="Margin if retained (for a 0/1 outcome); omit if it is profit."),
    ] = None,
    budget: Annotated[
        float | None, typer.Option("--budget", help="Most to spend on offers in total.")
    ] = None,
    max_count: Annotated[int | None, typer.Option("--max-count", help="Most customers to treat.")] = None,
    out: OutOption = None,
    json_: JsonOption = False,
) -> None:
    """Give each customer the offer whose predicted incremental margin exceeds its cost (with reasons)."""
    from keepwise.experiments.targeting import plan_uplift

    costs: dict[str, float] = {}
    for item in cost:
        offer, _, amount = item.partition("=")
        try:
            costs[offer.strip()] = float(amount)
        except ValueError:
            raise KeepwiseInputError(f"--cost '{item}': write OFFER=AMOUNT, e.g. --cost call=20") from None
    planned = plan_uplift(
        _scores(model, file, id_column),
        costs,
        value_column=value_column,
        budget=budget,
        max_count=max_count,
        source=file.name,
    )
    if out is not None:
        from keepwise.exports import write_csv

        write_csv(planned.customers, out)
    if json_:
        print_json(planned.to_json())
        return
    summary = planned.summary
    interval = summary["incremental_margin_interval"]
    measured = (
        f"incremental margin {summary['incremental_margin']:,.2f} (90% interval {interval[0]:,.2f} to "
        f"{interval[1]:,.2f}, measured on the trial's holdout; the learner predicted "
        f"{summary['predicted_incremental_margin']:,.2f})"
        if interval is not None
        else f"predicted incremental margin {summary['incremental_margin']:,.2f} (not measured)"
    )
    err.print(
        f"treat {summary['treated']:,} of {len(planned.customers):,} customers "
        f"({', '.join(f'{k}: {v:,}' for k, v in summary['by_offer'].items()) or 'nobody'}); {measured} "
        f"for a cost of {summary['cost']:,.2f}" + (f"; wrote {out}" if out else "")
    )
    for note in planned.to_json()["notes"]:
        err.print(f"note: {note}")


def register(app: typer.Typer) -> None:
    """Add the command group to the CLI."""
    app.add_typer(uplift_app, name="uplift")
