"""``keepwise uplift fit|score|plan``: who does an offer actually change, and who should get it.

All three work on files so analysts can bring any randomised trial: ``fit`` learns each offer's effect from a
trial (one row per customer: features, the arm, the outcome) and saves the learner; ``score`` predicts each
offer's effect for other customers; ``plan`` gives each customer the offer whose predicted incremental margin
exceeds its cost, optionally under a budget or a maximum count.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keepwise.commands.common import JsonOption, err, print_json
from keepwise.exceptions import KeepwiseInputError

if TYPE_CHECKING:
    import pandas as pd

uplift_app = typer.Typer(
    help="Uplift targeting: learn who an offer changes (T, X, DR learners) and plan offers."
)

FileOption = Annotated[Path, typer.Option("--file", help="CSV or Parquet file, one row per customer.")]
FeaturesOption = Annotated[str, typer.Option("--features", help="Feature columns, comma-separated.")]


def _read(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.exists():
        raise KeepwiseInputError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        raise KeepwiseInputError(f"{path.name}: cannot be read: {str(exc).splitlines()[0]}") from None


def _numeric(frame: pd.DataFrame, columns: list[str], source: str) -> pd.DataFrame:
    """The named columns as floats; the first missing column or non-numeric cell is an input error."""
    import numpy as np
    import pandas as pd

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
    json_: JsonOption = False,
) -> None:
    """Learn each offer's effect from a randomised trial; report the Qini area on a 30% held-out part.

    The learner is evaluated on a seeded 30% of the trial it did not see, then refitted on the whole trial
    and saved (a pickle: load it only from a source you trust).
    """
    import numpy as np

    from keepwise.experiments.uplift import make_learner, qini_area

    trial = _read(file)
    names = _columns(features)
    X = _numeric(trial, names, file.name)
    y = _numeric(trial, [outcome], file.name)[outcome].to_numpy()
    if arm_column not in trial.columns:
        raise KeepwiseInputError(f"{file.name}, column '{arm_column}': missing column")
    arm = trial[arm_column].astype(str).to_numpy()
    held_out = np.random.default_rng(seed).random(len(trial)) < 0.3
    evaluation = make_learner(learner, control=control, random_state=seed, threads=1)
    evaluation.fit(X[~held_out], arm[~held_out], y[~held_out])
    effects = evaluation.predict(X[held_out])
    qini: dict[str, float] = {}
    for offer in effects.columns:
        pair = (arm[held_out] == offer) | (arm[held_out] == control)
        qini[offer] = qini_area(
            y[held_out][pair], (arm[held_out][pair] == offer).astype(float), effects[offer].to_numpy()[pair]
        )
    final = make_learner(learner, control=control, random_state=seed, threads=1).fit(X, arm, y)
    with model_out.open("wb") as f:
        pickle.dump({"learner": final, "features": names, "outcome": outcome}, f)
    doc = {
        "learner": learner,
        "offers": list(final.treatments_),
        "n_customers": len(trial),
        "held_out": int(held_out.sum()),
        "qini_area": qini,
        "model": str(model_out),
    }
    if json_:
        print_json(doc)
        return
    err.print(f"fitted a {learner}-learner on {len(trial):,} customers; saved to {model_out}")
    for offer, area in qini.items():
        err.print(
            f"  {offer}: Qini area {area:,.4f} on {int(held_out.sum()):,} held-out customers (0 = random)"
        )


def _load_model(path: Path) -> dict[str, Any]:
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


def _effects(model: Path, file: Path, id_column: str) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    saved = _load_model(model)
    customers = _read(file)
    if id_column not in customers.columns:
        raise KeepwiseInputError(f"{file.name}, column '{id_column}': missing column")
    X = _numeric(customers, saved["features"], file.name)
    effects = saved["learner"].predict(X)
    effects.index = customers[id_column].astype(str)
    return customers, effects, saved


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
    _, effects, saved = _effects(model, file, id_column)
    table = effects.reset_index(names="customer_id")
    if out is not None:
        table.to_csv(out, index=False)
    if json_:
        print_json({"outcome": saved["outcome"], "customers": table.to_dict(orient="records")})
    else:
        err.print(
            f"scored {len(table):,} customers for {', '.join(effects.columns)}"
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
    from keepwise.experiments.uplift import plan

    costs: dict[str, float] = {}
    for item in cost:
        offer, _, amount = item.partition("=")
        try:
            costs[offer.strip()] = float(amount)
        except ValueError:
            raise KeepwiseInputError(f"--cost '{item}': write OFFER=AMOUNT, e.g. --cost call=20") from None
    customers, effects, _ = _effects(model, file, id_column)
    value = None
    if value_column is not None:
        value = _numeric(customers, [value_column], file.name)[value_column].to_numpy()
    planned = plan(effects, costs, value=value, budget=budget, max_count=max_count, ids=list(effects.index))
    if out is not None:
        planned.to_csv(out, index=False)
    treated = planned[planned["offer"] != "none"]
    summary: dict[str, Any] = {
        "treated": len(treated),
        "by_offer": {str(k): int(v) for k, v in treated["offer"].value_counts().items()},
        "incremental_margin": round(float(treated["incremental_margin"].sum()), 2),
        "cost": round(float(treated["cost"].sum()), 2),
        "net": round(float(treated["net"].sum()), 2),
    }
    if json_:
        print_json({"summary": summary, "customers": planned.to_dict(orient="records")})
        return
    err.print(
        f"treat {summary['treated']:,} of {len(planned):,} customers "
        f"({', '.join(f'{k}: {v:,}' for k, v in summary['by_offer'].items()) or 'nobody'}); predicted "
        f"incremental margin {summary['incremental_margin']:,.2f} for a cost of {summary['cost']:,.2f}"
        + (f"; wrote {out}" if out else "")
    )


def register(app: typer.Typer) -> None:
    """Add the command group to the CLI."""
    app.add_typer(uplift_app, name="uplift")
