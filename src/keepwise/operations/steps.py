"""The steps of the monthly run: each one calls one stage's front door for the month and says what it found.

A step is a function ``(store, month, config, dry_run) -> Done``; with ``dry_run`` it computes without
writing (the front doors' ``save=False`` / ``write=False`` / ``dry_run=True``). Each step gets the month
explicitly, so a run computes exactly what the individual commands compute when given the same month
(DAY is the month's last day):

======== =============================================================== ===============================
step     front door                                                      same as
======== =============================================================== ===============================
review   ``review.run_review(store, M)``                                 ``keepwise review --month M``
clv      ``value.clv.run(store, as_of=<last day of M>)``                 ``keepwise clv --as-of DAY``
profit   ``value.profit.run(store, M)``, then with ``view="ttm"``         ``keepwise profit --month M`` and
                                                                         ``... --view ttm`` (the dashboard)
winback  ``decisions.winback.run(store, M)``                             ``keepwise winback --month M``
outreach ``decisions.outreach.run(store, M)``                            ``keepwise outreach --month M``
flows    ``messages.flows.run(store, as_of=<end of DAY>, send=False)``   ``keepwise flows run --as-of DAY``
======== =============================================================== ===============================

The flows step queues the month's messages (as of the month's end, so a store whose history ends long ago
acts as of its own time) and sends nothing: sending is the daily ``keepwise messages send`` of the schedule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from keepwise.config import Config
from keepwise.months import add_months, parse_month
from keepwise.store.store import Store

__all__ = ["STEPS", "Done", "month_end", "step_function"]

#: The steps of the monthly loop, in the order they run.
STEPS: tuple[str, ...] = ("review", "clv", "profit", "winback", "outreach", "flows")


@dataclass
class Done:
    """What one step computed: its headline figure (one line) and the notes on inputs it did without."""

    headline: str
    notes: list[str] = field(default_factory=list)


def month_end(month: str) -> datetime:
    """The first moment after ``month`` (``YYYY-MM``), UTC: the moment the month's figures are as of."""
    start = parse_month(month)
    return add_months(start.replace(tzinfo=start.tzinfo or UTC), 1)


def last_day(month: str) -> date:
    """The last calendar day of ``month``."""
    return (month_end(month) - timedelta(days=1)).date()


def note_lines(doc: dict[str, Any]) -> list[str]:
    """A stage document's ``notes`` as lines (``input: missing; instead`` for the inventory's notes)."""
    lines = []
    for n in doc.get("notes") or []:
        if isinstance(n, dict):
            lines.append(f"{n.get('input')}: {n.get('missing')}; {n.get('instead')}")
        else:
            lines.append(str(n))
    return lines


def _review(store: Store, month: str, config: Config, dry_run: bool) -> Done:
    from keepwise.review import run_review

    doc = run_review(store, month, write=not dry_run, config=config).to_json()
    heads = list(doc.get("headlines", {}).values())
    return Done(heads[0] if heads else f"{len(heads)} sections", note_lines(doc))


def _clv(store: Store, month: str, config: Config, dry_run: bool) -> Done:
    from keepwise.money import shown
    from keepwise.value.clv import run

    result = run(store, config=config, save=not dry_run, as_of=last_day(month))
    doc = result.to_json()
    total = shown(f"{doc['total_clv']:.2f}", doc.get("currency") or "")
    return Done(
        f"CLV over {doc['horizon_months']} months: {total} across {doc['n_customers']:,} customers",
        [*(str(n) for n in result.notes)],
    )


def _profit(store: Store, month: str, config: Config, dry_run: bool) -> Done:
    from keepwise.money import shown
    from keepwise.value.profit import run

    doc = run(store, month, config=config, save=not dry_run).to_json()
    run(store, month, config=config, save=not dry_run, view="ttm")  # the dashboard's profitability page
    profit = shown(doc["totals"]["operating_profit"], doc.get("currency") or "")
    return Done(f"operating profit {profit}", note_lines(doc))


def _winback(store: Store, month: str, config: Config, dry_run: bool) -> Done:
    from keepwise.decisions import winback

    doc = winback.run(store, month, config=config, save=not dry_run).to_json()
    counts = doc.get("counts", {})
    return Done(
        f"{doc.get('lost_customers', 0):,} lost customers, {counts.get('contact', 0):,} worth a contact",
        note_lines(doc),
    )


def _outreach(store: Store, month: str, config: Config, dry_run: bool) -> Done:
    from keepwise.decisions import outreach

    doc = outreach.run(store, month, config=config, save=not dry_run).to_json()
    actions = doc.get("actions") or []
    return Done(f"{len(actions):,} service actions planned", note_lines(doc))


def _with_email(store: Store) -> int:
    """How many customers have an e-mail address (the flows compose e-mail only)."""
    t = store.table("customers")
    if "email" not in t.columns:
        return 0
    n: Any = store.to_pandas(t.filter(t.email.notnull() & (t.email.strip() != "")).count())
    return int(n)


def _flows(store: Store, month: str, config: Config, dry_run: bool) -> Done:
    from keepwise.messages import flows

    if _with_email(store) == 0:  # an orders-only store (CDNOW): nobody to write to; said, not a failure
        return Done(
            "no messages: no customer has an e-mail address",
            ["customers.email: no customer has one; the flows compose e-mail only, so nothing was queued"],
        )
    at = flows.parse_as_of(last_day(month).isoformat())  # as keepwise flows run --as-of DAY: the day's end
    result = flows.run(store, as_of=at, config=config, dry_run=dry_run, send=False)
    doc = result.to_json()
    return Done(
        f"{sum(result.due.values()):,} messages due: {result.queued:,} queued, {result.held_out:,} held out, "
        f"{result.already_known:,} already handled",
        note_lines(doc),
    )


_FUNCTIONS: dict[str, Callable[[Store, str, Config, bool], Done]] = {
    "review": _review,
    "clv": _clv,
    "profit": _profit,
    "winback": _winback,
    "outreach": _outreach,
    "flows": _flows,
}


def step_function(name: str) -> Callable[[Store, str, Config, bool], Done]:
    """The function that runs step ``name`` (looked up when called, so a test can replace one)."""
    return _FUNCTIONS[name]
