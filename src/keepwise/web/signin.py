"""Signing in and out of the dashboard, and ``GET /health``: the routes open without a login.

The form takes a user's name and password (``keepwise users add``); a right pair starts a session
(:mod:`keepwise.web.auth`), a wrong one answers 401 and counts against the address and the name
(:mod:`keepwise.web.ratelimit`). Signing in, signing out and every failed sign-in are written to the audit
trail. Where the deprecated shared token (``KEEPWISE_WEB_TOKEN``) is set, the form also takes it, signing in
as the admin ``token``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from keepwise.store.sessions import SESSION_CAP_HOURS
from keepwise.web.access import Role, User, current_user, safe_next
from keepwise.web.app import WebState, _version, json_response, render, state_of
from keepwise.web.auth import COOKIE, clear_session_cookie, same_token, set_session_cookie
from keepwise.web.csrf import check_csrf

__all__ = ["public"]

public = APIRouter()


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


def _form(request: Request, status_code: int = 200, **context: Any) -> Response:
    state = state_of(request)
    return render(
        request, "login.html.j2", status_code=status_code, public=True, shared_token=state.token is not None,
        **{"error": None, "name": "", **context},
    )  # fmt: skip


@public.get("/health")
def health() -> Response:
    """Whether the server is up (the one API route open without a login): ``{"status": "ok", ...}``."""
    return json_response({"status": "ok", "version": _version()})


@public.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form: name and password."""
    return _form(request, next=safe_next(next))


def _sign_in(state: WebState, name: str, password: str, address: str) -> tuple[User | None, str | None]:
    """Check the pair; on success open a session. Either way, write it to the audit trail."""
    from keepwise.store import team

    with state.store(write=True) as store:
        member = team.check_password(store, name, password)
        if member is None:
            team.record(store, user=name[:64] or "?", action="sign-in", status="failed", address=address)
            return None, None
        session = team.open_session(store, member.name, state.config.web.session_hours)
        team.record(store, user=member.name, role=member.role, action="sign-in", address=address)
    return User(member.name, Role(member.role)), session


@public.post("/login")
async def login(request: Request) -> Response:
    """Check the name and password; on success set the session cookie and go on to ``next``."""
    state = state_of(request)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    target = safe_next((form.get("next") or ["/"])[0])
    name = (form.get("name") or [""])[0].strip()
    password = (form.get("password") or [""])[0]
    token = (form.get("token") or [""])[0].strip()
    address = _address(request)
    if token and not name:  # the deprecated shared token
        if state.token is None or state.sessions is None or not same_token(token, state.token):
            await run_in_threadpool(
                state.audit, user="token", action="sign-in", status="failed", address=address
            )
            return _form(request, 401, next=target, error="That token is not valid.")
        response = RedirectResponse(target, status_code=303)
        set_session_cookie(response, request, state.sessions.issue(), state.sessions.max_age)
        await run_in_threadpool(
            state.audit, user="token", action="sign-in", summary="shared token", address=address
        )
        return response
    key = name.lower()
    wait = state.names.wait(key)
    if wait:
        refused = _form(request, 429, next=target, name=name,
                        error=f"Too many wrong passwords for {name}; try again in {wait} s.")  # fmt: skip
        refused.headers["Retry-After"] = str(wait)
        return refused
    user, session = await run_in_threadpool(_sign_in, state, name, password, address)
    if user is None or session is None:
        state.names.fail(key)
        return _form(request, 401, next=target, name=name, error="That name and password do not match.")
    if target == "/" and not user.role.reaches(Role.MANAGER):
        target = "/outreach"  # a rep's first page (the overview is a manager's)
    response = RedirectResponse(target, status_code=303)
    # the browser keeps the cookie up to the session's cap; the store's end slides with activity
    set_session_cookie(response, request, session, int(SESSION_CAP_HOURS * 3600))
    return response


def _sign_out(state: WebState, user: User, session: str, address: str) -> None:
    from keepwise.store import team

    with state.store(write=True) as store:
        team.close_session(store, session)
        team.record(store, user=user.name, role=user.role.value, action="sign-out", address=address)


@public.post("/logout")
async def logout(request: Request) -> Response:
    """Sign out: end the session in the store and forget the cookie."""
    state = state_of(request)
    user = await run_in_threadpool(current_user, request)
    session = request.cookies.get(COOKIE)
    if user is not None and session and "authorization" not in request.headers:
        await check_csrf(request, session)
        state.recent.forget("session:" + session)
        await run_in_threadpool(_sign_out, state, user, session, _address(request))
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response)
    return response
