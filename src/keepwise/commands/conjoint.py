"""``keepwise conjoint``: design choice tasks, estimate part-worths, simulate offers.

``keepwise conjoint design STUDY.yaml --tasks N --versions V --out DIR`` writes the design, an answer sheet
and a printable questionnaire. ``keepwise conjoint estimate --file F ...`` fits a conditional logit or
hierarchical Bayes model to any long-format choice data. ``keepwise conjoint simulate`` fits the same way and
ranks candidate offers by expected margin.
"""

from __future__ import annotations

import time
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from keepwise.commands.common import DbOption, JsonOption, err, print_json, statistical_warnings_on_stderr
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL

if TYPE_CHECKING:
    import pandas as pd

    from keepwise.conjoint import Estimate

conjoint_app = typer.Typer(
    help="Choice-based conjoint: design tasks, estimate what each feature and each dollar is worth, "
    "simulate offers.",
    no_args_is_help=True,
)


class Method(StrEnum):
    """Design construction methods."""

    d_efficient = "d-efficient"
    balanced_overlap = "balanced-overlap"


class ModelKind(StrEnum):
    """Estimators."""

    mnl = "mnl"
    hb = "hb"
    lc = "lc"


class CodingName(StrEnum):
    """Codings of categorical attributes."""

    effects = "effects"
    dummy = "dummy"


@conjoint_app.command("design")
def design_command(
    study: Annotated[Path, typer.Argument(help="Study YAML file (attributes, levels, price, prohibitions).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for the design files.")],
    tasks: Annotated[int, typer.Option("--tasks", help="Choice tasks per respondent.")] = 12,
    versions: Annotated[int, typer.Option("--versions", help="Versions of the questionnaire.")] = 10,
    method: Annotated[Method, typer.Option("--method", help="How tasks are built.")] = Method.d_efficient,
    seed: Annotated[int, typer.Option("--seed", help="Random seed (same seed, same design).")] = 0,
    json_output: JsonOption = False,
) -> None:
    """Build choice tasks for a study: design.csv, answers_template.csv, questionnaire.html, design.json."""
    from keepwise.conjoint.design import balanced_overlap, d_efficient
    from keepwise.conjoint.study import load_study

    spec = load_study(study)
    started = time.perf_counter()
    build = d_efficient if method == Method.d_efficient else balanced_overlap
    try:
        design = build(spec, tasks, versions, seed=seed)
    except BadInput as exc:
        if exc.field not in ("tasks", "versions"):
            raise
        raise KeepwiseInputError(
            f"--tasks and --versions must be at least 1, got {tasks} and {versions}"
        ) from None
    paths = design.write(out)
    report = {**design.report(), "files": {k: str(v) for k, v in paths.items()}}
    report["seconds"] = round(time.perf_counter() - started, 3)
    if json_output:
        print_json(report)
        return
    err.print(
        f"{design.method} design for '{spec.name}': {versions} version(s) x {tasks} tasks x "
        f"{design.levels.shape[2]} offers{' + none' if spec.none_option else ''}"
    )
    err.print(f"D-error {report['d_error']:.4f}; level balance (fewest/most) {report['level_balance']}")
    for name, path in paths.items():
        err.print(f"  {name}: {path}")


