"""``/experiments``: every experiment's design, status and results; one experiment's page; designing one.

The results are :func:`keepwise.experiments.overview.experiment_report`'s, the analysis ``keepwise
experiment analyze NAME --details --json`` prints, computed once per state of the data it reads and kept
(:mod:`keepwise.web.cache`). Designing goes through :func:`keepwise.experiments.start`, as ``keepwise
experiment design`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from keepwise.exceptions import KeepwiseInputError
from keepwise.money import shown
from keepwise.store import Store
from keepwise.web import validation
from keepwise.web.app import NotFound, WebState, json_response, render, state_of
from keepwise.web.cache import ADVISOR_INPUTS, Kept, data_stamp
from keepwise.web.paging import page_of, paginate
from keepwise.web.programs.common import api, form_fields, router

__all__ = ["design", "experiment_api", "experiment_page", "experiments_api", "experiments_page", "report"]

#: The tables an experiment's results are read from, with the columns whose change marks new data.
INPUTS = (*ADVISOR_INPUTS, ("assignments", ("assigned_at",)), ("experiments", ("created_at",)))

#: Experiments' reports kept between requests, each for the state of the data it was computed from (apart
#: from the server's fitted models, so many experiments never push the concession advisor out).
KEPT: Kept[Any] = Kept(size=64)

#: The design form's fields and their defaults (those of ``keepwise experiment design``).
DESIGN_DEFAULTS = {
    "name": "",
    "population": "top:1200",
    "arms": "control:1,treatment:1",
    "control": "control",
    "seed": "0",
    "month": "",
    "stratify_by": "",
    "baseline_retention": "0.80",
}


def _months(value: str | None) -> int:
    return validation.count(value, "months", minimum=1, maximum=120) or 12


def report(state: WebState, store: Store, experiment_id: str, months: int, stamp: Any = None) -> Any:
    """The experiment's report (design, status, results), kept until the data it reads change."""
    from keepwise.experiments.overview import experiment_report

    stamp = data_stamp(store, INPUTS) if stamp is None else stamp
    return KEPT.get(
        (state.db, experiment_id, months, state.config.experiments.alpha),
        stamp,
        lambda: experiment_report(store, experiment_id, months=months, config=state.config),
    )


def _all(state: WebState, months: int) -> list[dict[str, Any]]:
    """Every experiment's summary, with results for those complete."""
    from keepwise.experiments.overview import experiment_summaries

    with state.store() as backend:
        summaries = experiment_summaries(backend, months=months, config=state.config)
        if not any(s["status"] == "complete" for s in summaries):
            return summaries
        stamp = data_stamp(backend, INPUTS)
        return [
            report(state, backend, s["experiment"], months, stamp) if s["status"] == "complete" else s
            for s in summaries
        ]


def _money(state: WebState) -> Callable[[Any], str]:
    """How the pages show the analysis' money (floats from the statistics): in the reporting currency."""
    from keepwise.exceptions import KeepwiseError
    from keepwise.value.profitability import reporting_currency

    try:
        with state.store() as backend:
            currency = reporting_currency(backend, state.config)
    except KeepwiseError:  # a store whose currencies cannot be reported in one: plain figures
        return lambda v: f"{v:,.2f}"
    return lambda v: shown(Decimal(str(v)), currency)


def _one(state: WebState, experiment_id: str, months: int) -> dict[str, Any]:
    with state.store() as backend:
        doc: dict[str, Any] | None = report(state, backend, experiment_id, months)
    if doc is None:
        raise NotFound(f"no experiment '{experiment_id}' in the store (see /experiments)")
    return doc


@router.get("/experiments")
def experiments_page(request: Request, months: str | None = None) -> Response:
    """Every experiment: design, status, results with intervals and the sample-ratio check; a design form."""
    from keepwise.experiments.overview import START_COMMAND

    state = state_of(request)
    docs = _all(state, _months(months))
    return render(
        request,
        "experiments.html.j2",
        title="Experiments",
        money=_money(state),
        experiments=docs,
        form=DESIGN_DEFAULTS,
        error=None,
        start_command=START_COMMAND,
    )


@router.get("/experiments/{experiment_id}")
def experiment_page(request: Request, experiment_id: str, months: str | None = None) -> Response:
    """One experiment: its design, status, results and their effects drawn with the intervals."""
    from keepwise.charts import fragment
    from keepwise.experiments.figures import effects_figure

    state = state_of(request)
    doc = _one(state, validation.identifier(experiment_id, "experiment_id"), _months(months))
    chart = None
    if doc.get("results"):
        chart = fragment(effects_figure(doc["results"]), "fig-effects")
    title = f"Experiment {doc['experiment']}"
    return render(request, "experiment.html.j2", title=title, doc=doc, chart=chart, money=_money(state))


