"""The outbox: every message, once, with its status; and the store lock that keeps runs from overlapping.

Each message has an idempotency key ``customer:kind:cause`` and an id derived from it
(:func:`keepwise.messages.compose.message_id_for`); queueing the same key twice changes nothing, so a flow
that runs every few minutes never queues a message twice. The exact MIME text is fixed when the message is
queued (table ``message_bodies``), so a retry or a restart sends the same bytes with the same Message-ID.

Statuses: ``queued`` (waiting), ``sending`` (the body is with the server and the final dot is about to be
written: the point of no return, see :mod:`keepwise.messages.send`), ``sent``, ``failed``, ``suppressed``
(not allowed at send time, or the address bounced), ``held_out`` (in a flow's holdout group; never sent).
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from keepwise.exceptions import KeepwiseError
from keepwise.messages.compose import Composed, message_id_for
from keepwise.store import locks
from keepwise.store import outbox as table
from keepwise.store.store import Store, as_store

__all__ = [
    "STATUSES",
    "LockBusy",
    "OutboxRow",
    "StoreLock",
    "enqueue",
    "enqueue_batch",
    "ensure_columns",
    "known_keys",
    "queued",
    "record_held_out",
    "report",
    "run_report",
    "set_status",
    "set_statuses",
    "store_lock",
]

STATUSES = ("queued", "sending", "sent", "failed", "suppressed", "held_out")


class LockBusy(KeepwiseError):
    """Another run holds the store lock; this one did nothing."""


@dataclass(frozen=True)
class OutboxRow:
    """One message as the sender reads it from the outbox."""

    message_id: str
    customer_id: str
    kind: str
    cause: str
    recipient: str
    attempts: int
    mime: str


def ensure_columns(store: Store) -> None:
    """Add outbox columns a store created by an older keepwise lacks (``CREATE TABLE`` never alters).

    A store without transactions (Spark) is refused here: the outbox cannot send exactly once there.
    """
    table.add_missing_columns(as_store(store))


def known_keys(store: Store) -> set[str]:
    """Every idempotency key in the outbox (none when the store has no outbox table)."""
    store = as_store(store)
    if not store.has_table("outbox"):
        return set()
    return {str(k) for k in store.read("outbox", columns=["idempotency_key"])["idempotency_key"]}


def enqueue(store: Store, message: Composed, mime: str, *, at: datetime | None = None) -> bool:
    """Queue ``message`` with its MIME text unless its idempotency key is already in the outbox.

    The outbox row and the MIME text land in one transaction.

    Returns
    -------
    bool
        True if it was queued now, False if the key was already there (nothing changed).
    """
    return table.insert_queued(as_store(store), _queued_row(message, at or datetime.now(UTC)), mime)


def _queued_row(message: Composed, at: datetime) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "idempotency_key": message.idempotency_key,
        "customer_id": message.customer_id,
        "template": f"{message.kind}.{message.language}",
        "kind": message.kind,
        "cause": message.cause,
        "recipient": message.recipient,
        "language": message.language,
        "subject": message.subject,
        "queued_at": at,
    }


def enqueue_batch(
    store: Store,
    messages: Sequence[tuple[Composed, str]],
    *,
    held_out: Sequence[tuple[str, str, str]] = (),
    assignments: Sequence[tuple[str, str, str]] = (),
    at: datetime | None = None,
) -> tuple[int, int]:
    """Queue a batch in one transaction: :func:`enqueue`, :func:`record_held_out` and assignments, for many.

    What those do for one message each (and a flow's ``assignments`` row), for a whole batch.

    Parameters
    ----------
    store:
        The store.
    messages:
        ``(message, mime)`` pairs to queue (a key already in the outbox is skipped).
    held_out:
        ``(customer_id, kind, cause)`` of messages held out (recorded ``held_out``, never sent).
    assignments:
        ``(experiment_id, customer_id, arm)``, recorded unless the customer already has an arm there.
    at:
        The moment every row is stamped with (default: now).

    Returns
    -------
    tuple[int, int]
        Messages queued and held-out rows recorded now.
    """
    at = at or datetime.now(UTC)
    held = [
        {"message_id": message_id_for(f"{c}:{k}:{cause}"), "idempotency_key": f"{c}:{k}:{cause}",
         "customer_id": c, "kind": k, "cause": cause, "queued_at": at}
        for c, k, cause in held_out
    ]  # fmt: skip
    arms = [
        {"experiment_id": e, "customer_id": c, "arm": arm, "assigned_at": at} for e, c, arm in assignments
    ]
    return table.insert_batch(
        as_store(store), [(_queued_row(m, at), mime) for m, mime in messages], held, arms
    )


def record_held_out(
    store: Store, customer_id: str, kind: str, cause: str, *, at: datetime | None = None
) -> bool:
    """Record that the message ``customer:kind:cause`` was held out (never sent); False if already known."""
    key = f"{customer_id}:{kind}:{cause}"
    return table.insert_held_out(
        as_store(store),
        message_id=message_id_for(key),
        key=key,
        customer_id=customer_id,
        kind=kind,
        cause=cause,
        at=at or datetime.now(UTC),
    )


def queued(store: Store) -> list[OutboxRow]:
    """Messages waiting to be sent, oldest first."""
    return [OutboxRow(*r) for r in table.queued_rows(as_store(store))]


def set_status(store: Store, message_id: str, status: str, **values: Any) -> None:
    """Set a message's status and any other outbox columns in one committed statement."""
    if status not in STATUSES:
        raise ValueError(status)
    table.set_status(as_store(store), message_id, status, values)


def set_statuses(store: Store, status: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """Set ``status`` and each row's other columns (the same in every row) for a batch, in one statement."""
    if status not in STATUSES:
        raise ValueError(status)
    return table.set_statuses(as_store(store), status, rows)


def report(store: Store) -> dict[str, Any]:
    """Counts by status and by kind, and how many sent messages were never confirmed by the server."""
    store = as_store(store)
    by_status = {s: 0 for s in STATUSES}
    for status, n in table.status_counts(store):
        by_status[status] = n
    by_kind: dict[str, dict[str, int]] = {}
    for kind, status, n in table.kind_status_counts(store):
        by_kind.setdefault(kind, {})[status] = n
    return {
        "by_status": by_status,
        "by_kind": by_kind,
        "sent_unconfirmed": table.unconfirmed_count(store),
        "failed": [
            dict(zip(("message_id", "customer_id", "kind", "error"), r, strict=True))
            for r in table.failed_rows(store)
        ],
    }


def run_report(store: Store) -> dict[str, Any]:
    """The outbox report (:func:`report`) after bringing an older store's outbox up to date."""
    store = as_store(store)
    ensure_columns(store)
    return report(store)


# --------------------------------------------------------------------------------------------- the lock


def _alive(holder: str) -> bool:
    """Whether the process named by ``host:pid:nonce`` may still be running (unknown hosts: yes)."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return True
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class StoreLock:
    """A lease in the ``locks`` table: one holder per name, renewed while work goes on.

    A lease that has expired, or whose holder is a process on this machine that no longer exists (killed),
    is taken over. On DuckDB only one process opens a store file for writing at a time anyway; the lease
    also covers stores that many processes share (and a second connection inside one process).
    """

    def __init__(self, store: Store, name: str, ttl: timedelta):
        self.store = as_store(store)
        self.name = name
        self.ttl = ttl
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockBusy` naming the holder."""
        now = datetime.now(UTC)
        with self.store.transaction():
            row = locks.holder(self.store, self.name)
            if row is not None and row[1] > now and _alive(row[0]):
                raise LockBusy(f"another run ({row[0]}) holds the '{self.name}' lock until {row[1]:%H:%M:%S}")
            locks.take(self.store, self.name, self.holder, now, now + self.ttl)

    def renew(self) -> None:
        """Extend the lease; raise :class:`LockBusy` if another run has taken it over meanwhile."""
        now = datetime.now(UTC)
        if locks.extend(self.store, self.name, self.holder, now + self.ttl) != self.holder:
            raise LockBusy(f"the '{self.name}' lock was taken over; stopping")

    def release(self) -> None:
        """Give the lock back (only if still ours)."""
        locks.drop(self.store, self.name, self.holder)


@contextmanager
def store_lock(store: Store, name: str, ttl: timedelta) -> Iterator[StoreLock]:
    """Hold the store lock ``name`` for the duration of a ``with`` block."""
    lock = StoreLock(store, name, ttl)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
