"""The outbox's statements: queueing once, claiming for sending, status changes, and the flows' assignments.

The messages stage (:mod:`keepwise.messages.outbox`, :mod:`keepwise.messages.send`) decides *what* to
write; these functions are *how*: one statement each, or one transaction where several rows must land
together (a message and its MIME text). They run on the hot paths of queueing and sending, so they are plain
SQL statements rather than Ibis expressions compiled per call, and they work a batch at a time:
:func:`insert_batch` queues a batch of messages, holdouts and assignments in one transaction and
:func:`set_statuses` records a batch's outcomes in one statement. Only the claim of each message before its
final dot (:func:`set_status` to ``sending``) is one committed statement per message, as the exactly-once
protocol of :mod:`keepwise.messages.send` needs.

Exactly-once sending rests on transactions (a message and its body land together; the status change to
``sending`` is committed before the final dot is written), so the outbox lives only on engines that have
them: :func:`require_transactions` refuses the others (Spark) with a clear input error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from keepwise.exceptions import KeepwiseInputError
from keepwise.store.schema import SCHEMA
from keepwise.store.store import Store

__all__ = [
    "TRANSACTIONAL_ENGINES",
    "add_missing_columns",
    "assign_once",
    "failed_rows",
    "insert_batch",
    "insert_held_out",
    "insert_queued",
    "kind_status_counts",
    "queued_rows",
    "reconcile_sending",
    "require_transactions",
    "set_status",
    "set_statuses",
    "status_counts",
    "unconfirmed_count",
]

#: Messages per statement of :func:`set_statuses`.
STATUS_BATCH = 500

#: Engines whose transactions the outbox relies on.
TRANSACTIONAL_ENGINES = ("duckdb", "postgres")

_QUEUED_COLUMNS = (
    "message_id",
    "idempotency_key",
    "customer_id",
    "template",
    "status",
    "attempts",
    "kind",
    "cause",
    "recipient",
    "language",
    "subject",
    "queued_at",
)


def require_transactions(
    store: Store,
    what: str = "the outbox",
    why: str = "to send each message exactly once",
    instead: str = ". A dry run of the flows only reads and works here",
) -> None:
    """Refuse a store whose engine has no transactions (Spark): the outbox cannot keep its promise there."""
    if store.kind not in TRANSACTIONAL_ENGINES:
        engine = "Spark" if store.is_spark else (store.kind or "this engine")
        raise KeepwiseInputError(
            f"{what} needs a transactional store (DuckDB or PostgreSQL) {why}; this store runs on {engine}"
            f"{instead}"
        )


def add_missing_columns(store: Store) -> None:
    """Add outbox columns a store created by an older keepwise lacks (``CREATE TABLE`` never alters)."""
    require_transactions(store)
    have = set(store.table("outbox").schema().names)
    for col in SCHEMA["outbox"].columns:
        if col.name not in have:
            store.sql(
                f"ALTER TABLE {store.quote('outbox')} ADD COLUMN IF NOT EXISTS {store.quote(col.name)} "
                f"{col.sql_type}"
            )


def _known(store: Store, key: str) -> bool:
    return bool(store.sql("SELECT 1 FROM outbox WHERE idempotency_key = ?", [key]))


def insert_queued(store: Store, row: Mapping[str, Any], mime: str) -> bool:
    """Queue one message and its MIME text together, unless its idempotency key is already in the outbox.

    ``row`` holds the outbox columns of a queued message (``message_id``, ``idempotency_key``,
    ``customer_id``, ``template``, ``kind``, ``cause``, ``recipient``, ``language``, ``subject``,
    ``queued_at``); status and attempts are set here. Returns False (and changes nothing) for a known key.
    """
    values = {**row, "status": "queued", "attempts": 0}
    columns = ", ".join(_QUEUED_COLUMNS)
    marks = ", ".join("?" for _ in _QUEUED_COLUMNS)
    with store.transaction():
        if _known(store, str(values["idempotency_key"])):
            return False
        store.sql(f"INSERT INTO outbox ({columns}) VALUES ({marks})", [values[c] for c in _QUEUED_COLUMNS])
        store.sql("INSERT INTO message_bodies (message_id, mime) VALUES (?, ?)", [values["message_id"], mime])
    return True


def insert_held_out(
    store: Store, *, message_id: str, key: str, customer_id: str, kind: str, cause: str, at: datetime
) -> bool:
    """Record a held-out message (status ``held_out``, never sent); False if its key is already known."""
    with store.transaction():
        if _known(store, key):
            return False
        store.sql(
            "INSERT INTO outbox (message_id, idempotency_key, customer_id, template, status, attempts, kind, "
            "cause, queued_at, error) VALUES (?, ?, ?, ?, 'held_out', 0, ?, ?, ?, 'in the holdout group')",
            [message_id, key, customer_id, kind, kind, cause, at],
        )
    return True


def _known_among(store: Store, keys: Sequence[str]) -> set[str]:
    from keepwise.store.recipients import present_among

    return present_among(store, "outbox", "idempotency_key", keys)


def insert_batch(
    store: Store,
    queued: Sequence[tuple[Mapping[str, Any], str]],
    held_out: Sequence[Mapping[str, Any]] = (),
    assignments: Sequence[Mapping[str, Any]] = (),
) -> tuple[int, int]:
    """Queue a batch in one transaction: messages with their MIME text, held-out rows, flow assignments.

    ``queued`` holds ``(row, mime)`` pairs (``row`` as for :func:`insert_queued`); ``held_out`` rows have
    ``message_id``, ``idempotency_key``, ``customer_id``, ``kind``, ``cause`` and ``queued_at``;
    ``assignments`` rows ``experiment_id``, ``customer_id``, ``arm`` and ``assigned_at``. A message whose
    idempotency key is already in the outbox (or earlier in the batch) is left out, as is an assignment of
    a customer who already has one in that experiment. Returns ``(queued, held out)`` rows written.
    """
    import pandas as pd

    with store.transaction():
        keys = [str(r["idempotency_key"]) for r, _ in queued] + [str(r["idempotency_key"]) for r in held_out]
        seen = _known_among(store, keys)
        rows: list[dict[str, Any]] = []
        bodies: list[dict[str, Any]] = []
        for row, mime in queued:
            key = str(row["idempotency_key"])
            if key not in seen:
                seen.add(key)
                rows.append(
                    {**{c: row[c] for c in _QUEUED_COLUMNS if c in row}, "status": "queued", "attempts": 0}
                )
                bodies.append({"message_id": row["message_id"], "mime": mime})
        n_queued = len(rows)
        for row in held_out:
            key = str(row["idempotency_key"])
            if key not in seen:
                seen.add(key)
                rows.append(
                    {**row, "template": row["kind"], "status": "held_out", "attempts": 0,
                     "error": "in the holdout group"}
                )  # fmt: skip
        if rows:
            store.append("outbox", pd.DataFrame(rows))
        if bodies:
            store.append("message_bodies", pd.DataFrame(bodies))
        _assign_batch(store, assignments)
    return n_queued, len(rows) - n_queued


def _assign_batch(store: Store, assignments: Sequence[Mapping[str, Any]]) -> None:
    import pandas as pd

    from keepwise.store.recipients import in_list

    wanted: dict[tuple[str, str], Mapping[str, Any]] = {}
    for a in assignments:
        wanted.setdefault((str(a["experiment_id"]), str(a["customer_id"])), a)
    if not wanted:
        return
    for experiment in sorted({e for e, _ in wanted}):
        ids = [c for e, c in wanted if e == experiment]
        for chunk in in_list(ids):
            marks = ", ".join("?" for _ in chunk)
            have = store.sql(
                f"SELECT customer_id FROM assignments WHERE experiment_id = ? AND customer_id IN ({marks})",
                [experiment, *chunk],
            )
            for (cid,) in have:
                wanted.pop((experiment, str(cid)), None)
    if wanted:
        store.append("assignments", pd.DataFrame([dict(a) for a in wanted.values()]))


def queued_rows(store: Store) -> list[tuple[Any, ...]]:
    """Queued messages, oldest first: (message_id, customer_id, kind, cause, recipient, attempts, mime)."""
    return store.sql(
        "SELECT o.message_id, o.customer_id, o.kind, o.cause, o.recipient, "
        "CAST(coalesce(o.attempts, 0) AS INTEGER), b.mime FROM outbox o "
        "JOIN message_bodies b USING (message_id) WHERE o.status = 'queued' "
        "ORDER BY o.queued_at, o.message_id"
    )


def set_status(store: Store, message_id: str, status: str, values: Mapping[str, Any]) -> None:
    """Set a message's status and other outbox columns in one committed statement."""
    sets = "".join(f", {store.quote(k)} = ?" for k in values)
    store.sql(
        f"UPDATE outbox SET status = ?{sets} WHERE message_id = ?", [status, *values.values(), message_id]
    )


