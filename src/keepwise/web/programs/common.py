"""What the programs' routes share: the routers, the manager's API guard, form fields, who is asking."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request

from keepwise.web import validation
from keepwise.web.access import Role, api_guard, page_guard

__all__ = ["api", "form_fields", "router", "user_name"]

router = APIRouter(dependencies=[Depends(page_guard(Role.MANAGER))])

#: This module's part of the REST API (``/api/v1/...``, JSON, the one error shape): every route is a
#: manager's, and the role is checked first (a rep's token gets 403 before anything about the body).
api = APIRouter(
    prefix="/api/v1",
    dependencies=[Depends(api_guard(Role.MANAGER)), Depends(validation.json_body_required)],
)


async def form_fields(request: Request) -> dict[str, list[str]]:
    """A posted HTML form (``application/x-www-form-urlencoded``) as lists of values by name."""
    return parse_qs((await request.body()).decode("utf-8", "replace"))


def user_name(request: Request) -> str:
    """The signed-in user's name (set by the guard), for the records an action leaves."""
    user = getattr(request.state, "user", None)
    return str(getattr(user, "name", None) or "unknown")
