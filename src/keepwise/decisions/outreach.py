"""The outreach stage's front door: the month's service actions (:func:`run`) and their follow-through.

The rules are those of :mod:`keepwise.decisions.service`; ``keepwise outreach`` and the web API call these
functions and only format what they return.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from keepwise.config import Config, load_config
from keepwise.decisions.service import ACTIONS, OutreachPlan, save_plan
from keepwise.decisions.service import mark as mark_action
from keepwise.decisions.service import outreach as plan_outreach
from keepwise.decisions.service.follow_through import TABLE
from keepwise.exceptions import BadInput
from keepwise.store import Store, as_store

__all__ = ["MarkedAction", "OutreachResult", "mark", "mark_document", "run", "stored", "unsaved"]


@dataclass
class OutreachResult:
    """What :func:`run` returns: the plan, what was saved, and how many actions of each kind to show."""

    plan: OutreachPlan
    #: ``{"table": "outreach_actions", "saved", "kept", "rows"}`` when saved, else ``None``
    saved: dict[str, Any] | None = None
    top: int | None = None

    @property
    def month(self) -> str:
        """The month of the plan, ``YYYY-MM``."""
        return self.plan.month

    def shown(self, kind: str) -> list[dict[str, Any]]:
        """The actions of ``kind`` as JSON, at most ``top`` of them (the text output shows these)."""
        rows = [a.to_json() for a in self.plan.actions if a.action == kind]
        return rows if self.top is None else rows[: self.top]

    def to_json(self) -> dict[str, Any]:
        """What ``keepwise outreach --json`` prints: the whole plan (``top`` never cuts it) and ``saved``."""
        return {**self.plan.to_json(), "saved": self.saved}


def run(
    store: Store,
    month: str | None = None,
    *,
    config: Config | None = None,
    top: int | None = None,
    save: bool = True,
) -> OutreachResult:
    """The month's service actions: proactive contacts due, reprice or part ways, re-engagement.

    Parameters
    ----------
    store:
        The store (an Ibis backend is wrapped).
    month:
        ``YYYY-MM``: the actions as of the end of this month; ``None``: the latest month with data.
    config:
        Assumptions; ``None`` reads ``keepwise.toml`` (:func:`keepwise.config.load_config`).
    top:
        How many actions of each kind :meth:`OutreachResult.shown` gives (``None`` or 0: all); the JSON
        always has every action.
    save:
        Write the plan to ``outreach_actions`` (:func:`keepwise.decisions.service.save_plan`: the month's
        planned rows replaced, done and skipped ones kept) and the document as the stage document
        ``outreach`` of the month.

    Returns
    -------
    OutreachResult
        Its ``to_json()`` is what ``keepwise outreach --json`` prints.
    """
    if top is not None and top < 0:
        raise BadInput("top", f"must be 0 (all) or more, not {top}")
    store = as_store(store)
    plan = plan_outreach(store, month, config=config or load_config())
    result = OutreachResult(plan, None, top or None)
    if save:
        with store.transaction():
            result.saved = {"table": TABLE, **save_plan(store, plan)}
            store.save_document("outreach", plan.month, result.to_json())
    return result


def stored(store: Store, month: str) -> dict[str, Any] | None:
    """The plan :func:`run` saved for ``month`` as ``keepwise outreach --no-save --json`` prints it.

    Reads the stage document (never plans again) and applies :func:`unsaved`. ``None`` when no plan of
    ``month`` is stored.
    """
    doc: dict[str, Any] | None = as_store(store).load_document("outreach", month)
    return None if doc is None else unsaved(doc)


def unsaved(document: dict[str, Any]) -> dict[str, Any]:
    """A stored plan document as a run that does not save prints it: ``saved`` is ``null``."""
    return {**document, "saved": None}


def mark_document(row: dict[str, Any]) -> dict[str, Any]:
    """An ``outreach_actions`` row as ``keepwise outreach done|skip --json`` prints it (and the API too)."""
    return {
        "month": row["month"],
        "customer_id": row["customer_id"],
        "action": row["action"],
        "recommendation": row["recommendation"],
        "status": row["status"],
        "note": row["note"],
        "recorded_at": row["recorded_at"].isoformat(),
    }


@dataclass
class MarkedAction:
    """What :func:`mark` returns: the ``outreach_actions`` row as stored."""

    row: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """What ``keepwise outreach done|skip --json`` prints (:func:`mark_document`)."""
        return mark_document(self.row)


def mark(
    store: Store,
    customer_id: str,
    month: str,
    status: str,
    action: str | None = None,
    note: str | None = None,
    *,
    at: datetime | None = None,
) -> MarkedAction:
    """Record that a saved action of ``month`` for ``customer_id`` was ``done`` or ``skipped``.

    Parameters
    ----------
    store:
        The store (an Ibis backend is wrapped).
    customer_id, month:
        Whose action, and the month of its plan (``YYYY-MM``).
    status:
        ``done`` (a contact or re-engagement done counts for the next months' cadence) or ``skipped``.
    action:
        One of :data:`keepwise.decisions.service.ACTIONS` (default ``contact``).
    note:
        What was done, in words.
    at:
        When (default: now).
    """
    from keepwise.value.profitability import parse_month

    parse_month(month)
    kind = action or "contact"
    if kind not in ACTIONS:
        raise BadInput("action", f"must be one of {', '.join(ACTIONS)}, not '{kind}'")
    row = mark_action(as_store(store), month, customer_id, kind, status, note=note, at=at)
    return MarkedAction(row)
