"""The REST API under ``/api``: the JSON of the matching CLI command, made by the same functions.

Errors have one shape, ``{"error": "one line"}``: 400 with the CLI's exit-2 message for bad input, 401 without
the right Bearer token, 404 for an id or month the store does not hold.
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from keepwise.exceptions import KeepwiseInputError
from keepwise.web import data
from keepwise.web.app import NotFound, Unauthorized, json_response, state_of
from keepwise.web.auth import same_token

__all__ = ["require_token", "router"]


def require_token(request: Request) -> None:
    """Refuse an API call without ``Authorization: Bearer <token>`` when the app has a token."""
    token = state_of(request).token
    if token is None:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized("send the access token as 'Authorization: Bearer <token>'")
    if not same_token(given.strip(), token):
        raise Unauthorized("the access token is not valid")


router = APIRouter(prefix="/api", dependencies=[Depends(require_token)])


@router.get("/status")
def status(request: Request) -> Response:
    """What the store holds (``keepwise status --json``)."""
    from keepwise.store.status import store_status

    state = state_of(request)
    with state.store() as backend:
        return json_response({"db": state.db, **store_status(backend)})


@router.get("/review")
def review_latest(request: Request) -> Response:
    """The latest stored review (``keepwise review --json`` without the report file)."""
    with state_of(request).store() as backend:
        return json_response(data.review_document(backend))


@router.get("/review/{month}")
def review_month(request: Request, month: str) -> Response:
    """The stored review of ``month`` (YYYY-MM)."""
    with state_of(request).store() as backend:
        return json_response(data.review_document(backend, month))


@router.get("/reviews")
def reviews(request: Request) -> Response:
    """Months with a stored review, newest first."""
    with state_of(request).store() as backend:
        return json_response({"months": data.review_months(backend)})


@router.get("/profit")
def profit(request: Request, month: str | None = None, view: str = "month") -> Response:
    """Profitability, tiers and the whale curve (``keepwise profit --json``)."""
    from keepwise.value.review_section import profit_document

    if view not in ("month", "ttm", "lifetime"):
        raise KeepwiseInputError(f"--view '{view}' is not one of: month, ttm, lifetime")
    state = state_of(request)
    with state.store() as backend:
        return json_response(profit_document(backend, month, view=cast(Any, view), config=state.config))


@router.get("/customers/{customer_id}")
def customer(request: Request, customer_id: str) -> Response:
    """One customer's profile: orders, profit and tier, P(alive), warnings, incidents, consent."""
    state = state_of(request)
    with state.store() as backend:
        return json_response(data.customer_profile(backend, customer_id, state.config))


async def _json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise KeepwiseInputError("the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise KeepwiseInputError("the request body must be a JSON object")
    return body


def advise(state: Any, customer_id: Any, cost: Any, incident: Any) -> dict[str, Any]:
    """``keepwise concession CUSTOMER_ID --cost COST [--incident ID] --json``, for the API and the form."""
    from keepwise.decisions.concession import ConcessionAdvisor

    if not isinstance(customer_id, str) or not customer_id.strip():
        raise KeepwiseInputError("customer_id is required, e.g. C001")
    if cost is None or isinstance(cost, bool) or str(cost).strip() == "":
        raise KeepwiseInputError("--cost is required, e.g. 200.00")
    with state.store() as backend:
        known = backend.con.execute(
            "SELECT count(*) FROM customers WHERE customer_id = ?", [customer_id]
        ).fetchone()
        if not known or not known[0]:
            raise NotFound(f"unknown customer id '{customer_id}'")
        if incident:
            found = backend.con.execute(
                "SELECT count(*) FROM incidents WHERE incident_id = ?", [str(incident)]
            ).fetchone()
            if not found or not found[0]:
                raise NotFound(f"unknown incident id '{incident}'")
        advisor = ConcessionAdvisor(backend, config=state.config)
        advice = advisor.advise(customer_id, str(cost).strip(), str(incident) if incident else None)
    doc: dict[str, Any] = advice.to_json()
    return doc


@router.post("/concession")
async def concession(request: Request) -> Response:
    """Approve, refuse or counter a concession: body ``{"customer_id", "cost", "incident"?}``."""
    body = await _json_body(request)
    state = state_of(request)
    from starlette.concurrency import run_in_threadpool

    doc = await run_in_threadpool(
        advise, state, body.get("customer_id"), body.get("cost"), body.get("incident")
    )
    return json_response(doc)


@router.get("/winback")
def winback(request: Request, month: str | None = None, top: int = 20) -> Response:
    """The win-back ranking (``keepwise winback --json``): ``?month=YYYY-MM&top=N`` (0: all)."""
    state = state_of(request)
    with state.store() as backend:
        return json_response(data.winback_document(backend, state.config, month, top))


@router.get("/conjoint")
def conjoint(request: Request, study: str | None = None) -> Response:
    """A saved conjoint study, by default the latest (``keepwise conjoint show [--study NAME] --json``)."""
    with state_of(request).store() as backend:
        result = data.conjoint_result(backend, study)
    if result is None:
        raise NotFound(
            "no conjoint study in the store yet; save one with `keepwise conjoint estimate --save`"
        )
    return json_response(data.conjoint_document(result))
