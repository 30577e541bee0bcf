"""Permission to send: the ``consent`` table is the only source of it, checked at the moment of sending.

Rules (:func:`permission`), per channel (``email``) and purpose:

* an address on the suppression list (hard bounce, complaint, manual) gets nothing, ever;
* marketing kinds (win-back, re-engagement, thanks) need a marketing consent that was granted at or before
  the moment of sending and not revoked by then;
* an adjustment letter is a service message about an incident: it needs no consent while the incident is
  open or for ``service_days`` after it was resolved, and a service consent after that;
* a goodbye needs a service consent; a confirmation goes only to someone with a pending request (double
  opt-in: :func:`request` then :func:`confirm`, which writes the consent row with its proof).

Unsubscribing (:func:`unsubscribe`) revokes at once: the next send checks the table again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from keepwise.exceptions import KeepwiseInputError
from keepwise.messages.compose import MARKETING_KINDS
from keepwise.messages.tokens import verify
from keepwise.store.connection import duckdb_connection

__all__ = [
    "Permission",
    "confirm",
    "consented",
    "has_consent",
    "is_suppressed",
    "permission",
    "request",
    "suppress",
    "unsubscribe",
]

SUPPRESSION_REASONS = ("hard_bounce", "complaint", "manual")


@dataclass(frozen=True)
class Permission:
    """Whether a message may go out now, and why (or why not) in words."""

    allowed: bool
    reason: str


def _con(backend: Any) -> Any:
    return duckdb_connection(backend)


def _now(at: datetime | None) -> datetime:
    return at if at is not None else datetime.now(UTC)


def has_consent(backend: Any, customer_id: str, purpose: str, at: datetime, channel: str = "email") -> bool:
    """Whether a ``consent`` row for ``channel`` and ``purpose`` is in force at ``at``."""
    row = (
        _con(backend)
        .execute(
            "SELECT count(*) FROM consent WHERE customer_id = ? AND channel = ? AND purpose = ? "
            "AND granted_at <= ? AND (revoked_at IS NULL OR revoked_at > ?)",
            [customer_id, channel, purpose, at, at],
        )
        .fetchone()
    )
    return bool(row and row[0])


def consented(
    backend: Any, customer_ids: Iterable[str], purpose: str, at: datetime, channel: str = "email"
) -> set[str]:
    """Those of ``customer_ids`` with a ``consent`` row for ``channel`` and ``purpose`` in force at ``at``.

    The same rule as :func:`has_consent`, for many customers in one query.
    """
    ids = sorted({str(c) for c in customer_ids})
    if not ids:
        return set()
    rows = (
        _con(backend)
        .execute(
            "SELECT DISTINCT customer_id FROM consent WHERE customer_id IN (SELECT unnest(?)) "
            "AND channel = ? AND purpose = ? AND granted_at <= ? AND (revoked_at IS NULL OR revoked_at > ?)",
            [ids, channel, purpose, at, at],
        )
        .fetchall()
    )
    return {str(r[0]) for r in rows}


def is_suppressed(backend: Any, address: str) -> bool:
    """Whether ``address`` is on the suppression list."""
    row = (
        _con(backend)
        .execute("SELECT count(*) FROM suppressions WHERE address = ?", [address.strip().lower()])
        .fetchone()
    )
    return bool(row and row[0])


def suppress(
    backend: Any,
    address: str,
    reason: str,
    *,
    customer_id: str | None = None,
    detail: str = "",
    at: datetime | None = None,
) -> None:
    """Put ``address`` on the suppression list (once; a second call changes nothing)."""
    if reason not in SUPPRESSION_REASONS:
        raise KeepwiseInputError(f"suppression reason must be one of {', '.join(SUPPRESSION_REASONS)}")
    con = _con(backend)
    con.execute(
        "INSERT INTO suppressions SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS "
        "(SELECT 1 FROM suppressions WHERE address = ?)",
        [address.strip().lower(), customer_id, reason, _now(at), detail, address.strip().lower()],
    )


def permission(
    backend: Any,
    *,
    customer_id: str,
    recipient: str | None,
    kind: str,
    cause: str,
    at: datetime | None = None,
    service_days: int = 30,
) -> Permission:
    """May a ``kind`` message about ``cause`` go to ``recipient`` now? Checked against the store at ``at``."""
    at = _now(at)
    if not recipient:
        return Permission(False, "no e-mail address")
    if is_suppressed(backend, recipient):
        return Permission(False, f"{recipient} is on the suppression list")
    if kind in MARKETING_KINDS:
        if has_consent(backend, customer_id, "marketing", at):
            return Permission(True, "marketing consent in force")
        return Permission(False, "no marketing consent in force at send time")
    if kind == "confirm":
        row = (
            _con(backend)
            .execute(
                "SELECT count(*) FROM consent_requests WHERE customer_id = ? AND confirmed_at IS NULL",
                [customer_id],
            )
            .fetchone()
        )
        if row and row[0]:
            return Permission(True, "the customer asked to subscribe (double opt-in)")
        return Permission(False, "no pending consent request")
    if kind == "adjustment":
        row = (
            _con(backend)
            .execute(
                "SELECT status, resolved_at FROM incidents WHERE incident_id = ? AND customer_id = ?",
                [cause, customer_id],
            )
            .fetchone()
        )
        if row is not None:
            status, resolved_at = row
            if status == "open" or resolved_at is None:
                return Permission(True, f"service message about open incident {cause}")
            if resolved_at >= at - timedelta(days=service_days):
                return Permission(True, f"service message within {service_days} days of resolving {cause}")
    if has_consent(backend, customer_id, "service", at):
        return Permission(True, "service consent in force")
    return Permission(False, "no service consent in force and no open incident")


def request(
    backend: Any,
    customer_id: str,
    *,
    purpose: str = "marketing",
    channel: str = "email",
    source: str = "keepwise",
    at: datetime | None = None,
) -> datetime:
    """Record that ``customer_id`` asked to be contacted (step one of double opt-in); returns the moment."""
    at = _now(at)
    _con(backend).execute(
        "INSERT INTO consent_requests VALUES (?, ?, ?, ?, ?, NULL)",
        [customer_id, channel, purpose, at, source],
    )
    return at


def confirm(backend: Any, secret: str, token: str, *, max_age: timedelta, at: datetime | None = None) -> str:
    """Step two of double opt-in: a valid confirm token writes the consent row; returns the customer id.

    The consent's ``proof`` is a digest of the token, ``source`` the request's source. A token without a
    pending request, or one already used, changes nothing.
    """
    at = _now(at)
    claims = verify(secret, token, "confirm", max_age=max_age, now=at)
    con = _con(backend)
    row = con.execute(
        "SELECT requested_at, source FROM consent_requests WHERE customer_id = ? AND channel = ? "
        "AND purpose = ? AND confirmed_at IS NULL AND requested_at <= ? ORDER BY requested_at DESC LIMIT 1",
        [claims.customer_id, claims.channel, claims.purpose, at],
    ).fetchone()
    if row is None:
        raise KeepwiseInputError("there is no pending request to confirm (already confirmed, or never asked)")
    proof = "double opt-in " + hashlib.sha256(token.encode()).hexdigest()[:16]
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "INSERT INTO consent VALUES (?, ?, ?, ?, NULL, ?, ?)",
            [claims.customer_id, claims.channel, claims.purpose, at, row[1], proof],
        )
        con.execute(
            "UPDATE consent_requests SET confirmed_at = ? WHERE customer_id = ? AND channel = ? "
            "AND purpose = ? AND confirmed_at IS NULL",
            [at, claims.customer_id, claims.channel, claims.purpose],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return claims.customer_id


def unsubscribe(
    backend: Any,
    secret: str,
    token: str,
    *,
    max_age: timedelta,
    customer_id: str | None = None,
    at: datetime | None = None,
) -> int:
    """Revoke, at once, the consents a valid unsubscribe token names; returns how many were revoked.

    Parameters
    ----------
    backend:
        The store.
    secret, token, max_age:
        The signing secret, the token from the link and how long links last.
    customer_id:
        If the caller knows whose link it is (the URL or the signed-in account), the token must match it.
    at:
        The moment of unsubscribing (default: now).
    """
    at = _now(at)
    claims = verify(secret, token, "unsubscribe", max_age=max_age, customer_id=customer_id, now=at)
    con = _con(backend)
    row = con.execute(
        "SELECT count(*) FROM consent WHERE customer_id = ? AND channel = ? AND purpose = ? "
        "AND (revoked_at IS NULL OR revoked_at > ?)",
        [claims.customer_id, claims.channel, claims.purpose, at],
    ).fetchone()
    con.execute(
        "UPDATE consent SET revoked_at = ? WHERE customer_id = ? AND channel = ? AND purpose = ? "
        "AND (revoked_at IS NULL OR revoked_at > ?)",
        [at, claims.customer_id, claims.channel, claims.purpose, at],
    )
    return int(row[0]) if row else 0
