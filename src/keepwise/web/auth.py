"""Access to the dashboard and the API: one token, a Bearer header for the API, a signed cookie for pages.

The token comes from the environment variable ``KEEPWISE_WEB_TOKEN`` or ``keepwise.toml`` ``[web] token``.
Comparisons are constant-time (:func:`hmac.compare_digest`). A dashboard sign-in is a cookie signed with
itsdangerous under a key derived from the token, so changing the token signs everyone out. Without a token
the app is open, which ``keepwise serve`` allows only on a loopback address.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os

from itsdangerous import BadSignature, URLSafeTimedSerializer

from keepwise.config import Config
from keepwise.exceptions import KeepwiseInputError

__all__ = ["COOKIE", "TOKEN_ENV", "Sessions", "is_loopback", "resolve_token", "same_token"]

#: Environment variable holding the access token (wins over keepwise.toml [web] token).
TOKEN_ENV = "KEEPWISE_WEB_TOKEN"
#: Name of the session cookie.
COOKIE = "keepwise_session"
MIN_LENGTH = 16


def resolve_token(config: Config) -> str | None:
    """The access token (environment first, then keepwise.toml); ``None`` when neither sets one."""
    token = os.environ.get(TOKEN_ENV) or config.web.token
    if not token:
        return None
    if len(token) < MIN_LENGTH:
        raise KeepwiseInputError(
            f"the web token ({TOKEN_ENV} or [web] token) must be at least {MIN_LENGTH} characters long"
        )
    return token


def same_token(given: str | None, token: str) -> bool:
    """Whether ``given`` is the token, compared in constant time."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class Sessions:
    """Signed, expiring dashboard sessions for one token."""

    def __init__(self, token: str, hours: int):
        key = hmac.new(token.encode("utf-8"), b"keepwise.web.session", hashlib.sha256).hexdigest()
        self._serializer = URLSafeTimedSerializer(key, salt="keepwise.web.session")
        self.max_age = int(hours) * 3600

    def issue(self) -> str:
        """A new session cookie value."""
        return str(self._serializer.dumps({"signed_in": True}))

    def valid(self, value: str | None) -> bool:
        """Whether ``value`` is a session this app issued that has not expired."""
        if not value:
            return False
        try:
            data = self._serializer.loads(value, max_age=self.max_age)
        except BadSignature:  # also SignatureExpired
            return False
        return isinstance(data, dict) and data.get("signed_in") is True
