"""Statements on ``consent``, ``consent_requests`` and ``suppressions`` (permission to send).

Consent itself is a history of events (:mod:`keepwise.store.consent_history`): a grant or a revocation
adds an event and re-derives the ``consent`` rows; nothing edits a consent in place.

The rules of permission live in :mod:`keepwise.messages.consent`; these are the reads and writes it makes,
one statement each (or one transaction where a consent and its request change together). The sender reads
them once per batch of messages (``*_among``: one statement for the whole batch), so they are plain SQL rather
than Ibis expressions compiled per call.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from keepwise.store import consent_history as history
from keepwise.store.outbox import require_transactions
from keepwise.store.recipients import in_list, present_among
from keepwise.store.store import Store

__all__ = [
    "add_request",
    "add_suppression",
    "grant_confirmed",
    "in_force",
    "in_force_among",
    "is_suppressed",
    "latest_pending_request",
    "pending_among",
    "pending_requests",
    "revoke",
    "suppressed_among",
]


def _writable(store: Store) -> None:
    require_transactions(store, "changing consent", "to change its rows in place", "")


def in_force(store: Store, customer_id: str, channel: str, purpose: str, at: datetime) -> int:
    """1 when a consent for ``channel`` and ``purpose`` is in force at ``at`` by its history, else 0.

    Answered from the events (:func:`keepwise.store.consent_history.in_force`): the latest grant or
    revocation at or before ``at`` decides.
    """
    return int(history.in_force(store, customer_id, channel, purpose, at))


def in_force_among(
    store: Store, customer_ids: Iterable[str], channel: str, purpose: str, at: datetime
) -> set[str]:
    """Those of ``customer_ids`` with consent for ``channel`` and ``purpose`` in force at ``at`` (a batch)."""
    return history.in_force_among(store, customer_ids, channel, purpose, at)


def suppressed_among(store: Store, addresses: Iterable[str]) -> set[str]:
    """Those of ``addresses`` (already lower case) on the suppression list, in one statement per chunk."""
    return present_among(store, "suppressions", "address", addresses)


def pending_among(store: Store, customer_ids: Iterable[str]) -> set[str]:
    """Those of ``customer_ids`` with a consent request not yet confirmed (a batch)."""
    out: set[str] = set()
    for chunk in in_list(customer_ids):
        marks = ", ".join("?" for _ in chunk)
        rows = store.sql(
            "SELECT DISTINCT customer_id FROM consent_requests WHERE confirmed_at IS NULL "
            f"AND customer_id IN ({marks})",
            chunk,
        )
        out.update(str(r[0]) for r in rows)
    return out


def is_suppressed(store: Store, address: str) -> bool:
    """Whether ``address`` (already lower case) is on the suppression list."""
    rows = store.sql("SELECT count(*) FROM suppressions WHERE address = ?", [address])
    return bool(rows and rows[0][0])


def add_suppression(
    store: Store, address: str, *, customer_id: str | None, reason: str, at: datetime, detail: str
) -> None:
    """Put ``address`` on the suppression list unless it is there already (one statement)."""
    _writable(store)
    store.sql(
        f"INSERT INTO suppressions (address, customer_id, reason, {store.quote('at')}, detail) "
        "SELECT ?, ?, ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM suppressions WHERE address = ?)",
        [address, customer_id, reason, at, detail, address],
    )


def pending_requests(store: Store, customer_id: str) -> int:
    """Consent requests of ``customer_id`` not yet confirmed."""
    rows = store.sql(
        "SELECT count(*) FROM consent_requests WHERE customer_id = ? AND confirmed_at IS NULL", [customer_id]
    )
    return int(rows[0][0]) if rows else 0


def add_request(
    store: Store, customer_id: str, *, channel: str, purpose: str, at: datetime, source: str
) -> None:
    """Record a consent request (double opt-in, step one)."""
    _writable(store)
    store.sql(
        "INSERT INTO consent_requests (customer_id, channel, purpose, requested_at, source, confirmed_at) "
        "VALUES (?, ?, ?, ?, ?, NULL)",
        [customer_id, channel, purpose, at, source],
    )


def latest_pending_request(
    store: Store, customer_id: str, channel: str, purpose: str, at: datetime
) -> tuple[Any, Any] | None:
    """``(requested_at, source)`` of the newest unconfirmed request made by ``at``, or ``None``."""
    rows = store.sql(
        "SELECT requested_at, source FROM consent_requests WHERE customer_id = ? AND channel = ? "
        "AND purpose = ? AND confirmed_at IS NULL AND requested_at <= ? ORDER BY requested_at DESC LIMIT 1",
        [customer_id, channel, purpose, at],
    )
    return (rows[0][0], rows[0][1]) if rows else None


def grant_confirmed(
    store: Store, customer_id: str, channel: str, purpose: str, *, at: datetime, source: Any, proof: str
) -> None:
    """Add the grant a confirmed request gives and mark the requests confirmed, in one transaction."""
    _writable(store)
    with store.transaction():
        history.add_event(store, customer_id, channel, purpose, "grant", at=at, source=source, proof=proof)
        store.sql(
            "UPDATE consent_requests SET confirmed_at = ? WHERE customer_id = ? AND channel = ? "
            "AND purpose = ? AND confirmed_at IS NULL",
            [at, customer_id, channel, purpose],
        )


def revoke(
    store: Store,
    customer_id: str,
    channel: str,
    purpose: str,
    at: datetime,
    *,
    source: str = "unsubscribe link",
    proof: str | None = None,
) -> int:
    """Add a revocation at ``at``; returns how many consents were in force then (and are revoked now).

    The revocation is recorded even when nothing was in force: it still outranks any grant dated before it
    that a later load may bring.
    """
    _writable(store)
    with store.transaction():
        history.ensure_events(store)
        n = history.in_force_rows(store, customer_id, channel, purpose, at)
        history.add_event(store, customer_id, channel, purpose, "revoke", at=at, source=source, proof=proof)
    return n
