"""The outbox a page at a time: messages by state, newest first, with the counts of every state.

States (``state``), the statuses of :mod:`keepwise.messages.outbox` as a person looks for them:
``queued`` (waiting, or being handed to the server: ``sending``), ``sent``, ``unconfirmed`` (sent without the
server's confirmation after an interrupted run: someone should check them; a part of ``sent``), ``failed``,
``suppressed`` (not allowed when it was time to send, or the address bounced) and ``held_out`` (a flow's
control group: never sent). The counts are :func:`keepwise.messages.outbox.report`'s, what
``keepwise messages report --json`` prints.
"""

from __future__ import annotations

from typing import Any, cast

from keepwise.exceptions import BadInput
from keepwise.messages.outbox import report
from keepwise.store.store import Store, as_store

__all__ = ["FLOW_OF_KIND", "STATES", "check_state", "outbox_counts", "outbox_rows"]

#: The states a listing can be filtered by (``None``: every message).
STATES = ("queued", "sent", "unconfirmed", "failed", "suppressed", "held_out")

#: The flow that writes each kind of message (:mod:`keepwise.messages.flows`).
FLOW_OF_KIND = {
    "winback": "winback",
    "goodbye": "winback",
    "reengagement": "at_risk",
    "adjustment": "incident_followup",
    "thanks": "thanks",
    "confirm": "double opt-in",
}

#: The columns a listed message carries.
COLUMNS = (
    "message_id",
    "customer_id",
    "kind",
    "cause",
    "subject",
    "recipient",
    "status",
    "attempts",
    "queued_at",
    "sent_at",
    "confirmed",
    "error",
)


def check_state(state: str | None) -> str | None:
    """``state`` if it is one of :data:`STATES` (or empty: all), else a :class:`BadInput` naming it."""
    if state is None or state == "" or state == "all":
        return None
    if state not in STATES:
        raise BadInput("state", f"is not one of: all, {', '.join(STATES)}", state)
    return state


def outbox_counts(store: Store) -> dict[str, Any]:
    """Messages in each state, and in all: ``by_status`` and ``sent_unconfirmed`` of the outbox report."""
    store = as_store(store)
    if not store.has_table("outbox"):
        return {"all": 0, **{s: 0 for s in STATES}}
    doc = report(store)
    by = doc["by_status"]
    return {
        "all": sum(by.values()),
        "queued": by["queued"] + by["sending"],
        "sent": by["sent"],
        "unconfirmed": doc["sent_unconfirmed"],
        "failed": by["failed"],
        "suppressed": by["suppressed"],
        "held_out": by["held_out"],
    }


def _filtered(store: Store, state: str | None, customer_id: str | None) -> Any:
    t = store.table("outbox")
    if state == "queued":
        t = t.filter(t.status.isin(["queued", "sending"]))
    elif state == "unconfirmed":
        t = t.filter((t.status == "sent") & (t.confirmed == False))  # noqa: E712 (an Ibis expression)
    elif state is not None:
        t = t.filter(t.status == state)
    if customer_id:
        t = t.filter(t.customer_id == customer_id)
    return t


def outbox_rows(
    store: Store,
    state: str | None = None,
    *,
    offset: int = 0,
    limit: int = 50,
    customer_id: str | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page of messages in ``state`` (default: all), newest first, and how many there are in all.

    Each message carries :data:`COLUMNS` and ``flow`` (the flow that writes its kind). The page is cut in
    the engine (``ORDER BY ... LIMIT ... OFFSET``), so a page costs the same on a long outbox.
    """
    store = as_store(store)
    state = check_state(state)
    if not store.has_table("outbox"):
        return [], 0
    t = _filtered(store, state, customer_id)
    total = int(cast(Any, store.to_pandas(t.count())))
    have = set(t.columns)
    cols = [c for c in COLUMNS if c in have]
    expr = t.select(*cols).order_by([t.queued_at.desc(), t.message_id]).limit(limit, offset=offset)
    frame = store.to_pandas(expr)
    rows = []
    for record in frame.astype(object).to_dict("records"):
        row = {c: _plain(record.get(c)) for c in COLUMNS}
        row["attempts"] = None if row["attempts"] is None else int(row["attempts"])
        row["flow"] = FLOW_OF_KIND.get(str(row["kind"] or ""), row["kind"])
        rows.append(row)
    approvals = _approvals(store, [r["message_id"] for r in rows])
    for row in rows:
        row["approval"] = approvals.get(row["message_id"])
    return rows, total


def _approvals(store: Store, message_ids: list[str]) -> dict[str, dict[str, str]]:
    """The win-back approval that queued each of ``message_ids`` (its id and who approved), if any."""
    from keepwise.messages.campaign import TABLE

    if not message_ids or not store.has_table(TABLE):
        return {}
    t = store.table(TABLE)
    t = t.filter(t.message_id.isin(message_ids) & t.outcome.isin(["queued", "held_out"]))
    frame = store.to_pandas(t.select("message_id", "approval_id", "approved_by"))
    return {
        str(r.message_id): {"approval_id": str(r.approval_id), "approved_by": str(r.approved_by)}
        for r in frame.itertuples(index=False)
    }


def _plain(value: Any) -> Any:
    from keepwise.messages.audience import plain

    out = plain(value)
    return out.isoformat() if hasattr(out, "isoformat") else out
