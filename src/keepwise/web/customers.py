"""The customers pages: find a customer, and one customer's page (orders, profit, P(alive), consent, ...)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from keepwise.exceptions import KeepwiseInputError
from keepwise.money import shown
from keepwise.web import data, validation
from keepwise.web.access import Role, api_guard, page_guard
from keepwise.web.app import render, state_of
from keepwise.web.pages import _currency

__all__ = ["api", "router"]

router = APIRouter(dependencies=[Depends(page_guard(Role.REP))])

#: This module's part of the REST API (``/api/v1/...``, JSON, the one error shape).
api = APIRouter(
    prefix="/api/v1", dependencies=[Depends(api_guard(Role.REP)), Depends(validation.json_body_required)]
)


@router.get("/customers")
def find_customer(request: Request, id: str = "") -> Response:
    """The search box: go to the customer's page."""
    from urllib.parse import quote

    if not id.strip():
        raise KeepwiseInputError("type a customer id, e.g. C001")
    return RedirectResponse(f"/customers/{quote(id.strip(), safe='')}", status_code=303)


@router.get("/customers/{customer_id:path}")
def customer_page(request: Request, customer_id: str) -> Response:
    """One customer: orders, profit and tier, P(alive), warnings, incidents, consent."""
    state = state_of(request)
    with state.store() as backend:
        profile = data.customer_profile(backend, customer_id, state.config)
        cur = (profile["profit"] or {}).get("currency") or _currency(state, backend)
    return render(
        request,
        "customer.html.j2",
        title=f"Customer {customer_id}",
        p=profile,
        money=lambda v: shown(v, cur),
    )
