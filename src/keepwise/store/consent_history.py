"""Consent as a history: every grant and revocation is an event; the ``consent`` table is derived from them.

``consent_events`` holds one row per event: ``(customer_id, channel, purpose, event, at)`` with
``event`` ``grant`` or ``revoke``, its ``source`` and ``proof``, and ``recorded_at`` (when keepwise learned
of it). Events are only ever added: a load adds the grants and revocations its rows carry, an unsubscribe
adds a revocation, a double opt-in confirmation adds a grant. Nothing erases or edits an event, so loading
a file again (or an older file that lacks a revocation) cannot bring back a consent the customer withdrew.

The rule (:func:`in_force`): a consent for ``(channel, purpose)`` is in force at ``T`` when the latest event
at or before ``T`` is a grant; a grant and a revocation at the same instant count as revoked. So only a grant
dated *after* a revocation undoes it.

The ``consent`` table keeps its contract columns as the standing state derived from the events: one row per
grant, its ``revoked_at`` the first revocation at or after it. :func:`rebuild` rewrites the rows of the
customers an event touched, in the same transaction as the event. A row of ``consent`` is in force at ``T``
(``granted_at <= T`` and ``revoked_at`` empty or later) exactly when :func:`in_force` says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from keepwise.exceptions import LoadError
from keepwise.store.validate import q, typed_expr

if TYPE_CHECKING:
    import duckdb

    from keepwise.store.schema import Table
    from keepwise.store.store import Store

__all__ = [
    "EVENTS",
    "add_event",
    "ensure_events",
    "in_force",
    "in_force_among",
    "in_force_rows",
    "load_stage",
    "rebuild",
]

#: The table of events.
EVENTS = "consent_events"

_KEY = "customer_id = ? AND channel = ? AND purpose = ?"

#: Derived ``consent`` rows: each grant with the first revocation at or after it.
_DERIVED = f"""
SELECT g.customer_id, g.channel, g.purpose, g."at" AS granted_at,
       (SELECT min(r."at") FROM {EVENTS} r WHERE r.event = 'revoke' AND r.customer_id = g.customer_id
        AND r.channel = g.channel AND r.purpose = g.purpose AND r."at" >= g."at") AS revoked_at,
       g.source, g.proof
