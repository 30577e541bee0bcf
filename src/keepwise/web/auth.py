"""The credentials a request may carry: a session cookie (pages), a Bearer token (the API), and their checks.

- A **session** is a random 256-bit cookie value whose SHA-256 the store keeps with its user and end
  (:mod:`keepwise.store.team`). A session ends ``[web] session_hours`` after the user's last activity
  (requests slide it, never past a week after signing in: ``keepwise.store.sessions.SESSION_CAP_HOURS``). The
  cookie is ``HttpOnly``, ``SameSite=Lax``, kept by the browser up to that week and is ``Secure`` when the
  request came over HTTPS: directly, or through a reverse proxy that uvicorn trusts to say so in
  ``X-Forwarded-Proto`` (by default one on the same machine, 127.0.0.1; uvicorn's ``FORWARDED_ALLOW_IPS``
  names others).
- An **API token** (``keepwise tokens create``) is sent as ``Authorization: Bearer <token>``; the store keeps
  its SHA-256 and role.
- The **shared access token** of earlier versions (``KEEPWISE_WEB_TOKEN`` or ``[web] token``) still works as
  an admin's API token and in the sign-in form (a cookie signed with itsdangerous under a key derived from
  it); it is deprecated: give each person a user and each script its own token.

What a credential resolves to is kept for :data:`RECHECK_SECONDS` per server process, so a page does not
query the store twice; a user disabled or given a new password with ``keepwise users`` (another process) is
signed out within that time, and at once when the change is made in the dashboard.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from keepwise.config.web import TOKEN_ENV, is_loopback, resolve_token

__all__ = [
    "COOKIE",
    "RECHECK_SECONDS",
    "TOKEN_ENV",
    "Recent",
    "Sessions",
    "bearer",
    "clear_session_cookie",
    "is_loopback",
    "is_secure",
    "resolve_token",
    "same_token",
    "set_session_cookie",
]

#: Name of the session cookie.
COOKIE = "keepwise_session"
#: Seconds what a credential resolved to is trusted before the store is asked again.
RECHECK_SECONDS = 5.0

T = TypeVar("T")


def same_token(given: str | None, token: str) -> bool:
    """Whether ``given`` is the token, compared in constant time."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def bearer(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else ``None``."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    given = given.strip()
    return given if scheme.lower() == "bearer" and given else None


def is_secure(request: Request) -> bool:
    """Whether the request came over HTTPS (uvicorn applies a trusted proxy's ``X-Forwarded-Proto``)."""
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    """Set the session cookie: ``HttpOnly``, ``SameSite=Lax``, ``Secure`` over HTTPS, ``max_age`` seconds."""
    response.set_cookie(
        COOKIE, value, max_age=max_age, httponly=True, samesite="lax", secure=is_secure(request), path="/"
    )


def clear_session_cookie(response: Response) -> None:
    """Forget the session cookie in the browser."""
    response.delete_cookie(COOKIE, path="/")


class Sessions:
    """Sessions signed with the shared access token (deprecated sign-in with ``KEEPWISE_WEB_TOKEN``)."""

    def __init__(self, token: str, hours: int):
        key = hmac.new(token.encode("utf-8"), b"keepwise.web.session", hashlib.sha256).hexdigest()
        self._serializer = URLSafeTimedSerializer(key, salt="keepwise.web.session")
        self.max_age = int(hours) * 3600

    def issue(self) -> str:
        """A new session cookie value."""
        return str(self._serializer.dumps({"signed_in": True}))

    def valid(self, value: str | None) -> bool:
        """Whether ``value`` is a session this app issued that has not expired."""
        if not value or "." not in value:
            return False
        try:
            data = self._serializer.loads(value, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return False
        return isinstance(data, dict) and data.get("signed_in") is True


class Recent(Generic[T]):
    """What each credential resolved to, trusted for ``seconds`` (``None`` results are not kept)."""

    def __init__(self, seconds: float = RECHECK_SECONDS, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[float, T]] = {}

    @staticmethod
    def _key(credential: str) -> str:
        return hashlib.sha256(credential.encode("utf-8")).hexdigest()

    def get(self, credential: str, resolve: Callable[[], T | None]) -> T | None:
        """The kept result for ``credential``, or ``resolve()`` (kept when not ``None``)."""
        key, now = self._key(credential), self.clock()
        with self._lock:
            kept = self._kept.get(key)
            if kept is not None and kept[0] > now:
                return kept[1]
        found = resolve()
        with self._lock:
            if found is None:
                self._kept.pop(key, None)
            else:
                if len(self._kept) > 10_000:
                    self._kept.clear()
                self._kept[key] = (now + self.seconds, found)
        return found

    def forget(self, credential: str | None = None) -> None:
        """Forget ``credential`` (all of them when ``None``): the next request asks the store."""
        with self._lock:
            if credential is None:
                self._kept.clear()
            else:
                self._kept.pop(self._key(credential), None)
