"""Signed, expiring, customer-bound tokens for confirm and unsubscribe links (itsdangerous).

A token carries the customer id, the action, the channel and the purpose, signed with HMAC-SHA1 (the
itsdangerous default) under the store's signing secret (:func:`keepwise.store.secret.signing_secret`: the
environment variable ``[messages] secret_env`` names when it is set, else one kept beside or in the store),
with a different salt per action so that a confirm token is never accepted as an unsubscribe token or the
other way round. Nobody without the secret can make or alter one; a token names one customer and acts on that
customer only; an old one is refused with the day it expired.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from keepwise.exceptions import KeepwiseInputError

__all__ = ["Action", "TokenClaims", "issue", "secret_from_env", "verify"]

Action = Literal["confirm", "unsubscribe"]


@dataclass(frozen=True)
class TokenClaims:
    """What a verified token says: who, what for, and when it was issued."""

    customer_id: str
    action: str
    channel: str
    purpose: str
    issued_at: datetime


def secret_from_env(variable: str) -> str:
    """The signing secret from the environment; a missing or short one is an error that says what to set."""
    secret = os.environ.get(variable, "")
    if len(secret) < 16:
        raise KeepwiseInputError(
            f"set the environment variable {variable} to a random secret of at least 16 characters "
            "(it signs confirm and unsubscribe links; keep it out of the repository)"
        )
    return secret


def _serializer(secret: str, action: str, clock: datetime | None = None) -> URLSafeTimedSerializer:
    """A serializer for ``action`` whose clock reads ``clock`` (default: the real time)."""

    class _Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(clock.timestamp()) if clock is not None else int(time.time())

    return URLSafeTimedSerializer(secret, salt=f"keepwise.{action}", signer=_Signer)


def issue(
    secret: str,
    customer_id: str,
    action: Action,
    *,
    channel: str = "email",
    purpose: str = "marketing",
    at: datetime | None = None,
) -> str:
    """A signed token for ``action`` on ``customer_id``'s consent for ``channel`` and ``purpose``.

    Parameters
    ----------
    secret:
        The signing secret (:func:`secret_from_env`).
    customer_id:
        The one customer the token acts on.
    action:
        ``confirm`` (double opt-in) or ``unsubscribe``.
    channel, purpose:
        The consent it is about.
    at:
        When it is issued (default: now); its age is counted from this moment.
    """
    payload = {"c": customer_id, "a": action, "ch": channel, "p": purpose}
    return str(_serializer(secret, action, at).dumps(payload))


def verify(
    secret: str,
    token: str,
    action: Action,
    *,
    max_age: timedelta,
    customer_id: str | None = None,
    now: datetime | None = None,
) -> TokenClaims:
    """Check a token and return what it says; anything wrong raises ``KeepwiseInputError`` saying what.

    Parameters
    ----------
    secret:
        The signing secret.
    token:
        The token from the link.
    action:
        The action the caller is about to perform; a token for another action is refused.
    max_age:
        How long a token stays valid.
    customer_id:
        If given (e.g. from the link or the signed-in account), the token must name this customer.
    now:
        The moment of checking (default: now).
    """
    serializer = _serializer(secret, action, now)
    try:
        payload, stamp = serializer.loads(token, max_age=int(max_age.total_seconds()), return_timestamp=True)
    except SignatureExpired as exc:
        issued = exc.date_signed or datetime.fromtimestamp(time.time(), UTC)
        expired = (issued + max_age).date().isoformat()
        raise KeepwiseInputError(
            f"this {action} link expired on {expired}; ask for a new one (links last {max_age.days} days)"
        ) from None
    except BadSignature:
        raise KeepwiseInputError(f"this {action} link is not valid: it was not issued by keepwise") from None
    if not isinstance(payload, dict) or payload.get("a") != action:
        raise KeepwiseInputError(f"this link is not a {action} link")
    if customer_id is not None and payload.get("c") != customer_id:
        raise KeepwiseInputError(f"this {action} link belongs to another customer")
    return TokenClaims(
        customer_id=str(payload["c"]),
        action=action,
        channel=str(payload.get("ch", "email")),
        purpose=str(payload.get("p", "marketing")),
        issued_at=stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC),
    )
