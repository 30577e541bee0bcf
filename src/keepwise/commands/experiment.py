"""``keepwise experiment design|analyze``: randomised experiments with control groups.

pandas, SciPy and the analysis modules are imported when a command runs, so that ``keepwise --help`` starts
fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keepwise.commands.common import (
    DbOption,
    JsonOption,
    err,
    out,
    print_json,
    statistical_warnings_on_stderr,
)
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL

if TYPE_CHECKING:
    from keepwise.experiments.analysis import ExperimentResult

sub = typer.Typer(
    help="Randomised experiments: design one from the store, analyse it, or analyse any result file.",
    no_args_is_help=True,
)


def _parse_pairs(values: list[str] | None, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for v in values or []:
        key, sep, value = v.partition("=")
        if not sep or not key or not value:
            raise KeepwiseInputError(f"{what} '{v}' must be written METRIC=COLUMN")
        pairs[key] = value
    return pairs


@sub.command("analyze")
def analyze_command(
    name: Annotated[
        str | None, typer.Argument(help="Experiment in the store (omit it with --file).", show_default=False)
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", help="A result file (CSV or Parquet), one row per customer.", show_default=False
        ),
    ] = None,
    arm_column: Annotated[
        str, typer.Option("--arm-column", help="Column of the file holding each row's arm.")
    ] = "arm",
    control: Annotated[
        str | None,
        typer.Option(
            "--control", help="The control arm's value (default: the design's).", show_default=False
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric", help="Metric column; repeat for several (store default: all).", show_default=False
        ),
    ] = None,
    covariate: Annotated[
        list[str] | None,
        typer.Option(
            "--covariate", help="CUPED pre-period covariate, METRIC=COLUMN; repeatable.", show_default=False
        ),
    ] = None,
    cuped: Annotated[
        bool, typer.Option("--cuped", help="Store experiments: adjust each metric by its pre-period value.")
    ] = False,
    ratios: Annotated[
        str | None,
        typer.Option(
            "--ratios", help="Designed ratios for the sample-ratio check, e.g. control:1,treatment:1."
        ),
    ] = None,
    alpha: Annotated[
        float | None, typer.Option("--alpha", help="1 - confidence level (default from keepwise.toml: 0.05).")
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples for extra intervals.")
    ] = 0,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    profit_metric: Annotated[
        str | None,
        typer.Option(
            "--profit-metric", help="Metric that is profit per customer (adds the money).", show_default=False
        ),
    ] = None,
    program_cost: Annotated[
        float, typer.Option("--program-cost", help="Total cost of the program per treated arm.")
    ] = 0.0,
    months: Annotated[
        int, typer.Option("--months", help="Store experiments: months measured after the start.")
    ] = 12,
    details: Annotated[
        bool, typer.Option("--details", help="With --json: add Holm p-values, lift intervals and more.")
    ] = False,
    json_: JsonOption = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Compare every arm with the control: difference, interval, p-value (Welch), lift, SRM check, Holm.

    With --file, any randomised result file (one row per customer) is analysed; without it, experiment NAME
    is read from the store with its metrics over the window after assignment.
    """
    from keepwise.config import load_config
    from keepwise.experiments import Analysis
    from keepwise.experiments import analyze as analyze_experiment
    from keepwise.experiments.analysis import analyze as analyze_frame
    from keepwise.experiments.design import parse_arms
    from keepwise.experiments.run import read_results
    from keepwise.experiments.store import TooEarly
    from keepwise.store.connection import connect

    config = load_config()
    covs = _parse_pairs(covariate, "--covariate")
    if (file is None) == (name is None):
        raise KeepwiseInputError("give either an experiment NAME (from the store) or --file FILE")
    if file is not None:
        if control is None:
            raise KeepwiseInputError("--control is required with --file (the control arm's value)")
        if not metric:
            raise KeepwiseInputError("give at least one --metric COLUMN")
        frame = read_results(file)
        with statistical_warnings_on_stderr():
            analysis = Analysis(
                analyze_frame(
                    frame=frame,
                    arm_column=arm_column,
                    control=control,
                    metrics=list(metric),
                    alpha=alpha if alpha is not None else config.experiments.alpha,
                    ratios=parse_arms(ratios) if ratios else None,
                    covariates=covs,
                    bootstrap=bootstrap,
                    seed=seed,
                    profit_metric=profit_metric,
                    program_cost=program_cost,
                    source=str(file),
                )
            )
    else:
        assert name is not None
        store = connect(db)
        try:
            with statistical_warnings_on_stderr():
                analysis = analyze_experiment(
                    store,
                    name,
                    metrics=metric,
                    control=control,
                    cuped=cuped,
                    covariates=covs,
                    ratios=parse_arms(ratios) if ratios else None,
                    alpha=alpha,
                    bootstrap=bootstrap,
                    seed=seed,
                    profit_metric=profit_metric,
                    program_cost=program_cost,
                    months=months,
                    config=config,
                )
        except TooEarly as exc:
            raise KeepwiseInputError(f"{exc} with --months N") from None
        finally:
            store.disconnect()
    if json_:
        print_json(analysis.to_json(details=details))
        return
    _print_result(analysis.result, analysis.window)


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.1%}" if pct else f"{x:,.4g}"


