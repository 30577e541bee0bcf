"""The month's outreach plan: :func:`outreach` applies the rules to every customer of the store."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from keepwise.config import Config, load_config, used
from keepwise.decisions.service.activity import _activity, _losses, _rows, _warnings
from keepwise.decisions.service.levels import (
    _TIER_FIELDS,
    SERVICE_FIELDS,
    Action,
    ActionKind,
    OutreachPlan,
    service_levels,
)
from keepwise.decisions.service.rules import (
    _apply_consent,
    _consents,
    _contact,
    _due,
    _left,
    _reengage,
    _reprice,
)
from keepwise.store import Store, as_store
from keepwise.store.inventory import Note, inventory
from keepwise.value.profitability import latest_month, period, profitability
from keepwise.value.profitability.currency import reporting_currency, resolve_currency
from keepwise.value.profitability.notes import profit_notes
from keepwise.value.tiers import TIERS

__all__ = ["outreach"]

#: What the plan does without any consent on record.
_NO_CONSENT = (
    "nobody has given permission to be contacted, so every contact, re-engagement and reprice-or-part-ways "
    "conversation waits for the customer's next inbound contact"
)


def outreach(store: Store, month: str | None = None, *, config: Config | None = None) -> OutreachPlan:
    """The month's service actions: proactive contacts due, reprice or part ways, re-engagement.

    Parameters
    ----------
    store:
        The store (:func:`keepwise.store.connect`; an Ibis backend is wrapped).
    month:
        ``YYYY-MM``: the actions are as of the end of this month; ``None``: the latest month with an order
        line or a time log.
    config:
        Assumptions; ``None`` reads ``keepwise.toml`` from the working directory.

    Returns
    -------
    OutreachPlan
        Service levels, tiers (:func:`keepwise.value.profitability` on the trailing twelve months) and the
        actions, reprice-or-part-ways first, then re-engagement, then contacts by tier (platinum first) and
        most overdue first.
    """
    store = as_store(store)
    cfg, currency_note = resolve_currency(store, config or load_config())
    d = cfg.decisions
    levels = service_levels(d)
    given = month
    month = month or latest_month(store)
    per = period(month, "month")
    assert per.start is not None
    start, as_of = pd.Timestamp(per.start), pd.Timestamp(per.end)
    cur = reporting_currency(store, cfg)  # resolved above: no second look at the data

    tiers = profitability(store, month, view="ttm", config=cfg)
    tier_rows = _rows(tiers[["customer_id", "tier", "rank", "profit"]])
    losses = _rows(_losses(store, month, cfg))
    act = _activity(store, per.start, per.end)
    warnings = _warnings(store, month)

    actions: list[Action] = []
    seen: set[str] = set()

    def add(cid: str, kind: ActionKind, found: tuple[str, dict[str, Any], list[str]]) -> None:
        rec, figs, reasons = found
        tier = tier_rows[cid]["tier"] if cid in tier_rows else "lead"
        lv = levels[tier]
        actions.append(Action(cid, kind, tier, lv.handled_by, lv.response_hours, rec, figs, reasons))
        seen.add(cid)

    for cid in sorted(losses):
        if cid in tier_rows:
            found = _reprice(losses[cid], tier_rows[cid], month, d, cur)
            if found:
                add(cid, "reprice_or_part_ways", found)
    actions.sort(key=lambda a: -Decimal(a.figures["loss"]))

    engage: list[Action] = []
    for cid in sorted(set(act["this_month"]) | set(act["incidents"]) | set(warnings)):
        if cid in seen or cid not in tier_rows:
            continue
        found = _reengage(cid, act, warnings, start, d, cur)
        if found:
            before = len(actions)
            add(cid, "re_engage", found)
            engage.append(actions.pop(before))
    engage.sort(key=lambda a: (-a.figures["silent_days"], a.customer_id))
    actions.extend(engage)

    contacts: list[Action] = []
    n_ranked = len(tiers)
    for cid, row in tier_rows.items():
        if cid in seen:
            continue
        if _left(cid, act):
            continue  # they left: the win-back ranking decides whether to approach them
        found = _contact(cid, row, levels[row["tier"]], act, as_of, n_ranked, cur)
        if found:
            lv = levels[row["tier"]]
            rec, figs, reasons = found
            contacts.append(
                Action(cid, "contact", row["tier"], lv.handled_by, lv.response_hours, rec, figs, reasons)
            )
    order = {t: i for i, t in enumerate(TIERS)}
    contacts.sort(
        key=lambda a: (
            order[a.tier],
            a.figures["days_since_contact"] is not None,
            -(a.figures["overdue_days"] or 0),
            a.customer_id,
        )
    )
    actions.extend(contacts)
    consents = _consents(store, actions, per.end)
    for a in actions:
        _apply_consent(consents, a, per.end)
        a.due_on = _due(a, act, per.start, per.end)

    wanted = {f"decisions.{f}" for f in SERVICE_FIELDS} | {f"value.{f}" for f in _TIER_FIELDS}
    assumptions = [a for a in used(cfg, "decisions") + used(cfg, "value") if a["name"] in wanted]
    inv = inventory(store)
    notes = profit_notes(store, period(month, "ttm"), cfg, currency_note=currency_note, inv=inv)
    notes += inv.notes("consent", instead={"consent": _NO_CONSENT})
    if given is None:  # as of the data, not the wall clock: say which month was taken
        notes.insert(
            0, Note("month", "none given", f"used {month}, the last month with an order or a time log")
        )
    return OutreachPlan(
        month=per.month,
        as_of=per.end,
        currency=cur,
        levels=levels,
        tiers=tiers,
        actions=actions,
        assumptions=assumptions,
        notes=notes,
    )
