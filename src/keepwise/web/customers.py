"""The customers pages: the list (search, sort, pages) and one customer's page, and their ``/api/v1`` twins.

``/customers`` lists customers matching ``q`` (part of an id, a name or an e-mail address), sorted by
``sort`` (profit, value, p_alive, tier, last_order, id) in ``order``, a page at a time
(:mod:`keepwise.web.customer_data`); the header's search box sends ``id``, which opens that customer's page
when the id exists and searches otherwise. ``/customers/{id}`` shows the profile
(:func:`keepwise.web.data.customer_profile`) and the history (:mod:`keepwise.web.customer_history`).
``/api/v1/customers`` and ``/api/v1/customers/{id}`` give the same documents as JSON. Every route reads what
the commands stored; none computes a stage.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from keepwise.money import shown
from keepwise.store import Store
from keepwise.store.recipients import customer_row
from keepwise.web import customer_data, customer_history, data, validation
from keepwise.web.access import Role, api_guard, page_guard
from keepwise.web.app import NotFound, WebState, json_response, render, state_of
from keepwise.web.pages import _currency
from keepwise.web.paging import page_of

__all__ = ["api", "router"]

router = APIRouter(dependencies=[Depends(page_guard(Role.REP))])

#: This module's part of the REST API (``/api/v1/...``, JSON, the one error shape).
api = APIRouter(
    prefix="/api/v1", dependencies=[Depends(api_guard(Role.REP)), Depends(validation.json_body_required)]
)


def _list(request: Request, path: str, query: str | None = None) -> dict[str, Any]:
    """The list document of a request's ``q``, ``sort``, ``order``, ``page`` and ``per_page``."""
    params = request.query_params
    sort, order, text = customer_data.sort_of(
        params.get("sort"), params.get("order"), query or params.get("q")
    )
    page = page_of(params.get("page"), params.get("per_page"))
    links = {k: v for k, v in params.items() if k != "id"}
    if query is not None:
        links["q"] = text
    state = state_of(request)
    with state.store() as backend:
        return customer_data.customer_list(
            backend, state.config, query=text, sort=sort, order=order, page=page, path=path, params=links
        )


def _profile(state: WebState, backend: Store, customer_id: str, request: Request) -> dict[str, Any]:
    """Profile and history of one customer (404 for an unknown id), the timeline paged by the request."""
    params = request.query_params
    page = page_of(params.get("page"), params.get("per_page"))
    if customer_row(backend, customer_id) is None:
        raise NotFound(f"unknown customer id '{customer_id}'")
    from keepwise.store.customer_history import customer_lines

    with customer_lines(backend, customer_id):  # the customer's lines found once (one scan), read twice
        more = customer_history.customer_history(backend, customer_id, page)
        summary = more.pop("order_summary")  # the order lines are read once, for both
        profile = data.customer_profile(backend, customer_id, state.config, orders=summary)
    notes = profile.pop("notes")
    notes += [n for n in more.pop("notes") if n["input"] not in {m["input"] for m in notes}]
    doc = {**profile, **more, "notes": notes}
    doc["pagination"] = page.info({"timeline.orders": more["orders_total"]}, request.url.path, dict(params))
    return doc


@router.get("/customers")
def customers_page(request: Request) -> Response:
    """Find a customer: search by id, name or e-mail; sort by profit, value, P(alive), tier or last order."""
    wanted = request.query_params.get("id", "").strip()
    if wanted and not request.query_params.get("q"):
        state = state_of(request)
        with state.store() as backend:
            known = customer_row(backend, validation.identifier(wanted, "id")) is not None
        if known:
            return RedirectResponse(f"/customers/{quote(wanted, safe='')}", status_code=303)
    doc = _list(request, request.url.path, wanted or None)
    return render(
        request,
        "customers.html.j2",
        title="Customers",
        doc=doc,
        pager=doc["pagination"],
        notes=doc["notes"],
        sorts=customer_data.SORT_LABELS,
        money=lambda v, cur: "" if v is None or cur is None else shown(v, cur),
    )


@router.get("/customers/{customer_id:path}")
def customer_page(request: Request, customer_id: str) -> Response:
    """One customer: figures, purchases, P(alive), profit and tier over time, incidents, consent, ..."""
    state = state_of(request)
    with state.store() as backend:
        doc = _profile(state, backend, customer_id, request)
        cur = (doc["profit"] or {}).get("currency") or _currency(state, backend)
    return render(
        request,
        "customer.html.j2",
        title=f"Customer {customer_id}",
        p=doc,
        pager=doc["pagination"],
        notes=doc["notes"],
        timeline_chart=customer_history.timeline_figure(doc),
        p_alive_chart=customer_history.p_alive_figure(doc),
        money=lambda v, c=None: "" if v is None else shown(v, c or cur),
    )


@api.get("/customers")
def list_customers(request: Request) -> Response:
    """Customers matching ``q``, sorted by ``sort`` in ``order``; ``page``, ``per_page``."""
    return json_response(_list(request, request.url.path))


@api.get("/customers/{customer_id:path}")
def one_customer(request: Request, customer_id: str) -> Response:
    """One customer's profile and history (the timeline's orders a page at a time)."""
    customer_id = validation.identifier(customer_id, "customer_id")
    state = state_of(request)
    with state.store() as backend:
        return json_response(_profile(state, backend, customer_id, request))