@conjoint_app.command("answers")
def answers_command(
    design: Annotated[Path, typer.Argument(help="design.csv (or the folder `conjoint design --out` wrote).")],
    answers: Annotated[Path, typer.Argument(help="The filled answers_template.csv.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the long-format CSV for `estimate`.")],
    study: Annotated[
        Path | None,
        typer.Option(
            "--study", help="The study's YAML file: names the price and the categorical attributes."
        ),
    ] = None,
    json_output: JsonOption = False,
) -> None:
    """Join filled answer sheets to the design: one row per offer of each answered task, `chosen` 0/1."""
    from keepwise.conjoint.answers import long_format, read_sheet
    from keepwise.exports import write_csv

    long = long_format(
        read_sheet(design, "design"),
        read_sheet(answers, "answers"),
        design_name=str(design),
        answers_name=str(answers),
    )
    write_csv(long.frame, out)
    has_none = "none" in long.frame.columns
    parts = [
        f"keepwise conjoint estimate --file {out} --task-column task --alternative-column alternative",
        "--choice-column chosen --respondent-column respondent",
        "--attributes " + ",".join([*long.attributes, *(["none"] if has_none else [])]),
    ]
    if has_none:
        parts.append("--none-column none")
    if study is not None:
        from keepwise.conjoint.study import load_study

        spec = load_study(study)
        price = [a.name for a in spec.attributes if a.numeric]
        numeric_looking = [
            a.name
            for a in spec.attributes
            if not a.numeric and all(str(v).replace(".", "", 1).lstrip("-").isdigit() for v in a.levels)
        ]
        if numeric_looking:
            parts.append("--categorical " + ",".join(numeric_looking))
        if price:
            parts.append(f"--price-column {price[0]}")
    nxt = " ".join(parts)
    doc = {
        "out": str(out),
        "rows": len(long.frame),
        "answered_tasks": long.answered,
        "skipped_rows": long.skipped,
        "respondents": int(long.frame["respondent"].nunique()),
        "attributes": list(long.attributes),
        "next": nxt,
    }
    if json_output:
        print_json(doc)
        return
    err.print(
        f"{long.answered:,} answered tasks of {doc['respondents']:,} respondents -> {len(long.frame):,} rows "
        f"in {out}" + (f" ({long.skipped:,} rows without a choice skipped)" if long.skipped else "")
    )
    err.print(f"next: {nxt}")


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


FileOption = Annotated[
    Path, typer.Option("--file", help="Long-format CSV: one row per alternative per task.")
]
TaskOption = Annotated[str, typer.Option("--task-column", help="Column identifying the choice task.")]
AltOption = Annotated[str, typer.Option("--alternative-column", help="Column identifying the alternative.")]
ChoiceOption = Annotated[str, typer.Option("--choice-column", help="1 for the chosen alternative, else 0.")]
AttributesOption = Annotated[
    str, typer.Option("--attributes", help="Comma-separated attribute columns (numeric ones enter linearly).")
]
RespondentOption = Annotated[
    str | None, typer.Option("--respondent-column", help="Respondent column (needed for --model hb and lc).")
]
ModelOption = Annotated[
    ModelKind, typer.Option("--model", help="mnl (conditional logit), hb or lc (latent classes).")
]
ClassesOption = Annotated[
    str | None,
    typer.Option(
        "--classes",
        help="lc: number of latent classes (2 or more), or auto (the lowest BIC over 1 to 5 classes, "
        "scanned until BIC rises twice in a row).",
    ),
]
CodingOption = Annotated[CodingName, typer.Option("--coding", help="Coding of categorical attributes.")]
CategoricalOption = Annotated[
    str | None, typer.Option("--categorical", help="Numeric-looking columns to treat as categorical.")
]
PriceOption = Annotated[str | None, typer.Option("--price-column", help="Price attribute (for WTP).")]
NoneOption = Annotated[
    str | None, typer.Option("--none-column", help="0/1 'none of these' attribute column.")
]
DrawsOption = Annotated[int, typer.Option("--draws", help="HB: kept draws per chain.")]
BurnOption = Annotated[int, typer.Option("--burn", help="HB: burn-in iterations per chain.")]
SeedOption = Annotated[int, typer.Option("--seed", help="HB and lc: random seed.")]


def _classes(model: ModelKind, classes: str | None) -> int | Literal["auto"] | None:
    """The number of latent classes --classes asks for (one-line errors for a wrong combination or value)."""
    if model != ModelKind.lc:
        if classes is not None:
            raise KeepwiseInputError("--classes goes with --model lc only")
        return None
    if classes is None:
        raise KeepwiseInputError("--model lc needs --classes K (2 or more) or --classes auto")
    if classes.strip().lower() == "auto":
        return "auto"
    try:
        k = int(classes)
    except ValueError:
        raise KeepwiseInputError(f"--classes must be a whole number or auto, not '{classes}'") from None
    if k < 2:
        raise KeepwiseInputError(
            f"--model lc needs --classes 2 or more, or auto (got {k}); one class is --model mnl"
        )
    return k