FROM {EVENTS} g WHERE g.event = 'grant'
"""
_COLUMNS = "customer_id, channel, purpose, granted_at, revoked_at, source, proof"
_EVENT_COLUMNS = 'customer_id, channel, purpose, event, "at", source, proof, recorded_at'

#: Events implied by rows of ``consent`` (a store written before the events existed).
_IMPLIED = """
SELECT customer_id, channel, purpose, 'grant' AS event, granted_at AS "at", source, proof, ? AS recorded_at
FROM consent WHERE granted_at IS NOT NULL
UNION
SELECT customer_id, channel, purpose, 'revoke', revoked_at, source, proof, ? FROM consent
WHERE revoked_at IS NOT NULL
"""


def _one(rows: list[tuple[Any, ...]]) -> int:
    return int(rows[0][0]) if rows and rows[0][0] is not None else 0


def ensure_events(store: Store, at: datetime | None = None) -> int:
    """Seed the events from ``consent`` once, for a store whose consent predates the history.

    A store with no event and some consent rows (written by an older keepwise, or by hand) gets one grant per
    row and one revocation per ``revoked_at``. Returns how many events were added (0 once seeded).
    """
    if _one(store.sql(f"SELECT count(*) FROM {EVENTS}")) or not _one(
        store.sql("SELECT count(*) FROM consent")
    ):
        return 0
    now = at or datetime.now(UTC)
    store.sql(f"INSERT INTO {EVENTS} ({_EVENT_COLUMNS}) {_IMPLIED}", [now, now])
    return _one(store.sql(f"SELECT count(*) FROM {EVENTS}"))


def in_force(store: Store, customer_id: str, channel: str, purpose: str, at: datetime) -> bool:
    """Whether the latest consent event for ``channel`` and ``purpose`` at or before ``at`` is a grant."""
    rows = store.sql(
        "SELECT max(CASE WHEN event = 'grant' THEN \"at\" END), "
        f'max(CASE WHEN event = \'revoke\' THEN "at" END) FROM {EVENTS} WHERE {_KEY} AND "at" <= ?',
        [customer_id, channel, purpose, at],
    )
    granted, revoked = rows[0] if rows else (None, None)
    return granted is not None and (revoked is None or revoked < granted)


def in_force_among(
    store: Store, customer_ids: Iterable[str], channel: str, purpose: str, at: datetime
) -> set[str]:
    """Those of ``customer_ids`` whose consent is in force at ``at`` by the rule of :func:`in_force`.

    One statement per :data:`~keepwise.store.recipients.IN_LIST_SIZE` customers (the sender checks a
    batch at a time).
    """
    from keepwise.store.recipients import in_list

    out: set[str] = set()
    for chunk in in_list(customer_ids):
        marks = ", ".join("?" for _ in chunk)
        rows = store.sql(
            "SELECT customer_id FROM (SELECT customer_id, "
            "max(CASE WHEN event = 'grant' THEN \"at\" END) AS g, "
            f"max(CASE WHEN event = 'revoke' THEN \"at\" END) AS r FROM {EVENTS} "
            f'WHERE channel = ? AND purpose = ? AND "at" <= ? AND customer_id IN ({marks}) '
            "GROUP BY customer_id) s WHERE g IS NOT NULL AND (r IS NULL OR r < g)",
            [channel, purpose, at, *chunk],
        )
        out.update(str(r[0]) for r in rows)
    return out


def in_force_rows(store: Store, customer_id: str, channel: str, purpose: str, at: datetime) -> int:
    """How many rows of the derived ``consent`` table are in force at ``at`` (grants still standing then)."""
    return _one(
        store.sql(
            f"SELECT count(*) FROM consent WHERE {_KEY} AND granted_at <= ? "
            "AND (revoked_at IS NULL OR revoked_at > ?)",
            [customer_id, channel, purpose, at, at],
        )
    )


def add_event(
    store: Store,
    customer_id: str,
    channel: str,
    purpose: str,
    event: str,
    *,
    at: datetime,
    source: object,
    proof: str | None,
    recorded_at: datetime | None = None,
) -> bool:
    """Add one event (unless the same event at the same instant is known) and re-derive ``consent``.

    Run it inside the caller's transaction where other rows must change with it. Returns True if added.
    """
    if event not in ("grant", "revoke"):
        raise ValueError(event)
    ensure_events(store)
    known = store.sql(f'SELECT 1 FROM {EVENTS} WHERE {_KEY} AND event = ? AND "at" = ?',
                      [customer_id, channel, purpose, event, at])  # fmt: skip
    if known:
        return False
    store.sql(
        f"INSERT INTO {EVENTS} ({_EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [customer_id, channel, purpose, event, at, source, proof, recorded_at or datetime.now(UTC)],
    )
    rebuild(store, [customer_id])
    return True


def rebuild(store: Store, customer_ids: Iterable[str]) -> None:
    """Re-derive the ``consent`` rows of ``customer_ids`` from their events."""
    for cid in sorted(set(customer_ids)):
        store.sql("DELETE FROM consent WHERE customer_id = ?", [cid])
        store.sql(
            f"INSERT INTO consent ({_COLUMNS}) SELECT * FROM ({_DERIVED}) d WHERE customer_id = ?", [cid]
        )


# ------------------------------------------------------------------------------------------- loads


def load_stage(
    con: duckdb.DuckDBPyConnection, stage: str, table: Table, present: set[str], source: str
) -> tuple[int, int, int]:
    """Add the events a validated consent file carries; returns ``(new, updated, unchanged)`` rows.

    Called by :mod:`keepwise.store.ingest` inside its load transaction instead of the upsert other tables
    get. Each row adds its grant (``granted_at`` with the row's ``source`` and ``proof``) and, when
    ``revoked_at`` is given, a revocation; events already known are left as they are. A row is *new* when
    its grant was not known, *updated* when only its revocation was, *unchanged* when both were (so loading
    a file twice reports every row unchanged). A ``revoked_at`` before its ``granted_at`` is refused.
    """
    now = datetime.now(UTC)
    if not _count(con, f"SELECT count(*) FROM {EVENTS}") and _count(con, "SELECT count(*) FROM consent"):
        con.execute(f"INSERT INTO {EVENTS} ({_EVENT_COLUMNS}) {_IMPLIED}", [now, now])
    typed = ", ".join(
        f"{typed_expr(table.column(c), c in present)} AS {q(c)}"
        for c in ("customer_id", "channel", "purpose", "granted_at", "revoked_at", "source", "proof")
    )
    rows = f"_kw_consent_{stage}"
    con.execute(f"CREATE TEMP TABLE {q(rows)} AS SELECT _row, {typed} FROM {q(stage)}")
    bad = con.execute(
        f"SELECT min(_row) FROM {q(rows)} WHERE revoked_at IS NOT NULL AND revoked_at < granted_at"
    ).fetchone()
    if bad and bad[0] is not None:
        con.execute(f"DROP TABLE {q(rows)}")
        raise LoadError(source, "is before granted_at", row=int(bad[0]), column="revoked_at")
    known = (
        f"EXISTS (SELECT 1 FROM {EVENTS} e WHERE e.customer_id = s.customer_id AND e.channel = s.channel "
        "AND e.purpose = s.purpose AND e.event = '{event}' AND e.\"at\" = s.{column})"
    )
    counts = con.execute(
        f"""
        SELECT count(*) FILTER (WHERE NOT g),
               count(*) FILTER (WHERE g AND NOT r),
               count(*) FILTER (WHERE g AND r)
        FROM (SELECT {known.format(event="grant", column="granted_at")} AS g,
                     revoked_at IS NULL OR {known.format(event="revoke", column="revoked_at")} AS r
              FROM {q(rows)} s)
        """
    ).fetchone()
    new, updated, unchanged = (int(n) for n in counts) if counts else (0, 0, 0)
    con.execute(
        f"""
        INSERT INTO {EVENTS} ({_EVENT_COLUMNS})
        SELECT {_EVENT_COLUMNS} FROM (
            SELECT *, row_number() OVER (
                       PARTITION BY customer_id, channel, purpose, event, "at" ORDER BY _row) AS _n
            FROM (SELECT customer_id, channel, purpose, 'grant' AS event, granted_at AS "at", source, proof,
                         ? AS recorded_at, _row FROM {q(rows)}
                  UNION ALL
                  SELECT customer_id, channel, purpose, 'revoke', revoked_at, ?, NULL, ?, _row FROM {q(rows)}
                  WHERE revoked_at IS NOT NULL) u
        ) s
        WHERE _n = 1 AND NOT EXISTS (SELECT 1 FROM {EVENTS} e WHERE e.customer_id = s.customer_id
              AND e.channel = s.channel AND e.purpose = s.purpose AND e.event = s.event AND e."at" = s."at")
        """,
        [now, f"file {source}", now],
    )
    if new or updated:
        touched = f"(SELECT DISTINCT customer_id FROM {q(rows)})"
        con.execute(f"DELETE FROM consent WHERE customer_id IN {touched}")
        con.execute(
            f"INSERT INTO consent ({_COLUMNS}) SELECT * FROM ({_DERIVED}) d WHERE customer_id IN {touched}"
        )
    con.execute(f"DROP TABLE {q(rows)}")
    return new, updated, unchanged


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0