def _design_args(fields: dict[str, Any]) -> dict[str, Any]:
    """The arguments of :func:`keepwise.experiments.start` from a form or a JSON body, checked."""
    name = validation.identifier(fields.get("name"), "name")
    strata = fields.get("stratify_by") or []
    if isinstance(strata, str):
        strata = [s.strip() for s in strata.split(",") if s.strip()]
    if not isinstance(strata, list) or not all(isinstance(s, str) for s in strata):
        raise KeepwiseInputError(
            "stratify_by: give a list of columns (profit_decile, tier, segment, channel)"
        )
    texts = {}
    for key in ("population", "arms", "control"):
        value = fields.get(key)
        texts[key] = str(DESIGN_DEFAULTS[key] if value in (None, "") else value)
        validation.identifier(texts[key], key)
    if texts["population"].strip().lower().startswith("list:"):
        raise KeepwiseInputError(
            "population: list:FILE reads a file on the server; use `keepwise experiment design` for it"
        )
    retention = fields.get("baseline_retention")
    try:
        baseline = float(DESIGN_DEFAULTS["baseline_retention"] if retention in (None, "") else retention)
    except (TypeError, ValueError):
        raise KeepwiseInputError("baseline_retention: give a share between 0 and 1, e.g. 0.80") from None
    if not 0 < baseline < 1:
        raise KeepwiseInputError("baseline_retention: give a share between 0 and 1, e.g. 0.80")
    month = fields.get("month")
    return {
        "name": name,
        **texts,
        "seed": validation.count(fields.get("seed") if fields.get("seed") not in (None, "") else 0, "seed"),
        "strata": tuple(strata),
        "month": validation.month(str(month)) if month not in (None, "") else None,
        "baseline_retention": baseline,
    }


def design(state: WebState, fields: dict[str, Any]) -> dict[str, Any]:
    """Design and save an experiment as ``keepwise experiment design`` does; its ``--json`` document."""
    from keepwise.experiments import start

    args = _design_args(fields)
    with state.store(write=True) as backend:
        started = start(backend, args.pop("name"), config=state.config, **args)
    return started.to_json()


@router.post("/experiments")
async def design_page(request: Request) -> Response:
    """The design form: save the experiment and show its page, or show the form again with the problem."""
    raw = await form_fields(request)
    fields: dict[str, Any] = {k: (raw.get(k) or [""])[0].strip() for k in DESIGN_DEFAULTS}
    fields["stratify_by"] = [s for s in raw.get("stratify_by", []) if s.strip()]
    state = state_of(request)
    try:
        doc = await run_in_threadpool(design, state, fields)
    except KeepwiseInputError as exc:
        from keepwise.experiments.overview import START_COMMAND

        docs = await run_in_threadpool(_all, state, 12)
        shown_form = {**fields, "stratify_by": ",".join(fields["stratify_by"])}
        return render(
            request,
            "experiments.html.j2",
            status_code=400,
            title="Experiments",
            money=_money(state),
            experiments=docs,
            form=shown_form,
            error=str(exc),
            start_command=START_COMMAND,
        )
    from urllib.parse import quote

    return RedirectResponse(f"/experiments/{quote(doc['experiment'], safe='')}", status_code=303)


@api.get("/experiments")
def experiments_api(
    request: Request, months: str | None = None, page: str | None = None, per_page: str | None = None
) -> Response:
    """Every experiment with its design, status and (when complete) results, a page at a time."""
    chosen = page_of(page, per_page)
    docs = _all(state_of(request), _months(months))
    body = paginate(
        {"experiments": docs}, ("experiments",), chosen, request.url.path, dict(request.query_params)
    )
    return json_response(body)


@api.get("/experiments/{experiment_id}")
def experiment_api(request: Request, experiment_id: str, months: str | None = None) -> Response:
    """One experiment: design, status, and ``results`` as ``keepwise experiment analyze --details --json``."""
    doc = _one(state_of(request), validation.identifier(experiment_id, "experiment_id"), _months(months))
    return json_response(doc)


@api.post("/experiments")
async def design_api(request: Request) -> Response:
    """Design an experiment (``keepwise experiment design``): 201 with its document, 200 if unchanged."""
    body = await validation.json_object(request)
    doc = await run_in_threadpool(design, state_of(request), body)
    return json_response(doc, status_code=201 if doc["status"] == "created" else 200)
