"""What every dashboard page module shares: the two routers, the role guards and small helpers.

``router`` holds the pages (server-rendered HTML; no session: a redirect to /login), ``api`` this package's
part of the REST API (``/api/v1/...``, JSON, the one error shape). Both let any signed-in user in; a route
that needs more declares it (``dependencies=MANAGER_PAGE``, ``ADMIN_PAGE``, ``MANAGER_API``, ``ADMIN_API``).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from keepwise.exceptions import KeepwiseInputError
from keepwise.store import Store
from keepwise.web import validation
from keepwise.web.access import Role, api_guard, page_guard
from keepwise.web.app import WebState, state_of
from keepwise.web.paging import Page

__all__ = [
    "ADMIN_API",
    "ADMIN_PAGE",
    "MANAGER_API",
    "MANAGER_PAGE",
    "api",
    "currency_of",
    "data_month",
    "derived",
    "fragment",
    "pager",
    "router",
    "same_origin",
]

#: The dashboard's pages; each route that needs more than a representative says so.
router = APIRouter(dependencies=[Depends(page_guard(Role.REP))])

#: This package's part of the REST API (``/api/v1/...``, JSON, the one error shape).
api = APIRouter(
    prefix="/api/v1", dependencies=[Depends(api_guard(Role.REP)), Depends(validation.json_body_required)]
)

#: Guards of the routes a manager (or admin) may open, and of those only an admin may.
MANAGER_PAGE = [Depends(page_guard(Role.MANAGER))]
ADMIN_PAGE = [Depends(page_guard(Role.ADMIN))]
MANAGER_API = [Depends(api_guard(Role.MANAGER))]
ADMIN_API = [Depends(api_guard(Role.ADMIN))]


def currency_of(state: WebState, store: Store) -> str:
    """The reporting currency: ``[value]``'s, else the one currency of the data."""
    from keepwise.value.profitability import reporting_currency

    return reporting_currency(store, state.config)


def pager(request: Request, page: Page, total: int) -> dict[str, Any]:
    """The ``pagination`` of a page's table of ``total`` rows (links to the next and previous pages)."""
    return page.info({"rows": total}, request.url.path, dict(request.query_params))


def fragment(fig: Any, div_id: str) -> str:
    """A Plotly figure as a ``div`` drawn by the page's ``/static/plotly.min.js``."""
    from keepwise.report.figures import fragment as drawn

    return drawn(fig, div_id)


def derived(state: WebState, key: tuple[str, ...], doc: dict[str, Any], make: Any, stamp: Any = None) -> Any:
    """``make(doc)``, made once per stored document ``doc`` (kept with it) and reused while it is current.

    ``stamp`` names the document's version when ``doc`` is read afresh per request (a page of it,
    :class:`keepwise.web.stored.Cut`); by default the kept document itself is the version.
    """
    kept: tuple[dict[str, Any], Any] = state.documents.get(
        (state.db, *key), id(doc) if stamp is None else stamp, lambda: (doc, make(doc))
    )
    return kept[1]


def data_month(month: str | None) -> str | None:
    """A month from the query string (``YYYY-MM``), checked as the API checks it; ``None`` when not given."""
    return validation.month(month)


def same_origin(request: Request) -> None:
    """Refuse a form POST sent from another site's page (its ``Origin`` names another host).

    With an access token the session cookie is ``SameSite=Lax``, so another site's POST carries no session;
    an app without a token has no cookie, so the browser's ``Origin`` is checked too (the concession form
    and the outreach buttons).
    """
    from urllib.parse import urlsplit

    origin = request.headers.get("origin")
    if origin is None or (origin == "null" and state_of(request).token is not None):
        return
    if urlsplit(origin).netloc != request.headers.get("host", ""):
        raise KeepwiseInputError("this form must be sent from the keepwise dashboard itself")
