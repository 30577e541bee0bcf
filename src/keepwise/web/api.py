"""The REST API: the JSON of the matching CLI command, made by the same functions.

The documented path is ``/api/v1/...`` (:data:`routes`, mounted by :mod:`keepwise.web.pages` in its ``api``
router, listed in ``/api/v1/openapi.json``); the same handlers still answer under ``/api/...``
(:data:`router`, left out of the OpenAPI document) so scripts written against the first API keep working.

``/outreach`` and ``/wins`` are ``keepwise outreach --no-save`` and ``keepwise wins``; the two POSTs under
``/outreach/{customer_id}/`` record an action done or skipped, as ``keepwise outreach done|skip`` does.

Errors have one shape, ``{"error": "one line"}`` (plus ``"field"``, the input to fix, when one is at fault):
400 for bad input, 401 without the right Bearer token, 403 for a request another site's page sent, 404 for an
id or month the store does not hold, 415 for a body that is not JSON, 422 for a model the store's data cannot
support, 429 after too many wrong tokens, 500 for an internal failure, 503 while another process holds the
store. Every input is read through :mod:`keepwise.web.validation`; ids may contain ``/`` (``X%2F1``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from keepwise.arguments import MAX_COUNT, MAX_MONTHS
from keepwise.decisions.wins import WinsLosses
from keepwise.exceptions import BadInput
from keepwise.store import Store
from keepwise.web import data, stored, validation
from keepwise.web.access import Role, api_guard
from keepwise.web.app import NotFound, WebState, json_response, state_of
from keepwise.web.cache import data_stamp
from keepwise.web.paging import Page, page_of, paginate

__all__ = [
    "MANAGER",
    "OUTREACH_LISTS",
    "PROFIT_LISTS",
    "REP",
    "REVIEW_LISTS",
    "WINBACK_LISTS",
    "router",
    "routes",
]

#: The lists of each document that come a page at a time (the first is the one ``total`` counts).
REVIEW_LISTS = ("warnings", "lost.customers")
PROFIT_LISTS = ("customers",)
WINBACK_LISTS = ("ranked", "not_worth_contact", "not_wanted", "not_candidates", "won_back")
OUTREACH_LISTS = ("actions",)

#: The tables ``keepwise wins`` reads, with the columns whose latest value marks a change.
WINS_INPUTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("wins", ("won_at",)),
    ("exits", ("lost_at",)),
    ("orders", ("ordered_at",)),
    ("time_logs", ("started_at",)),
    ("customers", ("acquired_at",)),
)


def paged(
    request: Request,
    doc: dict[str, Any],
    lists: tuple[str, ...],
    page: Page,
    totals: dict[str, int] | None = None,
) -> dict[str, Any]:
    """``doc`` with ``lists`` cut to ``page`` and its ``pagination`` links on this route.

    With ``totals``, ``doc``'s lists are that page already (:class:`~keepwise.web.stored.Cut`).
    """
    return paginate(doc, lists, page, request.url.path, dict(request.query_params), totals=totals)


#: The guard of a route a manager (or admin) may call; :data:`REP` for one a representative may call too.
MANAGER = [Depends(api_guard(Role.MANAGER))]
REP = [Depends(api_guard(Role.REP))]

#: The API's handlers without a prefix: included under ``/api/v1`` (documented) and ``/api`` (the first API).
routes = APIRouter()

#: The first API, ``/api/...``: the same handlers as ``/api/v1``, kept answering, not in the OpenAPI document.
router = APIRouter(
    prefix="/api", dependencies=[Depends(api_guard(Role.REP)), Depends(validation.json_body_required)]
)


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> Response:
    """The OpenAPI document of the API (behind the API's sign-in), as ``/api/v1/openapi.json``."""
    from keepwise.web.pages.apidocs import v1_openapi

    return json_response(v1_openapi(request.app))


@routes.get("/status", dependencies=MANAGER)
def status(request: Request) -> Response:
    """What the store holds (``keepwise status --json``)."""
    from keepwise.store.connection import redacted
    from keepwise.store.status import store_status

    state = state_of(request)
    with state.store() as backend:
        return json_response({"db": redacted(state.db), **store_status(backend)})


@routes.get("/review", dependencies=MANAGER)
def review_latest(request: Request, page: str | None = None, per_page: str | None = None) -> Response:
    """The latest stored review (``keepwise review --json`` without the report file), lists paginated."""
    chosen = page_of(page, per_page)
    state = state_of(request)
    with state.store() as backend:
        doc = data.review_document(backend, kept=state.documents)
    return json_response(paged(request, doc, REVIEW_LISTS, chosen))


@routes.get("/review/{month:path}", dependencies=MANAGER)
def review_month(
    request: Request, month: str, page: str | None = None, per_page: str | None = None
) -> Response:
    """The stored review of ``month`` (YYYY-MM), lists paginated."""
    chosen = page_of(page, per_page)
    state = state_of(request)
    with state.store() as backend:
        doc = data.review_document(backend, month, kept=state.documents)
    return json_response(paged(request, doc, REVIEW_LISTS, chosen))


@routes.get("/reviews", dependencies=MANAGER)
def reviews(request: Request) -> Response:
    """Months with a stored review, newest first."""
    with state_of(request).store() as backend:
        return json_response({"months": data.review_months(backend)})


@routes.get("/profit", dependencies=MANAGER)
def profit(
    request: Request,
    month: str | None = None,
    view: str = "month",
    page: str | None = None,
    per_page: str | None = None,
) -> Response:
    """Profitability, tiers and the whale curve (``keepwise profit --json`` as stored), customers paged."""
    month = validation.month(month)
    if view not in stored.VIEWS:
        raise BadInput("view", "is not one of: month, ttm, lifetime", view)
    chosen = page_of(page, per_page)
    state = state_of(request)
    with state.store() as backend:
        found = stored.profit_page(backend, month, view, chosen, kept=state.documents)
    return json_response(paged(request, found.doc, PROFIT_LISTS, chosen, found.totals))


@router.get("/customers/{customer_id:path}", dependencies=REP)
def customer(request: Request, customer_id: str) -> Response:
    """One customer's profile: orders, profit and tier, P(alive), warnings, incidents, consent.

    Under ``/api`` only: ``/api/v1/customers/...`` belongs to :mod:`keepwise.web.customers`.
    """
    from keepwise.store.customer_history import customer_lines

    customer_id = validation.identifier(customer_id, "customer_id")
    state = state_of(request)
    with state.store() as backend, customer_lines(backend, customer_id):  # the lines found once, read twice
        return json_response(data.customer_profile(backend, customer_id, state.config))


def advisor(state: WebState, store: Store) -> Any:
    """The concession advisor of ``store``, fitted once per state of its input tables and kept.

    :class:`~keepwise.decisions.concession.ConcessionAdvisor` is what the stage's front door
    (:func:`keepwise.decisions.concession.advise`) builds for each question; the server builds it again only
    when :func:`~keepwise.web.cache.data_stamp` of its inputs changes, and lends it this request's connection
    (a request that may write has the store to itself, so no two requests share it at once).
    """
    from keepwise.decisions.concession import ConcessionAdvisor

    stamp = data_stamp(store)
    fitted = state.models.get((state.db, "concession"), stamp, lambda: ConcessionAdvisor(store, state.config))
    fitted.store = fitted.backend = store
    return fitted


def advise(state: WebState, customer_id: Any, cost: Any, incident: Any) -> dict[str, Any]:
    """``keepwise concession CUSTOMER_ID --cost COST [--incident ID] --json``, for the API and the form."""
    customer_id = validation.identifier(customer_id, "customer_id")
    if cost is None or (isinstance(cost, str) and not cost.strip()):
        raise BadInput("cost", "is required, e.g. 200.00")
    from keepwise.store.customer_history import count_of

    amount = validation.amount(cost, "cost")
    if incident is not None and incident != "":
        incident = validation.identifier(incident, "incident")
    with state.store() as backend:
        if not count_of(backend, "customers", {"customer_id": customer_id}):
            raise NotFound(f"unknown customer id '{customer_id}'")
        if incident and not count_of(backend, "incidents", {"incident_id": str(incident)}):
            raise NotFound(f"unknown incident id '{incident}'")
        advice = advisor(state, backend).advise(customer_id, amount, str(incident) if incident else None)
    doc: dict[str, Any] = advice.to_json()
    return doc


@routes.post("/concession", dependencies=REP)
async def concession(request: Request) -> Response:
    """Approve, refuse or counter a concession: body ``{"customer_id", "cost", "incident"?}``."""
    body = await validation.json_object(request)
    state = state_of(request)
    from starlette.concurrency import run_in_threadpool

    doc = await run_in_threadpool(
        advise, state, body.get("customer_id"), body.get("cost"), body.get("incident")
    )
    return json_response(doc)


def record_concession(state: WebState, decision_id: Any, action: Any, amount: Any) -> dict[str, Any]:
    """``keepwise concessions record DECISION_ID --action granted|refused [--amount A] --json``."""
    from keepwise.decisions.concession_log import record_action, recorded_document

    decision_id = validation.identifier(decision_id, "decision_id")
    # the page's form sends its amount field with either choice: it counts only with granted
    amount = None if amount in (None, "") or action == "refused" else validation.amount(amount, "amount")
    with state.store(write=True) as backend:
        return recorded_document(record_action(backend, decision_id, action, amount))


@routes.post("/concession/record", dependencies=REP)
async def concession_record(request: Request) -> Response:
    """Record what was done: body ``{"decision_id", "action": granted|refused, "amount"?}``."""
    body = await validation.json_object(request)
    from starlette.concurrency import run_in_threadpool

    doc = await run_in_threadpool(
        record_concession, state_of(request), body.get("decision_id"), body.get("action"), body.get("amount")
    )
    return json_response(doc, status_code=201)


@routes.get("/winback", dependencies=MANAGER)
def winback(
    request: Request,
    month: str | None = None,
    top: str = "20",
    page: str | None = None,
    per_page: str | None = None,
) -> Response:
    """The win-back ranking as stored (``keepwise winback --json``): ``?month=YYYY-MM&top=N`` (0: all).

    Each list (ranked, not worth a contact, not wanted, not candidates, won back) comes a page at a time.
    """
    state = state_of(request)
    month = validation.month(month)
    count = validation.count(top, "top", minimum=None, maximum=MAX_COUNT)
    chosen = page_of(page, per_page)
    cut_at = count if count is not None else 20
    with state.store() as backend:
        found = stored.winback_page(backend, month, cut_at, WINBACK_LISTS, chosen, state.documents)
    return json_response(paged(request, found.doc, WINBACK_LISTS, chosen, found.totals))


@routes.get("/conjoint", dependencies=MANAGER)
def conjoint(request: Request, study: str | None = None) -> Response:
    """A saved conjoint study, by default the latest (``keepwise conjoint show [--study NAME] --json``)."""
    with state_of(request).store() as backend:
        result = data.conjoint_result(backend, study)
    if result is None:
        raise NotFound(
            "no conjoint study in the store yet; save one with `keepwise conjoint estimate --save`"
        )
    return json_response(data.conjoint_document(result))


def outreach_document(state: WebState, month: str | None, top: int | str = 20) -> dict[str, Any]:
    """``keepwise outreach [--month M] --top N --json --no-save``: the plan ``keepwise outreach`` stored.

    ``top`` only shortens the CLI's tables (its JSON has every action), so it is checked and not applied.
    """
    shown = validation.count(top, "top", minimum=None, maximum=MAX_COUNT)
    stored.check_top(shown if shown is not None else 20)
    month = validation.month(month)
    with state.store() as backend:
        return stored.outreach_document(backend, month, state.documents)


def outreach_page(state: WebState, month: str | None, page: Page, top: int | str = 20) -> stored.Cut:
    """A page of :func:`outreach_document`: its ``actions`` cut to ``page`` (read from the stored items)."""
    shown = validation.count(top, "top", minimum=None, maximum=MAX_COUNT)
    stored.check_top(shown if shown is not None else 20)
    month = validation.month(month)
    with state.store() as backend:
        return stored.outreach_page(backend, month, OUTREACH_LISTS, page, state.documents)


def mark_outreach(state: WebState, status: str, customer_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """``keepwise outreach done|skip CUSTOMER_ID --month M [--action KIND] [--note TEXT] --json``.

    Writes through :func:`keepwise.decisions.service.mark`, as the CLI does; an action never saved is the
    CLI's one-line error.
    """
    from keepwise.decisions.service import mark

    customer_id = validation.identifier(customer_id, "customer_id")
    month, action, note = body.get("month"), body.get("action") or "contact", body.get("note")
    if not isinstance(month, str) or not month.strip():
        raise BadInput("month", "is required, e.g. 2024-06")
    if not isinstance(action, str):
        raise BadInput("action", "must be one of reprice_or_part_ways, re_engage, contact")
    month = validation.month(month.strip()) or ""
    text = validation.note(note)
    with state.store(write=True) as backend:
        row = mark(backend, month, customer_id, action, status, note=text)
    return data.mark_document(row)


@routes.get("/outreach", dependencies=REP)
def outreach(
    request: Request,
    month: str | None = None,
    top: str = "20",
    page: str | None = None,
    per_page: str | None = None,
) -> Response:
    """The month's stored outreach plan (``keepwise outreach --json --no-save``), actions paginated."""
    chosen = page_of(page, per_page)
    found = outreach_page(state_of(request), month, chosen, top)
    return json_response(paged(request, found.doc, OUTREACH_LISTS, chosen, found.totals))


@routes.post("/outreach/{customer_id:path}/done", dependencies=REP)
async def outreach_done(request: Request, customer_id: str) -> Response:
    """Record a saved action as done: body ``{"month", "action"?, "note"?}`` (``keepwise outreach done``)."""
    from starlette.concurrency import run_in_threadpool

    body = await validation.json_object(request)
    return json_response(await run_in_threadpool(mark_outreach, state_of(request), "done", customer_id, body))


@routes.post("/outreach/{customer_id:path}/skip", dependencies=REP)
async def outreach_skip(request: Request, customer_id: str) -> Response:
    """Record a saved action as skipped: body ``{"month", "action"?, "note"?}`` (``outreach skip``)."""
    from starlette.concurrency import run_in_threadpool

    body = await validation.json_object(request)
    doc = await run_in_threadpool(mark_outreach, state_of(request), "skipped", customer_id, body)
    return json_response(doc)


def wins_result(state: WebState, month: str | None, months: int | str | None) -> WinsLosses:
    """The :class:`~keepwise.decisions.wins.WinsLosses` of ``keepwise wins [--month M] [--months N]``."""
    from keepwise.decisions.wins import wins_against_losses

    month = validation.month(month)
    span = validation.count(months, "months", minimum=None, maximum=MAX_MONTHS)
    with state.store() as backend:
        stamp = data_stamp(backend, WINS_INPUTS)
        found: WinsLosses = state.models.get(
            (state.db, "wins", month, span),
            stamp,
            lambda: wins_against_losses(backend, month, months=span, config=state.config),
        )
        return found


@routes.get("/wins", dependencies=MANAGER)
def wins(request: Request, month: str | None = None, months: str | None = None) -> Response:
    """Why customers choose the business against why they leave (``keepwise wins --json``)."""
    return json_response(wins_result(state_of(request), month, months).to_json())


router.include_router(routes, include_in_schema=False)