def set_statuses(store: Store, status: str, rows: Sequence[Mapping[str, Any]]) -> int:
    """Set ``status`` and each row's other outbox columns for a batch of messages, in one statement.

    Every row holds ``message_id`` and the same further columns (e.g. ``attempts``, ``sent_at``,
    ``error``); rows are written ``BATCH`` at a time. Returns how many rows were given.
    """
    if not rows:
        return 0
    columns = ["status", *(c for c in rows[0] if c not in ("message_id", "status"))]
    types = {c.name: c.sql_type for c in SCHEMA["outbox"].columns}
    names = ", ".join(store.quote(c) for c in ["message_id", *columns])
    sets = ", ".join(f"{store.quote(c)} = CAST(v.{store.quote(c)} AS {types[c]})" for c in columns)
    row_marks = "(" + ", ".join("?" for _ in range(len(columns) + 1)) + ")"
    for start in range(0, len(rows), STATUS_BATCH):
        part = rows[start : start + STATUS_BATCH]
        params: list[Any] = []
        for row in part:  # every value sits in the VALUES list (engines number the placeholders differently)
            params += [row["message_id"], status, *(row[c] for c in columns[1:])]
        store.sql(
            f"UPDATE outbox SET {sets} FROM (VALUES {', '.join(row_marks for _ in part)}) AS v({names}) "
            "WHERE outbox.message_id = v.message_id",
            params,
        )
    return len(rows)


