"""Who is asking and what they may do: roles, the signed-in user, and the guards routes declare.

Three roles, each reaching what the one below it reaches and more:

- ``rep``: customer pages, the concession advisor, recording outcomes, outreach done/skip;
- ``manager``: everything else a business runs (reviews, profit, win-back campaigns, experiments, outbox,
  activity, exports);
- ``admin``: users, tokens and settings as well.

A page route declares ``dependencies=[Depends(page_guard(Role.REP))]``; an API route
``Depends(api_guard(Role.MANAGER))``. A visitor without a session is sent to ``/login`` (pages) or answered
401 (API); a user below the role gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from fastapi import Request

from keepwise.web.app import SignInRequired, Unauthorized, state_of
from keepwise.web.auth import COOKIE, same_token

__all__ = ["Forbidden", "Role", "User", "api_guard", "current_user", "page_guard", "safe_next"]


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
    """The person (or machine token) behind a request."""

    name: str
    role: Role


class Forbidden(Exception):
    """A signed-in user asked for what their role does not reach: HTTP 403."""


def current_user(request: Request) -> User | None:
    """The user the request's session cookie or Bearer token names, or ``None``.

    With the shared access token (``KEEPWISE_WEB_TOKEN``) a valid session or token is the ``admin``; an app
    without a token (loopback only) treats every request as the ``admin``.
    """
    state = state_of(request)
    if state.token is None:
        return User("local", Role.ADMIN)
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and given and same_token(given.strip(), state.token):
        return User("token", Role.ADMIN)
    if state.sessions is not None and state.sessions.valid(request.cookies.get(COOKIE)):
        return User("token", Role.ADMIN)
    return None


def page_guard(role: Role) -> Callable[[Request], User]:
    """A dependency for pages: the signed-in user of at least ``role``; else to /login, or 403."""

    def guard(request: Request) -> User:
        user = current_user(request)
        if user is None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise SignInRequired(target)
        if not user.role.reaches(role):
            raise Forbidden(
                f"this page is for a {role.value} or above; you are signed in as a {user.role.value}"
            )
        request.state.user = user
        return user

    return guard


def api_guard(role: Role) -> Callable[[Request], User]:
    """A dependency for the API: the caller of at least ``role``; else 401, or 403."""

    def guard(request: Request) -> User:
        user = current_user(request)
        if user is None:
            scheme, _, given = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not given:
                raise Unauthorized("send the access token as 'Authorization: Bearer <token>'")
            raise Unauthorized("the access token is not valid")
        if not user.role.reaches(role):
            raise Forbidden(f"this needs a {role.value} or above; the token is a {user.role.value}'s")
        request.state.user = user
        return user

    return guard


def safe_next(value: str | None) -> str:
    """Only a path on this site (never ``//host`` or ``https://...``) is followed after signing in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value
