"""``keepwise experiment design|analyze``: randomised experiments with control groups.

pandas, SciPy and the analysis modules are imported when a command runs, so that ``keepwise --help`` starts
fast.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
    import pandas as pd

    from keepwise.experiments.analysis import ExperimentResult

sub = typer.Typer(
    help="Randomised experiments: design one from the store, analyse it, or analyse any result file.",
    no_args_is_help=True,
)


def _read_table(path: Path) -> pd.DataFrame:
    import pandas as pd

    if not path.exists():
        raise KeepwiseInputError(f"file '{path}' does not exist")
    try:
        if path.suffix.lower() == ".parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except Exception as exc:
        raise KeepwiseInputError(f"cannot read '{path}': {str(exc).splitlines()[0]}") from None


def _parse_pairs(values: list[str] | None, what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for v in values or []:
        key, sep, value = v.partition("=")
        if not sep or not key or not value:
            raise KeepwiseInputError(f"{what} '{v}' must be written METRIC=COLUMN")
        pairs[key] = value
    return pairs


def _run_analysis(**kwargs: Any) -> ExperimentResult:
    """Run the analysis and turn a sample-ratio mismatch into a loud message on stderr."""
    from keepwise.experiments.analysis import analyze

    with statistical_warnings_on_stderr():
        return analyze(**kwargs)


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
    from keepwise.experiments.design import parse_arms
    from keepwise.store.connection import connect

    config = load_config()
    level = alpha if alpha is not None else config.experiments.alpha
    covs = _parse_pairs(covariate, "--covariate")
    if (file is None) == (name is None):
        raise KeepwiseInputError("give either an experiment NAME (from the store) or --file FILE")
    window: dict[str, str] | None = None
    if file is not None:
        if control is None:
            raise KeepwiseInputError("--control is required with --file (the control arm's value)")
        if not metric:
            raise KeepwiseInputError("give at least one --metric COLUMN")
        frame = _read_table(file)
        source = str(file)
        arm_col, control_arm, metrics = arm_column, control, list(metric)
        designed = parse_arms(ratios) if ratios else None
    else:
        from keepwise.experiments.store import METRICS, experiment_metrics

        assert name is not None
        backend = connect(db)
        try:
            frame, design, window = experiment_metrics(backend, name, months=months, config=config)
        finally:
            backend.disconnect()
        source = f"experiment '{name}'"
        arm_col, control_arm = "arm", control or design.control
        metrics = list(metric) if metric else list(METRICS)
        designed = parse_arms(ratios) if ratios else design.arms
        if cuped:
            covs.update({m: f"pre_{m}" for m in metrics if m != "retained" and f"pre_{m}" in frame.columns})
        if profit_metric is None and "profit" in metrics:
            profit_metric = "profit"
        if window.get("warning"):
            err.print(f"[yellow]note: {window['warning']}[/yellow]")
    result = _run_analysis(
        frame=frame,
        arm_column=arm_col,
        control=control_arm,
        metrics=metrics,
        alpha=level,
        ratios=designed,
        covariates=covs,
        bootstrap=bootstrap,
        seed=seed,
        profit_metric=profit_metric,
        program_cost=program_cost,
        source=source,
    )
    if json_:
        doc = result.to_json(full=details)
        if details and window is not None:
            doc["window"] = window
        print_json(doc)
        return
    _print_result(result, window)


def _fmt(x: float | None, pct: bool = False) -> str:
    if x is None:
        return "-"
    return f"{x:+.1%}" if pct else f"{x:,.4g}"


def _print_result(result: ExperimentResult, window: dict[str, str] | None) -> None:
    from rich.table import Table

    if window is not None:
        out.print(f"Window: {window['first_month']} to {window['last_month']}")
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
            "--month", help="Last month of the trailing-profit window (default: latest).", show_default=False
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
    from keepwise.experiments.design import Design, balance_table, parse_arms
    from keepwise.experiments.power import power_statement
    from keepwise.experiments.store import design_experiment
    from keepwise.store.connection import connect

    config = load_config()
    design = Design(
        name=name,
        arms=parse_arms(arms),
        seed=seed,
        control=control,
        strata=tuple(stratify_by or ()),
        population=population,
    )
    backend = connect(db)
    try:
        assigned, status = design_experiment(backend, design, population, month=month, config=config)
    finally:
        backend.disconnect()
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
    doc: dict[str, Any] = {
        "experiment": name,
        "status": status,
        "population": population,
        "customers": len(assigned),
        "arms": {a: int(counts.get(a, 0)) for a in design.arms},
        "seed": seed,
        "strata": list(design.strata),
        "balance": balance.to_dict(orient="records"),
        "power": statements,
        "designed_at": datetime.now(UTC).isoformat(),
    }
    if json_:
        print_json(doc)
        return
    verb = "Saved" if status == "created" else "Unchanged (same seed and population)"
    out.print(f"{verb}: experiment '{name}', {len(assigned):,} customers from {population}.")
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
