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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from keepwise.exceptions import KeepwiseError
from keepwise.messages.compose import Composed, message_id_for
from keepwise.store.connection import duckdb_connection
from keepwise.store.schema import SCHEMA

__all__ = [
    "STATUSES",
    "LockBusy",
    "OutboxRow",
    "StoreLock",
    "enqueue",
    "ensure_columns",
    "record_held_out",
    "report",
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


def _con(backend: Any) -> Any:
    return duckdb_connection(backend)


def ensure_columns(backend: Any) -> None:
    """Add outbox columns a store created by an older keepwise lacks (``CREATE TABLE`` never alters)."""
    con = _con(backend)
    have = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'outbox'"
        ).fetchall()
    }
    for col in SCHEMA["outbox"].columns:
        if col.name not in have:
            con.execute(f'ALTER TABLE outbox ADD COLUMN IF NOT EXISTS "{col.name}" {col.sql_type}')


def _transaction(con: Any, statements: list[tuple[str, list[Any]]]) -> list[Any]:
    con.execute("BEGIN TRANSACTION")
    results = []
    try:
        for sql, params in statements:
            results.append(con.execute(sql, params).fetchall())
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return results


def enqueue(backend: Any, message: Composed, mime: str, *, at: datetime | None = None) -> bool:
    """Queue ``message`` with its MIME text unless its idempotency key is already in the outbox.

    Returns
    -------
    bool
        True if it was queued now, False if the key was already there (nothing changed).
    """
    at = at or datetime.now(UTC)
    con = _con(backend)
    key = message.idempotency_key
    if con.execute("SELECT 1 FROM outbox WHERE idempotency_key = ?", [key]).fetchone():
        return False
    _transaction(
        con,
        [
            (
                "INSERT INTO outbox (message_id, idempotency_key, customer_id, template, status, attempts, "
                "kind, cause, recipient, language, subject, queued_at) "
                "VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?)",
                [
                    message.message_id,
                    key,
                    message.customer_id,
                    f"{message.kind}.{message.language}",
                    message.kind,
                    message.cause,
                    message.recipient,
                    message.language,
                    message.subject,
                    at,
                ],
            ),
            ("INSERT INTO message_bodies VALUES (?, ?)", [message.message_id, mime]),
        ],
    )
    return True


def record_held_out(
    backend: Any, customer_id: str, kind: str, cause: str, *, at: datetime | None = None
) -> bool:
    """Record that the message ``customer:kind:cause`` was held out (never sent); False if already known."""
    at = at or datetime.now(UTC)
    con = _con(backend)
    key = f"{customer_id}:{kind}:{cause}"
    if con.execute("SELECT 1 FROM outbox WHERE idempotency_key = ?", [key]).fetchone():
        return False
    con.execute(
        "INSERT INTO outbox (message_id, idempotency_key, customer_id, template, status, attempts, kind, "
        "cause, queued_at, error) VALUES (?, ?, ?, ?, 'held_out', 0, ?, ?, ?, 'in the holdout group')",
        [message_id_for(key), key, customer_id, kind, kind, cause, at],
    )
    return True


def queued(backend: Any) -> list[OutboxRow]:
    """Messages waiting to be sent, oldest first."""
    rows = (
        _con(backend)
        .execute(
            "SELECT o.message_id, o.customer_id, o.kind, o.cause, o.recipient, "
            "CAST(coalesce(o.attempts, 0) AS INTEGER), b.mime FROM outbox o "
            "JOIN message_bodies b USING (message_id) WHERE o.status = 'queued' "
            "ORDER BY o.queued_at, o.message_id"
        )
        .fetchall()
    )
    return [OutboxRow(*r) for r in rows]


def set_status(backend: Any, message_id: str, status: str, **values: Any) -> None:
    """Set a message's status and any other outbox columns in one committed statement."""
    if status not in STATUSES:
        raise ValueError(status)
    cols = ", ".join(f'"{k}" = ?' for k in values)
    sql = "UPDATE outbox SET status = ?" + (f", {cols}" if cols else "") + " WHERE message_id = ?"
    _con(backend).execute(sql, [status, *values.values(), message_id])


def report(backend: Any) -> dict[str, Any]:
    """Counts by status and by kind, and how many sent messages were never confirmed by the server."""
    con = _con(backend)
    by_status = {s: 0 for s in STATUSES}
    for status, n in con.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall():
        by_status[status] = int(n)
    by_kind: dict[str, dict[str, int]] = {}
    for kind, status, n in con.execute(
        "SELECT coalesce(kind, template), status, count(*) FROM outbox GROUP BY ALL ORDER BY ALL"
    ).fetchall():
        by_kind.setdefault(kind, {})[status] = int(n)
    unconfirmed = con.execute(
        "SELECT count(*) FROM outbox WHERE status = 'sent' AND confirmed = false"
    ).fetchone()
    failed = con.execute(
        "SELECT message_id, customer_id, kind, error FROM outbox WHERE status = 'failed' ORDER BY message_id"
    ).fetchall()
    return {
        "by_status": by_status,
        "by_kind": by_kind,
        "sent_unconfirmed": int(unconfirmed[0]) if unconfirmed else 0,
        "failed": [dict(zip(("message_id", "customer_id", "kind", "error"), r, strict=True)) for r in failed],
    }


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

    def __init__(self, backend: Any, name: str, ttl: timedelta):
        self.backend = backend
        self.name = name
        self.ttl = ttl
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    def acquire(self) -> None:
        """Take the lock or raise :class:`LockBusy` naming the holder."""
        con = _con(self.backend)
        now = datetime.now(UTC)
        con.execute("BEGIN TRANSACTION")
        try:
            row = con.execute("SELECT holder, expires_at FROM locks WHERE name = ?", [self.name]).fetchone()
            if row is not None and row[1] > now and _alive(row[0]):
                raise LockBusy(f"another run ({row[0]}) holds the '{self.name}' lock until {row[1]:%H:%M:%S}")
            con.execute("DELETE FROM locks WHERE name = ?", [self.name])
            con.execute(
                "INSERT INTO locks VALUES (?, ?, ?, ?)", [self.name, self.holder, now, now + self.ttl]
            )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def renew(self) -> None:
        """Extend the lease; raise :class:`LockBusy` if another run has taken it over meanwhile."""
        con = _con(self.backend)
        now = datetime.now(UTC)
        con.execute(
            "UPDATE locks SET expires_at = ? WHERE name = ? AND holder = ?",
            [now + self.ttl, self.name, self.holder],
        )
        row = con.execute("SELECT holder FROM locks WHERE name = ?", [self.name]).fetchone()
        if row is None or row[0] != self.holder:
            raise LockBusy(f"the '{self.name}' lock was taken over; stopping")

    def release(self) -> None:
        """Give the lock back (only if still ours)."""
        _con(self.backend).execute(
            "DELETE FROM locks WHERE name = ? AND holder = ?", [self.name, self.holder]
        )


@contextmanager
def store_lock(backend: Any, name: str, ttl: timedelta) -> Iterator[StoreLock]:
    """Hold the store lock ``name`` for the duration of a ``with`` block."""
    lock = StoreLock(backend, name, ttl)
    lock.acquire()
    try:
        yield lock
    finally:
        lock.release()
