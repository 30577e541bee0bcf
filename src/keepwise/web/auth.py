"""Access to the dashboard and the API: one token, a Bearer header for the API, a signed cookie for pages.

The token comes from the environment variable ``KEEPWISE_WEB_TOKEN`` or ``keepwise.toml`` ``[web] token``.
Comparisons are constant-time (:func:`hmac.compare_digest`). A dashboard sign-in is a cookie signed with
itsdangerous under a key derived from the token, so changing the token signs everyone out. Without a token
the app is open, which ``keepwise serve`` allows only on a loopback address.
"""

from __future__ import annotations

import hashlib
import hmac

from itsdangerous import BadSignature, URLSafeTimedSerializer

from keepwise.config.web import TOKEN_ENV, is_loopback, resolve_token

__all__ = ["COOKIE", "TOKEN_ENV", "Sessions", "is_loopback", "resolve_token", "same_token"]

#: Name of the session cookie.
COOKIE = "keepwise_session"


def same_token(given: str | None, token: str) -> bool:
    """Whether ``given`` is the token, compared in constant time."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


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
