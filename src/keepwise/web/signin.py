"""Signing in and out of the dashboard (the login page is one of the two routes open without a login)."""

from __future__ import annotations

from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from keepwise.web.access import safe_next
from keepwise.web.app import render, state_of
from keepwise.web.auth import COOKIE, same_token

__all__ = ["public"]

public = APIRouter()


@public.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in form (only the access token)."""
    if state_of(request).token is None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html.j2", public=True, next=safe_next(next), error=None)


@public.post("/login")
async def login(request: Request) -> Response:
    """Check the token; on success set the signed session cookie and go on."""
    state = state_of(request)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    target = safe_next((form.get("next") or ["/"])[0])
    if state.token is None or state.sessions is None:
        return RedirectResponse(target, status_code=303)
    given = (form.get("token") or [""])[0].strip()
    if not same_token(given, state.token):
        return render(
            request,
            "login.html.j2",
            status_code=401,
            public=True,
            next=target,
            error="That token is not valid.",
        )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        state.sessions.issue(),
        max_age=state.sessions.max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response


@public.post("/logout")
def logout() -> Response:
    """Sign out: forget the session cookie."""
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response
