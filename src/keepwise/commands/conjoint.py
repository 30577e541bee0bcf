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
from typing import TYPE_CHECKING, Annotated, Any

import typer

from keepwise.commands.common import DbOption, JsonOption, err, print_json, statistical_warnings_on_stderr
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL

if TYPE_CHECKING:
    import pandas as pd

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
    design = build(spec, tasks, versions, seed=seed)
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


def _split(value: str | None) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()] if value else []


def _read(file: Path, text_columns: list[str] | None = None) -> pd.DataFrame:
    if not file.exists():
        raise KeepwiseInputError(f"{file}: no such file")
    import pandas as pd

    try:
        return pd.read_csv(file, dtype=dict.fromkeys(text_columns or [], str))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise KeepwiseInputError(f"{file}: not a readable CSV file ({str(exc).splitlines()[0]})") from None


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


def _classes(model: ModelKind, classes: str | None) -> dict[str, Any]:
    """Estimator options for --classes (one-line errors for a wrong combination or value)."""
    if model != ModelKind.lc:
        if classes is not None:
            raise KeepwiseInputError("--classes goes with --model lc only")
        return {}
    if classes is None:
        raise KeepwiseInputError("--model lc needs --classes K (2 or more) or --classes auto")
    if classes.strip().lower() == "auto":
        return {"classes": "auto"}
    try:
        k = int(classes)
    except ValueError:
        raise KeepwiseInputError(f"--classes must be a whole number or auto, not '{classes}'") from None
    if k < 2:
        raise KeepwiseInputError(
            f"--model lc needs --classes 2 or more, or auto (got {k}); one class is --model mnl"
        )
    return {"classes": k}


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
) -> Any:
    from keepwise.conjoint.results import estimate

    frame = _read(file, _split(categorical))
    names = _split(attributes)
    if none_column and none_column not in names:
        names.append(none_column)
    options: dict[str, Any] = {"draws": draws, "burn": burn, "seed": seed} if model == ModelKind.hb else {}
    lc_options = _classes(model, classes)
    if lc_options:
        options = {**lc_options, "seed": seed}
    with statistical_warnings_on_stderr():
        return estimate(
            frame,
            names,
            task_column,
            alternative_column,
            choice_column,
            respondent=respondent_column,
            model=model.value,
            coding=coding.value,
            categorical=_split(categorical),
            price=price_column,
            none=none_column,
            source=str(file),
            **options,
        )


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
            help="The study's YAML file: its prohibited offers are saved with the estimate (--save), so the "
            "win-back ranking never proposes one.",
        ),
    ] = None,
    currency: Annotated[str, typer.Option("--currency", help="Currency of the price (e.g. USD).")] = "",
    db: DbOption = DEFAULT_URL,
    json_output: JsonOption = False,
) -> None:
    """Estimate part-worths from long-format choices: conditional logit, hierarchical Bayes or classes."""
    from keepwise.conjoint.hb import HierarchicalBayesMNL
    from keepwise.conjoint.latent_class import LatentClassMNL
    from keepwise.conjoint.results import importance, part_worths, segments, wtp

    started = time.perf_counter()
    rules: list[dict[str, Any]] | None = None
    if study is not None:
        from keepwise.conjoint.store import study_prohibitions
        from keepwise.conjoint.study import load_study

        if save is None:
            raise KeepwiseInputError(f"{study}: --study keeps the study's prohibitions with --save NAME only")
        rules = study_prohibitions(load_study(study))
    _classes(model, classes)  # a wrong --classes fails before the data are read
    result = _estimate(
        file, task_column, alternative_column, choice_column, attributes, respondent_column, model, coding,
        categorical, price_column, none_column, draws, burn, seed, classes,
    )  # fmt: skip
    result.currency = currency.strip().upper()
    fitted = result.model
    doc: dict[str, Any] = {
        "model": model.value,
        "coefficients": result.coefficients,
        "std_errors": result.std_errors,
        "log_likelihood": float(fitted.log_likelihood_),
        "n_tasks": int(fitted.n_tasks_),
    }
    if isinstance(fitted, HierarchicalBayesMNL):
        doc["n_respondents"] = int(fitted.n_respondents_)
        doc["population_sd"] = dict(
            zip(fitted.names_, map(float, fitted.summary["population sd"]), strict=True)
        )
        doc["diagnostics"] = {
            "rhat": dict(zip(fitted.names_, map(float, fitted.rhat_["mean"]), strict=True)),
            "ess": dict(zip(fitted.names_, map(float, fitted.ess_["mean"]), strict=True)),
            "acceptance": float(fitted.acceptance_),
        }
    elif isinstance(fitted, LatentClassMNL):
        doc["n_respondents"] = int(fitted.n_respondents_)
        doc["classes"] = int(fitted.classes)
        doc["bic"] = float(fitted.bic_)
        doc["aic"] = float(fitted.aic_)
        if fitted.bic_by_classes_ is not None:
            doc["bic_by_classes"] = {str(k): v for k, v in fitted.bic_by_classes_.items()}
        doc["population"] = "coefficients, std_errors, importance and wtp are share-weighted over the classes"
        doc["segments"] = segments(result)
    else:
        doc["null_log_likelihood"] = float(fitted.null_log_likelihood_)
        doc["rho_squared"] = float(fitted.rho_squared_)
        doc["adjusted_rho_squared"] = float(fitted.adjusted_rho_squared_)
    doc["part_worths"] = part_worths(result).to_dict(orient="records")
    doc["importance"] = importance(result).to_dict(orient="records")
    if result.coding.price is not None:
        doc["wtp"] = wtp(result).to_dict(orient="records")
    if save is not None:
        from keepwise.conjoint.store import save_result
        from keepwise.store import connect

        backend = connect(db)
        try:
            saved = save_result(
                backend, result, save, source=str(file), prohibitions=rules, prohibitions_from=str(study)
            )
        finally:
            backend.disconnect()
        doc["saved_as"] = save
        if saved.prohibitions is not None:
            doc["prohibitions"] = list(saved.prohibitions)
    doc["seconds"] = round(time.perf_counter() - started, 3)
    if json_output:
        print_json(doc)
        return
    if save is not None:
        kept = doc.get("prohibitions")
        with_rules = "" if kept is None else f" with its {len(kept)} prohibition(s) from {study}"
        err.print(f"saved as conjoint study '{save}'{with_rules}")
    summary = fitted.summary
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
        from keepwise.conjoint.report import segments_table

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
    from keepwise.conjoint.simulator import best_offer

    spec = _read_offers(offers)
    result = _estimate(
        file, task_column, alternative_column, choice_column, attributes, respondent_column, model, coding,
        categorical, price_column, none_column, draws, burn, seed, classes,
    )  # fmt: skip
    candidates = [{k: v for k, v in c.items() if k != "cost"} for c in spec["candidates"]]
    choice = best_offer(
        result, candidates, [c["cost"] for c in spec["candidates"]], competitors=spec.get("competitors", [])
    )
    doc = {
        "best_offer": choice.offer,
        "take_up": choice.take_up,
        "margin": choice.margin,
        "expected_margin": choice.expected_margin,
        "reasons": choice.reasons,
        "candidates": choice.table.to_dict(orient="records"),
    }
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
    from keepwise.conjoint.report import section_html, segments_table, show_document
    from keepwise.conjoint.results import importance, wtp
    from keepwise.conjoint.store import load_result
    from keepwise.report import check_report_path
    from keepwise.store import connect

    out_path = check_report_path(html) if html is not None else None
    backend = connect(db)
    try:
        result = load_result(backend, study)
    finally:
        backend.disconnect()
    if result is None:
        raise KeepwiseInputError(
            "the store holds no conjoint study: fit one with keepwise conjoint estimate ... --save NAME"
        )
    doc = show_document(result)
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


def _read_offers(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise KeepwiseInputError(f"{path}: no such offers file")
    import yaml

    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError:
        raise KeepwiseInputError(f"{path}: not valid YAML") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("candidates"), list) or not doc["candidates"]:
        raise KeepwiseInputError(f"{path}: needs 'candidates', a list of offers with a 'cost'")
    for i, c in enumerate(doc["candidates"]):
        if not isinstance(c, dict) or "cost" not in c:
            raise KeepwiseInputError(f"{path}: candidates[{i}] needs a 'cost'")
    if not isinstance(doc.get("competitors", []), list):
        raise KeepwiseInputError(f"{path}: 'competitors' must be a list of offers")
    return doc


def register(app: typer.Typer) -> None:
    """Add ``keepwise conjoint`` to the CLI."""
    app.add_typer(conjoint_app, name="conjoint")
