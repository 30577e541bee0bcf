"""``/outbox``: messages by state (queued, sent, unconfirmed, failed, suppressed, held out), a page at a time.

The counts are those of ``keepwise messages report --json`` (:func:`keepwise.messages.outbox.report`); the
rows come from :func:`keepwise.messages.listing.outbox_rows`, newest first. After a win-back approval the
page also says what the approval did (``?approval=ID``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import Response

from keepwise.web import validation
from keepwise.web.app import WebState, json_response, render, state_of
from keepwise.web.paging import Page, page_of
from keepwise.web.programs.common import api, router

__all__ = ["outbox_api", "outbox_document", "outbox_page"]


def outbox_document(
    state: WebState, request: Request, status: str | None, chosen: Page, customer_id: str | None = None
) -> dict[str, Any]:
    """The counts of every state and one page of the messages in ``status`` (default: all), with links."""
    from keepwise.messages.listing import check_state, outbox_counts, outbox_rows

    status = check_state(status)
    with state.store() as backend:
        counts = outbox_counts(backend)
        rows, total = outbox_rows(
            backend, status, offset=chosen.start, limit=chosen.size, customer_id=customer_id
        )
    pagination = chosen.info({"messages": total}, request.url.path, dict(request.query_params))
    return {"state": status or "all", "counts": counts, "messages": rows, "pagination": pagination}


def _customer(value: str | None) -> str | None:
    return None if value in (None, "") else validation.identifier(value, "customer_id")


@router.get("/outbox")
def outbox_page(
    request: Request,
    state: str | None = None,
    customer_id: str | None = None,
    approval: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
) -> Response:
    """The outbox: a tab per state with its count, the messages of the chosen one, newest first."""
    from keepwise.messages.campaign import approval as recorded

    web = state_of(request)
    doc = outbox_document(web, request, state, page_of(page, per_page), _customer(customer_id))
    approved = None
    if approval:
        with web.store() as backend:
            found = recorded(backend, validation.identifier(approval, "approval"))
        approved = None if found is None else found.to_json()
    return render(
        request,
        "outbox.html.j2",
        title="Outbox",
        doc=doc,
        pager=doc["pagination"],
        approved=approved,
        customer_id=customer_id or "",
    )


@api.get("/outbox")
def outbox_api(
    request: Request,
    state: str | None = None,
    customer_id: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
) -> Response:
    """Messages in ``state`` (all, queued, sent, unconfirmed, failed, suppressed, held_out), paginated."""
    doc = outbox_document(state_of(request), request, state, page_of(page, per_page), _customer(customer_id))
    return json_response(doc)
