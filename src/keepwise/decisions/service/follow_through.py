"""Follow-through of the outreach plan: save it to ``outreach_actions``, mark an action done or skipped.

Both write through the :class:`~keepwise.store.Store` primitives, so the table is kept on every engine.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd

from keepwise.decisions._frames import stamps, text
from keepwise.decisions.service.levels import ACTIONS, OutreachPlan
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.store import Store, as_store

__all__ = ["TABLE", "mark", "save_plan"]

#: The store table of the saved plans.
TABLE = "outreach_actions"


def _at(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _plain(value: Any) -> Any:
    """A value read back from the store as a plain Python value (``None`` for missing, datetimes)."""
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value


def save_plan(store: Store, plan: OutreachPlan, recorded_at: datetime | None = None) -> dict[str, int]:
    """Write ``plan`` to ``outreach_actions`` in one transaction.

    The month's ``planned`` rows are replaced; rows marked ``done`` or ``skipped`` are never touched, and an
    action of the plan that already has one is not written again.

    Returns
    -------
    dict
        ``saved`` (planned rows written), ``kept`` (the month's done or skipped rows) and ``rows`` (the
        month's rows now).
    """
    store = as_store(store)
    at = _at(recorded_at)
    with store.transaction():
        kept: set[tuple[str, str]] = set()
        if store.has_table(TABLE):
            store.delete(TABLE, {"month": plan.month, "status": "planned"})
            old = store.read(TABLE, where={"month": plan.month}, columns=["customer_id", "action"])
            kept = {(str(c), str(a)) for c, a in zip(old["customer_id"], old["action"], strict=True)}
        new = [a for a in plan.actions if (a.customer_id, a.action) not in kept]

        rows = pd.DataFrame(
            {
                "month": text([plan.month] * len(new)),
                "customer_id": text([a.customer_id for a in new]),
                "action": text([a.action for a in new]),
                "recommendation": text([a.recommendation for a in new]),
                "tier": text([a.tier for a in new]),
                "handled_by": text([a.handled_by for a in new]),
                "channel": text([a.channel for a in new]),
                "due_at": pd.to_datetime(
                    pd.Series(
                        [None if a.due_on is None else a.due_on.isoformat() for a in new], dtype=object
                    ),
                    utc=True,
                ),
                "reasons": text(["\n".join(a.reasons) for a in new]),
                "status": text(["planned"] * len(new)),
                "note": text([None] * len(new)),
                "recorded_at": stamps([at] * len(new)),
            }
        )
        store.append(TABLE, rows)
        n = store.count(TABLE, where={"month": plan.month})
    return {"saved": len(rows), "kept": len(kept), "rows": int(n)}


def mark(
    store: Store,
    month: str,
    customer_id: str,
    action: str,
    status: str = "done",
    *,
    note: str | None = None,
    at: datetime | None = None,
) -> dict[str, Any]:
    """Record that the ``action`` of ``month`` for ``customer_id`` was ``done`` (or ``skipped``).

    Returns
    -------
    dict
        The row as stored. An action that was never saved is an input error naming it.
    """
    if status not in ("done", "skipped"):
        raise KeepwiseInputError(f"status must be done or skipped, not '{status}'")
    if action not in ACTIONS:
        raise BadInput("action", f"must be one of {', '.join(ACTIONS)}, not '{action}'")
    store = as_store(store)
    key = {"month": month, "customer_id": customer_id, "action": action}
    if not store.has_table(TABLE) or not store.count(TABLE, where=key):
        raise KeepwiseInputError(
            f"no {action} action for customer '{customer_id}' in {month} in outreach_actions "
            f"(keepwise outreach --month {month} saves the month's plan)"
        )
    with store.transaction():
        store.update(TABLE, {"status": status, "note": note, "recorded_at": _at(at)}, where=key)
        row = store.read(TABLE, where=key)
    return {str(k): _plain(v) for k, v in row.iloc[0].items()}
