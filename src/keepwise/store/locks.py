"""The ``locks`` table: leases that keep two runs of a job from overlapping.

One row per lock name: who holds it (``host:pid:nonce``) and until when; on PostgreSQL the read and the
take are serialised across processes by an advisory lock (:func:`holder`). The rules (when a lease may be
taken over, renewed or given back) live with their user, :class:`keepwise.messages.outbox.StoreLock`; these
are the statements, run inside the caller's transaction where a read and a write must not be split.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from keepwise.store.store import Store

__all__ = ["drop", "extend", "holder", "take"]


def holder(store: Store, name: str) -> tuple[str, Any] | None:
    """``(holder, expires_at)`` of lock ``name``, or ``None`` when nobody holds it.

    On PostgreSQL, where several processes share the store, the caller's transaction first takes the
    advisory lock of ``name``: a second process reading the lease waits until the first has taken it (or
    not) and committed, so two processes never both see the lock free. (DuckDB has one writing process.)
    """
    if store.is_postgres:
        from keepwise.store.postgres import advisory_lock

        advisory_lock(store, f"keepwise.locks:{name}")
    rows = store.sql("SELECT holder, expires_at FROM locks WHERE name = ?", [name])
    return (str(rows[0][0]), rows[0][1]) if rows else None


def take(store: Store, name: str, by: str, at: datetime, expires_at: datetime) -> None:
    """Make ``by`` the holder of lock ``name`` from ``at`` to ``expires_at`` (any other lease is dropped)."""
    store.sql("DELETE FROM locks WHERE name = ?", [name])
    store.sql(
        "INSERT INTO locks (name, holder, acquired_at, expires_at) VALUES (?, ?, ?, ?)",
        [name, by, at, expires_at],
    )


def extend(store: Store, name: str, by: str, expires_at: datetime) -> str | None:
    """Move the end of ``by``'s lease of ``name`` to ``expires_at``; returns who holds the lock now."""
    store.sql("UPDATE locks SET expires_at = ? WHERE name = ? AND holder = ?", [expires_at, name, by])
    now = holder(store, name)
    return None if now is None else now[0]


def drop(store: Store, name: str, by: str) -> None:
    """Give lock ``name`` back if ``by`` still holds it."""
    store.sql("DELETE FROM locks WHERE name = ? AND holder = ?", [name, by])
