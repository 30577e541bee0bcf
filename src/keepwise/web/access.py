"""Who is asking and what they may do: roles, the signed-in user, and the guards routes declare.

Three roles, each reaching what the one below it reaches and more:

- ``rep``: customer pages, the concession advisor, recording outcomes, outreach done/skip;
- ``manager``: everything else a business runs (reviews, profit, win-back campaigns, experiments, outbox,
  activity, exports);
- ``admin``: users, tokens and settings as well.

A page route declares ``dependencies=[Depends(page_guard(Role.REP))]``; an API route
``Depends(api_guard(Role.MANAGER))``. A visitor without a session is sent to ``/login`` (pages) or answered
401 (API); a user below the role gets 403. A request signed in by its session cookie that may change
something must carry the session's CSRF token (:func:`keepwise.web.csrf.check_csrf`); one with a Bearer token
needs none. Each guard says the role it needs (``guard.role``), so a test can walk every route and know what
each role should reach.

Who a request is: the ``Authorization: Bearer`` header when there is one (an API token of
``keepwise tokens``, or the deprecated shared token as an admin), else the session cookie
(:mod:`keepwise.web.auth`, :mod:`keepwise.store.team`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from keepwise.web.app import SignInRequired, Unauthorized, WebState, state_of
from keepwise.web.auth import COOKIE, bearer, same_token
from keepwise.web.csrf import SAFE_METHODS, check_csrf

__all__ = ["Forbidden", "Guard", "Role", "User", "api_guard", "current_user", "page_guard", "safe_next"]


class Role(StrEnum):
    """A user's role; a higher role reaches everything a lower one does."""

    REP = "rep"
    MANAGER = "manager"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for a rep, 1 for a manager, 2 for an admin."""
        return list(Role).index(self)

    def reaches(self, needed: Role) -> bool:
        """Whether this role may do what ``needed`` may."""
        return self.rank >= needed.rank


@dataclass(frozen=True)
class User:
    """The person (or machine token) behind a request.

    ``via`` says how they signed in: ``session`` (the dashboard's form), ``token`` (an API token of
    ``keepwise tokens``, named ``token:NAME``) or ``shared`` (the deprecated ``KEEPWISE_WEB_TOKEN``).
    """

    name: str
    role: Role
    via: Literal["session", "token", "shared"] = "session"


class Forbidden(Exception):
    """A signed-in user asked for what their role does not reach: HTTP 403."""


def _token_user(state: WebState, given: str) -> User | None:
    from keepwise.store import team

    with state.store() as store:
        info = team.token_info(store, given)
    return None if info is None else User(f"token:{info.name}", Role(info.role), via="token")


def _session_user(state: WebState, cookie: str) -> User | None:
    """The session's user; activity slides the session's end (:func:`keepwise.store.sessions.extend_session`).

    The end is checked on the read-only connection; when it is due to move, a read-write connection moves it
    if the store is free at once (else the next check does: a busy store never delays the page).
    """
    from keepwise.store import sessions, team
    from keepwise.store.connection import StoreBusy

    hours = state.config.web.session_hours
    with state.store() as store:
        member = team.session_member(store, cookie)
        due = member is not None and sessions.session_renewal(store, cookie, hours) is not None
    if member is None:
        return None
    if due:
        try:
            with state.access.open(write=True, wait=0) as store:
                sessions.extend_session(store, cookie, hours)
        except StoreBusy:
            pass
    return User(member.name, Role(member.role))


def _resolve(request: Request) -> tuple[User | None, str | None]:
    """The request's user and, when a session cookie signed them in, the cookie's value (once per request)."""
    known: tuple[User | None, str | None] | None = getattr(request.state, "who", None)
    if known is not None:
        return known
    state = state_of(request)
    found: tuple[User | None, str | None] = (None, None)
    if "authorization" in request.headers:  # the header alone decides: a wrong token is not overridden
        given = bearer(request)
        if given and state.token is not None and same_token(given, state.token):
            found = (User("token", Role.ADMIN, via="shared"), None)
        elif given:
            found = (state.recent.get("bearer:" + given, lambda: _token_user(state, given)), None)
    else:
        cookie = request.cookies.get(COOKIE)
        if cookie and state.sessions is not None and state.sessions.valid(cookie):
            found = (User("token", Role.ADMIN, via="shared"), cookie)
        elif cookie:
            user = state.recent.get("session:" + cookie, lambda: _session_user(state, cookie))
            found = (user, cookie if user is not None else None)
    request.state.who = found
    return found


def current_user(request: Request) -> User | None:
    """The user the request's Bearer token or session cookie names, or ``None``."""
    return _resolve(request)[0]


class Guard:
    """A route's dependency: the signed-in user of at least :attr:`role` (pages or API answers otherwise)."""

    def __init__(self, role: Role, api: bool):
        self.role = role
        self.api = api

    def __repr__(self) -> str:
        return f"{'api' if self.api else 'page'}_guard(Role.{self.role.name})"

    async def __call__(self, request: Request) -> User:
        """The user; else to /login or 401, 403 for a role too low or a form without its CSRF token."""
        user = await run_in_threadpool(current_user, request)
        who: tuple[User | None, str | None] | None = getattr(request.state, "who", None)
        session = who[1] if who is not None and who[0] is user else None  # the cookie that signed them in
        if user is None:
            if not self.api:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                raise SignInRequired(target)
            if bearer(request) is None:
                raise Unauthorized(
                    "send an API token as 'Authorization: Bearer <token>' (keepwise tokens create)"
                )
            raise Unauthorized("the access token is not valid")
        if not user.role.reaches(self.role):
            if self.api:
                raise Forbidden(
                    f"this needs a {self.role.value} or above; the token is a {user.role.value}'s"
                )
            raise Forbidden(
                f"this page is for a {self.role.value} or above; you are signed in as a {user.role.value}"
            )
        if session is not None and request.method.upper() not in SAFE_METHODS:
            await check_csrf(request, session)
        request.state.user = user
        request.state.session = session
        return user


def page_guard(role: Role) -> Guard:
    """A dependency for pages: the signed-in user of at least ``role``; else to /login, or 403."""
    return Guard(role, api=False)


def api_guard(role: Role) -> Guard:
    """A dependency for the API: the caller of at least ``role``; else 401, or 403."""
    return Guard(role, api=True)


def safe_next(value: str | None) -> str:
    """Only a path on this site (never ``//host`` or ``https://...``) is followed after signing in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
