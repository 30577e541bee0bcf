"""Approving a win-back campaign: the manager's choice of ranked customers queues their letters, once.

``POST /winback/approve`` is the win-back page's "Approve campaign" form (``month`` and a ``customer_id``
per ticked row); ``POST /api/v1/winback/approve`` takes ``{"month": "YYYY-MM", "customer_ids": [...]}``.
Both go through :func:`keepwise.messages.campaign.approve_winback` (the win-back flow's queueing, consent,
control group and idempotency keys) and record who approved. A rep is refused (403).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from keepwise.exceptions import BadInput
from keepwise.web import validation
from keepwise.web.app import WebState, error_response, json_response, render, state_of
from keepwise.web.programs.common import api, form_fields, router, user_name

__all__ = ["approve", "approve_api", "approve_page"]


def approve(state: WebState, month: object, customer_ids: object, approved_by: str) -> dict[str, Any]:
    """Check the request's month and customers, then approve: the approval's document."""
    from keepwise.messages.campaign import approve_winback

    if not isinstance(month, str) or not month.strip():
        raise BadInput("month", "is required: the win-back ranking's month, YYYY-MM")
    chosen = validation.month(month.strip())
    assert chosen is not None
    if not isinstance(customer_ids, list) or not customer_ids:
        raise BadInput("customer_ids", "choose at least one customer (a list of ids)")
    ids = [validation.identifier(c, "customer_ids") for c in customer_ids]
    with state.store(write=True) as backend:
        result = approve_winback(backend, ids, month=chosen, approved_by=approved_by, config=state.config)
    return result.to_json()


def _busy(exc: Exception) -> str:
    return f"{exc}; try again in a minute"


@router.post("/winback/approve")
async def approve_page(request: Request) -> Response:
    """The "Approve campaign" form: queue the ticked customers' letters, then show them in the outbox."""
    from keepwise.messages.outbox import LockBusy

    fields = await form_fields(request)
    month = (fields.get("month") or [""])[0]
    try:
        doc = await run_in_threadpool(
            approve, state_of(request), month, fields.get("customer_id", []), user_name(request)
        )
    except LockBusy as exc:
        return render(request, "error.html.j2", status_code=409, title="Busy", message=_busy(exc))
    target = f"/outbox?state=queued&approval={quote(doc['approval_id'], safe='')}"
    return RedirectResponse(target, status_code=303)


@api.post("/winback/approve")
async def approve_api(request: Request) -> Response:
    """Approve a win-back campaign: ``{"month", "customer_ids"}``; what was queued, held out or left out."""
    from keepwise.messages.outbox import LockBusy

    body = await validation.json_object(request)
    try:
        doc = await run_in_threadpool(
            approve, state_of(request), body.get("month"), body.get("customer_ids"), user_name(request)
        )
    except LockBusy as exc:
        return error_response(_busy(exc), 409)
    return json_response(doc, status_code=201)