def _print_result(result: ExperimentResult, window: dict[str, str | None] | None) -> None:
    from rich.table import Table

    if window is not None:
        out.print(f"Window: {window['first_month']} to {window['last_month']} (ends on {window['ends_on']})")
    out.print(
        f"Sample-ratio check: p = {result.srm.p_value:.3g} "
        + ("[bold red](MISMATCH)[/bold red]" if result.srm.mismatch else "(fine)")
    )
    conf = f"{1 - result.alpha:.0%}"
    grid = Table(title=f"Each arm against '{result.control}' (Welch; {conf} intervals)", title_justify="left")
    for h in (
        "arm",
        "metric",
        "n",
        "mean",
        "control mean",
        "difference",
        f"{conf} interval",
        "p",
        "p (Holm)",
        "lift",
    ):
        grid.add_column(h, justify="left" if h in ("arm", "metric") else "right")
    for c in result.comparisons:
        grid.add_row(
            c.arm,
            c.metric + (" (CUPED)" if c.method == "cuped" else ""),
            f"{c.n:,}",
            _fmt(c.mean),
            _fmt(c.mean_control),
            _fmt(c.difference),
            f"{_fmt(c.ci_low)} to {_fmt(c.ci_high)}",
            f"{c.p_value:.3g}",
            f"{c.p_value_holm:.3g}",
            _fmt(c.relative_lift, pct=True),
        )
    out.print(grid)
    for arm, money in result.money.items():
        out.print(
            f"{arm}: incremental profit over {money['n_treated']:,} treated customers minus the program's "
            f"cost ({money['program_cost']:,.2f}) = {money['incremental_profit']:,.2f} "
            f"({conf} interval {money['ci_low']:,.2f} to {money['ci_high']:,.2f})."
        )


@sub.command("design")
def design_command(
    name: Annotated[str, typer.Argument(help="A new experiment's name.")],
    population: Annotated[
        str, typer.Option("--population", help="top:N (by trailing profit), tier:NAME, list:FILE or all.")
    ] = "top:1200",
    arms: Annotated[str, typer.Option("--arms", help="Arms with ratios.")] = "control:1,treatment:1",
    control: Annotated[str, typer.Option("--control", help="The control arm.")] = "control",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the random assignment.")] = 0,
    stratify_by: Annotated[
        list[str] | None,
        typer.Option(
            "--stratify-by", help="profit_decile, tier, segment or channel; repeatable.", show_default=False
        ),
    ] = None,
    month: Annotated[
        str | None,
        typer.Option(
            "--month",
            help="Last month of the trailing-profit window; a past month is assigned at its end, so the "
            "window measured starts the month after (default: the data's last month).",
            show_default=False,
        ),
    ] = None,
    baseline_retention: Annotated[
        float,
        typer.Option("--baseline-retention", help="12-month retention without the program (for power)."),
    ] = 0.80,
    json_: JsonOption = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Choose a population, assign it to arms (stratified, seeded), save it and state the power.

    Re-running with the same seed and population changes nothing; a different design under an existing
    name is refused.
    """
    from rich.table import Table

    from keepwise.config import load_config
    from keepwise.experiments import start
    from keepwise.store.connection import connect

    config = load_config()
    store = connect(db)
    try:
        started = start(
            store,
            name,
            population=population,
            arms=arms,
            control=control,
            seed=seed,
            strata=stratify_by or (),
            month=month,
            baseline_retention=baseline_retention,
            config=config,
        )
    finally:
        store.disconnect()
    doc = started.to_json()
    if json_:
        print_json(doc)
        return
    for note in started.notes:
        err.print(f"note: {note}", highlight=False)
    status, assigned, statements = started.status, started.assigned, started.power
    verb = "Saved" if status == "created" else "Unchanged (same seed and population)"
    out.print(f"{verb}: experiment '{name}', {len(assigned):,} customers from {population}.")
    out.print(f"Profit ranked over the twelve months to {doc['month']}; assigned at {doc['assigned_at']}.")
    out.print("Arms: " + ", ".join(f"{a} {n:,}" for a, n in doc["arms"].items()))
    grid = Table(
        title="Balance (standardised mean differences; |SMD| > 0.1 is a warning)", title_justify="left"
    )
    for h in ("covariate", "arm", "mean", "control mean", "SMD"):
        grid.add_column(h)
    for r in doc["balance"]:
        grid.add_row(
            r["covariate"], r["arm"], f"{r['mean']:,.2f}", f"{r['mean_control']:,.2f}", f"{r['smd']:+.3f}"
        )
    out.print(grid)
    for s in statements:
        out.print(s["retention"]["sentence"])
        if s["profit"]:
            out.print(s["profit"]["sentence"])


def register(app: typer.Typer) -> None:
    """Add ``keepwise experiment`` to the CLI."""
    app.add_typer(sub, name="experiment")