def _estimate(
    file: Path,
    task_column: str,
    alternative_column: str,
    choice_column: str,
    attributes: str,
    respondent_column: str | None,
    model: ModelKind,
    coding: CodingName,
    categorical: str | None,
    price_column: str | None,
    none_column: str | None,
    draws: int,
    burn: int,
    seed: int,
    classes: str | None = None,
    currency: str = "",
) -> Estimate:
    """Call the front door with the options; phrase its errors with the options' names."""
    from keepwise.conjoint import estimate

    try:
        with statistical_warnings_on_stderr():
            return estimate(
                file,
                _split(attributes),
                task_column,
                alternative_column,
                choice_column,
                respondent=respondent_column,
                model=model.value,
                classes=_classes(model, classes),
                coding=coding.value,
                categorical=_split(categorical),
                price=price_column,
                none=none_column,
                draws=draws,
                burn=burn,
                seed=seed,
                currency=currency,
            )
    except BadInput as exc:
        if exc.field != "respondent":
            raise
        raise KeepwiseInputError(
            f"--model {model.value} needs --respondent-column (whose tasks are whose)"
        ) from None


@conjoint_app.command("estimate")
def estimate_command(
    file: FileOption,
    task_column: TaskOption,
    alternative_column: AltOption,
    choice_column: ChoiceOption,
    attributes: AttributesOption,
    respondent_column: RespondentOption = None,
    model: ModelOption = ModelKind.mnl,
    classes: ClassesOption = None,
    coding: CodingOption = CodingName.effects,
    categorical: CategoricalOption = None,
    price_column: PriceOption = None,
    none_column: NoneOption = None,
    draws: DrawsOption = 3000,
    burn: BurnOption = 3000,
    seed: SeedOption = 0,
    save: Annotated[
        str | None,
        typer.Option(
            "--save",
            help="Save the estimate in the store under this study name (the review and dashboard show the "
            "latest).",
        ),
    ] = None,
    study: Annotated[
        Path | None,
        typer.Option(
            "--study",
            help="The study's YAML file: its prohibited offers, its levels' words and costs and its lost "
            "offer are saved with the estimate (--save), so the win-back ranking never proposes a prohibited "
            "offer and costs and words each offer; its categorical attributes are read as text, as written.",
        ),
    ] = None,
    currency: Annotated[str, typer.Option("--currency", help="Currency of the price (e.g. USD).")] = "",
    db: DbOption = DEFAULT_URL,
    json_output: JsonOption = False,
) -> None:
    """Estimate part-worths from long-format choices: conditional logit, hierarchical Bayes or classes."""
    from keepwise.conjoint.report import segments_table
    from keepwise.conjoint.results import importance

    started = time.perf_counter()
    rules: list[dict[str, Any]] | None = None
    terms = None
    if study is not None:
        from keepwise.conjoint.store import study_prohibitions
        from keepwise.conjoint.study import load_study

        if save is None:
            raise KeepwiseInputError(f"{study}: --study keeps the study's prohibitions with --save NAME only")
        spec = load_study(study)
        rules, terms = study_prohibitions(spec), spec.terms
        # the study's own categorical attributes stay text as written (a level 1 is never 1.0)
        named = set(_split(attributes))
        extra = [a.name for a in spec.attributes if not a.numeric and a.name in named]
        categorical = ",".join(dict.fromkeys([*_split(categorical), *extra])) or None
    _classes(model, classes)  # a wrong --classes fails before the data are read
    estimated = _estimate(
        file, task_column, alternative_column, choice_column, attributes, respondent_column, model, coding,
        categorical, price_column, none_column, draws, burn, seed, classes, currency,
    )  # fmt: skip
    if save is not None:
        from keepwise.store import connect

        store = connect(db)
        try:
            estimated = estimated.save(
                store, save, source=str(file), prohibitions=rules, prohibitions_from=str(study), terms=terms
            )
        except BadInput as exc:
            if exc.field != "study":
                raise
            raise KeepwiseInputError("give the study a name (--save NAME)") from None
        finally:
            store.disconnect()
    doc = estimated.to_json()
    doc["seconds"] = round(time.perf_counter() - started, 3)
    result = estimated.result
    if json_output:
        print_json(doc)
        return
    if save is not None:
        kept = doc.get("prohibitions")
        with_rules = "" if kept is None else f" with its {len(kept)} prohibition(s) from {study}"
        err.print(f"saved as conjoint study '{save}'{with_rules}")
    summary = result.model.summary
    err.print(summary.to_string(float_format=lambda x: f"{x:.6g}"))
    err.print(f"log-likelihood {doc['log_likelihood']:.4f} on {doc['n_tasks']} tasks")
    if "rho_squared" in doc:
        err.print(f"McFadden rho-squared {doc['rho_squared']:.4f}")
    if "bic" in doc:
        err.print(
            f"{doc['classes']} latent classes on {doc['n_respondents']} respondents: BIC {doc['bic']:.1f}"
        )
    err.print(importance(result).to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    if "segments" in doc:
        err.print(_segments_text(segments_table(result)))


@conjoint_app.command("simulate")
def simulate_command(
    file: FileOption,
    task_column: TaskOption,
    alternative_column: AltOption,
    choice_column: ChoiceOption,
    attributes: AttributesOption,
    offers: Annotated[
        Path,
        typer.Option(
            "--offers",
            help="YAML: 'candidates' (offers with a 'cost'), optional 'competitors' ({attribute: level}).",
        ),
    ],
    price_column: Annotated[str, typer.Option("--price-column", help="Price attribute.")],
    none_column: NoneOption = None,
    respondent_column: RespondentOption = None,
    model: ModelOption = ModelKind.mnl,
    classes: ClassesOption = None,
    coding: CodingOption = CodingName.effects,
    categorical: CategoricalOption = None,
    draws: DrawsOption = 3000,
    burn: BurnOption = 3000,
    seed: SeedOption = 0,
    json_output: JsonOption = False,
) -> None:
    """Rank candidate win-back offers by expected margin (take-up x (price - cost))."""
    from keepwise.conjoint import load_offers, simulate

    spec = load_offers(offers)
    estimated = _estimate(
        file, task_column, alternative_column, choice_column, attributes, respondent_column, model, coding,
        categorical, price_column, none_column, draws, burn, seed, classes,
    )  # fmt: skip
    choice = simulate(estimated.result, spec)
    doc = choice.to_json()
    if json_output:
        print_json(doc)
        return
    err.print(choice.table.to_string(index=False))
    for reason in choice.reasons:
        err.print(f"- {reason}")


@conjoint_app.command("show")
def show_command(
    study: Annotated[
        str | None, typer.Option("--study", help="Saved study to show (default: the one saved last).")
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html", help="Write a page with the figures and the what-if simulator (works offline)."
        ),
    ] = None,
    db: DbOption = DEFAULT_URL,
    json_output: JsonOption = False,
) -> None:
    """Show a saved study: importance, willingness to pay with intervals, and a what-if page."""
    from keepwise.conjoint import show
    from keepwise.conjoint.report import section_html, segments_table
    from keepwise.conjoint.results import importance, wtp
    from keepwise.report import check_report_path
    from keepwise.store import connect

    out_path = check_report_path(html) if html is not None else None
    store = connect(db)
    try:
        shown = show(store, study)
    except BadInput as exc:
        if exc.field != "study":
            raise
        raise KeepwiseInputError(
            "the store holds no conjoint study: fit one with keepwise conjoint estimate ... --save NAME"
        ) from None
    finally:
        store.disconnect()
    result = shown.result
    doc = shown.to_json()
    if out_path is not None:
        from markupsafe import escape
        from plotly.offline import get_plotlyjs

        name = escape(result.study or "")
        out_path.write_text(
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Conjoint study {name}'
            f"</title><script>{get_plotlyjs()}</script></head><body><h1>Conjoint study {name}</h1>"
            f"{section_html(result)}</body></html>",
            encoding="utf-8",
        )
        doc["html"] = str(out_path)
    if json_output:
        print_json(doc)
        return
    err.print(doc["headline"])
    err.print(importance(result).to_string(index=False, float_format=lambda x: f"{x:.1f}"))
    if "wtp" in doc:
        err.print(wtp(result).to_string(index=False, float_format=lambda x: f"{x:.2f}"))
    if "segments" in doc:
        err.print(_segments_text(segments_table(result)))
    if out_path is not None:
        err.print(f"page: {out_path}")


def _segments_text(table: pd.DataFrame) -> str:
    """The segments table turned on its side for a terminal: one column per class."""
    table = table.set_index("class").T
    table.columns = [f"class {c}" for c in table.columns]
    return str(table.to_string(float_format=lambda x: f"{x:.1f}"))


def register(app: typer.Typer) -> None:
    """Add ``keepwise conjoint`` to the CLI."""
    app.add_typer(conjoint_app, name="conjoint")