def reconcile_sending(store: Store, at: datetime) -> int:
    """Record every message a killed run left in ``sending`` as sent but unconfirmed; returns how many."""
    stuck = store.sql("SELECT count(*) FROM outbox WHERE status = 'sending'")
    n = int(stuck[0][0]) if stuck else 0
    if n:
        store.sql(
            "UPDATE outbox SET status = 'sent', confirmed = false, sent_at = coalesce(sent_at, ?), "
            "error = 'a previous run stopped after the end of the message; acceptance not seen' "
            "WHERE status = 'sending'",
            [at],
        )
    return n


def status_counts(store: Store) -> list[tuple[str, int]]:
    """``(status, messages)`` for each status in the outbox."""
    return [(str(s), int(n)) for s, n in store.sql("SELECT status, count(*) FROM outbox GROUP BY status")]


def kind_status_counts(store: Store) -> list[tuple[str, str, int]]:
    """``(kind, status, messages)``, ordered by kind, status and count (kind: the template for old rows)."""
    rows = store.sql(
        "SELECT coalesce(kind, template) AS k, status, count(*) AS n FROM outbox "
        "GROUP BY coalesce(kind, template), status ORDER BY 1, 2, 3"
    )
    return [(str(k), str(s), int(n)) for k, s, n in rows]


def unconfirmed_count(store: Store) -> int:
    """Messages recorded sent whose acceptance the server never confirmed."""
    rows = store.sql("SELECT count(*) FROM outbox WHERE status = 'sent' AND confirmed = false")
    return int(rows[0][0]) if rows else 0


def failed_rows(store: Store) -> list[tuple[Any, ...]]:
    """``(message_id, customer_id, kind, error)`` of failed messages, by message id."""
    return store.sql(
        "SELECT message_id, customer_id, kind, error FROM outbox WHERE status = 'failed' ORDER BY message_id"
    )


def assign_once(store: Store, experiment_id: str, customer_id: str, arm: str, at: datetime) -> None:
    """Record a flow's arm for a customer in ``assignments`` unless the customer already has one."""
    store.sql(
        "INSERT INTO assignments (experiment_id, customer_id, arm, assigned_at) SELECT ?, ?, ?, ? "
        "WHERE NOT EXISTS (SELECT 1 FROM assignments WHERE experiment_id = ? AND customer_id = ?)",
        [experiment_id, customer_id, arm, at, experiment_id, customer_id],
    )
