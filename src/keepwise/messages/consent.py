"""Permission to send: the consent history is the only source of it, checked at the moment of sending.

Consent is a history (:mod:`keepwise.store.consent_history`): every grant and revocation is an event with
its time and source, and only a grant dated *after* a revocation undoes it. Loads, unsubscribing and double
opt-in add events and never erase one; the ``consent`` table is the standing state derived from them.

Rules (:func:`permission`), per channel (``email``) and purpose:

* an address on the suppression list (hard bounce, complaint, manual) gets nothing, ever;
* marketing kinds (win-back, re-engagement, thanks) need a marketing consent that was granted at or before
  the moment of sending and not revoked by then;
* an adjustment letter is a service message about an incident: it needs no consent while the incident is
  open or for ``service_days`` after it was resolved, and a service consent after that;
* a goodbye needs a service consent; a confirmation goes only to someone with a pending request (double
  opt-in: :func:`request` then :func:`confirm`, which writes the consent row with its proof).

Unsubscribing (:func:`unsubscribe`) adds a revocation at once: the next send checks the history again.
The sender asks :func:`permissions` for a batch of messages at a time (one query per table for the batch),
just before it sends that batch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from keepwise.exceptions import KeepwiseInputError
from keepwise.messages.compose import MARKETING_KINDS
from keepwise.messages.tokens import verify
from keepwise.store import consent as table
from keepwise.store.recipients import incident_rows
from keepwise.store.store import Store, as_store

__all__ = [
    "Asking",
    "Permission",
    "confirm",
    "consented",
    "has_consent",
    "is_suppressed",
    "permission",
    "permissions",
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


def _now(at: datetime | None) -> datetime:
    return at if at is not None else datetime.now(UTC)


def has_consent(store: Store, customer_id: str, purpose: str, at: datetime, channel: str = "email") -> bool:
    """Whether consent for ``channel`` and ``purpose`` is in force at ``at`` (its latest event is a grant)."""
    return table.in_force(as_store(store), customer_id, channel, purpose, at) > 0


def consented(
    store: Store, customer_ids: Iterable[str], purpose: str, at: datetime, channel: str = "email"
) -> set[str]:
    """Those of ``customer_ids`` with a ``consent`` row for ``channel`` and ``purpose`` in force at ``at``.

    The same rule as :func:`has_consent`, for many customers in one query (an Ibis expression, so it runs
    on every engine, Spark included). It reads the ``consent`` table, the standing state derived from the
    events (each grant with the first revocation at or after it), which answers exactly as the events do.
    """
    import ibis

    ids = sorted({str(c) for c in customer_ids})
    if not ids:
        return set()
    store = as_store(store)
    t = store.table("consent")
    wanted = ibis.memtable({"customer_id": ids})
    expr = (
        t.filter(
            t.channel == channel,
            t.purpose == purpose,
            t.granted_at <= at,
            t.revoked_at.isnull() | (t.revoked_at > at),
        )
        .semi_join(wanted, "customer_id")
        .select("customer_id")
        .distinct()
    )
    return {str(c) for c in store.to_pandas(expr)["customer_id"]}


def is_suppressed(store: Store, address: str) -> bool:
    """Whether ``address`` is on the suppression list."""
    return table.is_suppressed(as_store(store), address.strip().lower())


def suppress(
    store: Store,
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
    table.add_suppression(
        as_store(store),
        address.strip().lower(),
        customer_id=customer_id,
        reason=reason,
        at=_now(at),
        detail=detail,
    )


def permission(
    store: Store,
    *,
    customer_id: str,
    recipient: str | None,
    kind: str,
    cause: str,
    at: datetime | None = None,
    service_days: int = 30,
) -> Permission:
    """May a ``kind`` message about ``cause`` go to ``recipient`` now? Checked against the store at ``at``."""
    return permissions(
        store, [Asking(customer_id, recipient, kind, cause)], at=at, service_days=service_days
    )[0]


@dataclass(frozen=True)
class Asking:
    """One message whose permission :func:`permissions` decides: to whom, what kind, about what."""

    customer_id: str
    recipient: str | None
    kind: str
    cause: str


def permissions(
    store: Store, asking: Sequence[Asking], *, at: datetime | None = None, service_days: int = 30
) -> list[Permission]:
    """:func:`permission` for a batch of messages, with one query per table for the whole batch.

    The rules are those of the module docstring, checked at ``at`` (default: now) for every message; the
    answers come in the order of ``asking``.
    """
    store = as_store(store)
    at = _now(at)
    if not asking:
        return []
    addresses = {a.recipient.strip().lower() for a in asking if a.recipient}
    barred = table.suppressed_among(store, addresses) if addresses else set()
    ids = {a.customer_id for a in asking}
    marketing = (
        table.in_force_among(store, ids, "email", "marketing", at)
        if any(a.kind in MARKETING_KINDS for a in asking)
        else set()
    )
    service = (
        table.in_force_among(store, ids, "email", "service", at)
        if any(a.kind not in MARKETING_KINDS and a.kind != "confirm" for a in asking)
        else set()
    )
    pending = table.pending_among(store, {a.customer_id for a in asking if a.kind == "confirm"})
    incidents = incident_rows(store, [a.cause for a in asking if a.kind == "adjustment"])
    return [_decide(a, barred, marketing, service, pending, incidents, at, service_days) for a in asking]


def _decide(
    a: Asking,
    barred: set[str],
    marketing: set[str],
    service: set[str],
    pending: set[str],
    incidents: dict[str, dict[str, Any]],
    at: datetime,
    service_days: int,
) -> Permission:
    if not a.recipient:
        return Permission(False, "no e-mail address")
    if a.recipient.strip().lower() in barred:
        return Permission(False, f"{a.recipient} is on the suppression list")
    if a.kind in MARKETING_KINDS:
        if a.customer_id in marketing:
            return Permission(True, "marketing consent in force")
        return Permission(False, "no marketing consent in force at send time")
    if a.kind == "confirm":
        if a.customer_id in pending:
            return Permission(True, "the customer asked to subscribe (double opt-in)")
        return Permission(False, "no pending consent request")
    if a.kind == "adjustment":
        incident = incidents.get(a.cause)
        if incident is not None and incident["customer_id"] == a.customer_id:
            status, resolved_at = incident["status"], incident["resolved_at"]
            if status == "open" or resolved_at is None:
                return Permission(True, f"service message about open incident {a.cause}")
            if resolved_at >= at - timedelta(days=service_days):
                return Permission(True, f"service message within {service_days} days of resolving {a.cause}")
    if a.customer_id in service:
        return Permission(True, "service consent in force")
    return Permission(False, "no service consent in force and no open incident")


def request(
    store: Store,
    customer_id: str,
    *,
    purpose: str = "marketing",
    channel: str = "email",
    source: str = "keepwise",
    at: datetime | None = None,
) -> datetime:
    """Record that ``customer_id`` asked to be contacted (step one of double opt-in); returns the moment."""
    at = _now(at)
    table.add_request(as_store(store), customer_id, channel=channel, purpose=purpose, at=at, source=source)
    return at


def confirm(store: Store, secret: str, token: str, *, max_age: timedelta, at: datetime | None = None) -> str:
    """Step two of double opt-in: a valid confirm token adds a grant; returns the customer id.

    The consent's ``proof`` is a digest of the token, ``source`` the request's source. A token without a
    pending request, or one already used, changes nothing.
    """
    store = as_store(store)
    at = _now(at)
    claims = verify(secret, token, "confirm", max_age=max_age, now=at)
    row = table.latest_pending_request(store, claims.customer_id, claims.channel, claims.purpose, at)
    if row is None:
        raise KeepwiseInputError("there is no pending request to confirm (already confirmed, or never asked)")
    proof = "double opt-in " + hashlib.sha256(token.encode()).hexdigest()[:16]
    table.grant_confirmed(
        store, claims.customer_id, claims.channel, claims.purpose, at=at, source=row[1], proof=proof
    )
    return claims.customer_id


def unsubscribe(
    store: Store,
    secret: str,
    token: str,
    *,
    max_age: timedelta,
    customer_id: str | None = None,
    at: datetime | None = None,
) -> int:
    """Revoke, at once, the consent a valid unsubscribe token names; returns how many grants were in force.

    The revocation is an event (source ``unsubscribe link``, proof a digest of the token); reloading a
    consent file later cannot undo it, only a grant dated after it can.

    Parameters
    ----------
    store:
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
    proof = "unsubscribe " + hashlib.sha256(token.encode()).hexdigest()[:16]
    return table.revoke(as_store(store), claims.customer_id, claims.channel, claims.purpose, at, proof=proof)
