"""The team's pages: users and API tokens (admins), and the activity trail (who did what, when; managers).

The forms do what ``keepwise users`` and ``keepwise tokens`` do, through the same functions
(:mod:`keepwise.store.team`), which write each change to the audit trail with the admin who made it. A new
password or token is shown once, on the page that answers the form, and never stored in clear.
``/api/v1/activity`` is the trail a page at a time; ``/api/v1/users`` and ``/api/v1/tokens`` list the team.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from keepwise.exceptions import BadInput
from keepwise.web import validation
from keepwise.web.access import Role, User, api_guard, page_guard
from keepwise.web.app import WebState, json_response, render, state_of
from keepwise.web.paging import Page, page_of

__all__ = ["api", "router"]

router = APIRouter(dependencies=[Depends(page_guard(Role.MANAGER))])

#: This module's part of the REST API (``/api/v1/...``, JSON, the one error shape).
api = APIRouter(
    prefix="/api/v1", dependencies=[Depends(api_guard(Role.MANAGER)), Depends(validation.json_body_required)]
)

_ADMIN_PAGE = [Depends(page_guard(Role.ADMIN))]
_ADMIN_API = [Depends(api_guard(Role.ADMIN))]


def _events(state: WebState, page: Page, user: str | None) -> tuple[list[dict[str, Any]], int]:
    from keepwise.store import team

    with state.store() as store:
        return team.activity(store, limit=page.size, offset=page.start, user=user)


@router.get("/activity")
def activity_page(
    request: Request, user: str | None = None, page: str | None = None, per_page: str | None = None
) -> Response:
    """The audit trail, newest first: who did what and when (``?user=`` for one person)."""
    chosen = page_of(page, per_page)
    who = validation.identifier(user, "user") if user else None
    events, total = _events(state_of(request), chosen, who)
    pager = chosen.info({"events": total}, request.url.path, dict(request.query_params))
    return render(request, "activity.html.j2", title="Activity", events=events, total=total, pager=pager,
                  who=who)  # fmt: skip


@api.get("/activity")
def activity_api(
    request: Request, user: str | None = None, page: str | None = None, per_page: str | None = None
) -> Response:
    """The audit trail, newest first, a page at a time: ``{"events": [...], "pagination": {...}}``."""
    chosen = page_of(page, per_page)
    who = validation.identifier(user, "user") if user else None
    events, total = _events(state_of(request), chosen, who)
    pagination = chosen.info({"events": total}, request.url.path, dict(request.query_params))
    return json_response({"events": events, "pagination": pagination})


def _team(state: WebState) -> dict[str, Any]:
    from keepwise.store import team

    with state.store() as store:
        return {"users": team.list_users(store), "tokens": team.list_tokens(store)}


@api.get("/users", dependencies=_ADMIN_API)
def users_api(request: Request) -> Response:
    """Every user (``keepwise users list --json``)."""
    return json_response({"users": [m.to_json() for m in _team(state_of(request))["users"]]})


@api.get("/tokens", dependencies=_ADMIN_API)
def tokens_api(request: Request) -> Response:
    """Every API token, revoked ones too, never the token itself (``keepwise tokens list --json``)."""
    return json_response({"tokens": [t.to_json() for t in _team(state_of(request))["tokens"]]})


@router.get("/users", dependencies=_ADMIN_PAGE)
def users_page(request: Request) -> Response:
    """The users, with forms to add one, disable or enable one and give one a new password."""
    return render(
        request, "users.html.j2", title="Users", shown=None, message=None, **_team(state_of(request))
    )


@router.get("/tokens", dependencies=_ADMIN_PAGE)
def tokens_page(request: Request) -> Response:
    """The API tokens, with forms to make one and revoke one."""
    return render(request, "tokens.html.j2", title="API tokens", shown=None, message=None,
                  **_team(state_of(request)))  # fmt: skip


async def _form(request: Request) -> dict[str, str]:
    body = parse_qs((await request.body()).decode("utf-8", "replace"))
    return {k: v[0].strip() for k, v in body.items() if v}


def _change(
    state: WebState, do: str, form: dict[str, str], user: User, address: str
) -> tuple[str, str | None]:
    """Do one change of the Users or Tokens page; the message to show and a secret to show once."""
    from keepwise.store import team

    by = {"by": user.name, "address": address}
    name = form.get("name", "")
    with state.store(write=True) as store:
        if do == "add":
            password = form.get("password") or team.generate_password()
            member = team.add_user(store, name, form.get("role", ""), password, **by)
            shown = None if form.get("password") else password
            return f"Added {member.name} as {member.role}.", shown
        if do == "disable":
            team.disable_user(store, name, **by)
            return f"Disabled {name}; their sessions have ended.", None
        if do == "enable":
            team.enable_user(store, name, **by)
            return f"{name} may sign in again.", None
        if do == "reset":
            password = team.generate_password()
            team.set_password(store, name, password, **by)
            return f"New password for {name}; their sessions have ended.", password
        if do == "create":
            info, secret = team.create_token(store, name, form.get("role", ""), **by)
            return f"Made the token {info.token_id} ({info.name}, {info.role}).", secret
        info = team.revoke_token(store, form.get("token", ""), **by)
        return f"Revoked the token {info.token_id} ({info.name}).", None


async def _apply(request: Request, do: str, template: str, title: str) -> Response:
    state = state_of(request)
    user: User = request.state.user
    form = await _form(request)
    address = request.client.host if request.client else ""
    message, shown = await run_in_threadpool(_change, state, do, form, user, address)
    request.state.audited = True  # the change wrote its own record
    state.recent.forget()  # a disabled user or a new password signs out now
    return render(request, template, title=title, message=message, shown=shown,
                  **await run_in_threadpool(_team, state))  # fmt: skip


@router.post("/users/{action}", dependencies=_ADMIN_PAGE)
async def users_change(request: Request, action: str) -> Response:
    """``add`` (a made password is shown once unless one is given), ``disable``, ``enable``, ``reset``."""
    if action not in ("add", "disable", "enable", "reset"):
        raise BadInput("action", "must be add, disable, enable or reset", action)
    return await _apply(request, action, "users.html.j2", "Users")


@router.post("/tokens/{action}", dependencies=_ADMIN_PAGE)
async def tokens_change(request: Request, action: str) -> Response:
    """``create`` (the token is shown once) or ``revoke``."""
    if action not in ("create", "revoke"):
        raise BadInput("action", "must be create or revoke", action)
    return await _apply(request, action, "tokens.html.j2", "API tokens")
