"""The outreach rules for one customer: reprice or part ways, re-engage, a contact due; consent; due dates.

See :mod:`keepwise.decisions.service` for the rules in words.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd

from keepwise.config import DecisionAssumptions
from keepwise.decisions.service.activity import _utc
from keepwise.decisions.service.levels import (
    _ENGAGE,
    CONTACT_CHANNELS,
    DECIDE_DAYS,
    NO_CONSENT,
    Action,
    ServiceLevel,
    _purpose,
)
from keepwise.money import cents, shown
from keepwise.store import Store
from keepwise.value.profitability import month_label, parse_month

#: Who has which consent in force: ``(purpose, channel) -> customer ids``.
Consents = dict[tuple[str, str], set[str]]


def _consents(store: Store, actions: list[Action], at: datetime) -> Consents:
    """For each purpose the actions need and each of :data:`CONTACT_CHANNELS`, who has it in force at ``at``.

    One query per purpose and channel (:func:`keepwise.messages.consent.consented`, the rule messages use
    at send time), not per action.
    """
    from keepwise.messages.consent import consented

    need: dict[str, set[str]] = {}
    for a in actions:
        purpose = _purpose(a)
        if purpose is not None:
            need.setdefault(purpose, set()).add(a.customer_id)
    return {
        (purpose, channel): consented(store, ids, purpose, at, channel)
        for purpose, ids in need.items()
        for channel in CONTACT_CHANNELS
    }


def _channel(consents: Consents, customer_id: str, purpose: str) -> str | None:
    """The first of :data:`CONTACT_CHANNELS` with a ``purpose`` consent in force, if any."""
    for channel in CONTACT_CHANNELS:
        if customer_id in consents.get((purpose, channel), set()):
            return channel
    return None


def _apply_consent(consents: Consents, a: Action, at: datetime) -> None:
    """Set ``a.channel``; without consent in force, the action waits for their next inbound contact."""
    purpose = _purpose(a)
    if purpose is None:
        a.channel = "inbound"
        a.figures["consent"] = {"purpose": None, "channel": None, "in_force": None}
        a.reasons.append("They got in touch this month: answer them (no consent is needed to reply).")
        return
    a.channel = _channel(consents, a.customer_id, purpose)
    a.figures["consent"] = {"purpose": purpose, "channel": a.channel, "in_force": a.channel is not None}
    if a.channel is not None:
        how = "call" if a.channel == "phone" else "e-mail"
        a.reasons.append(
            f"{purpose.capitalize()} consent by {a.channel} in force on {at.date()}: {how} them."
        )
        return
    what = f"{purpose} consent by " + " or ".join(CONTACT_CHANNELS)
    a.reasons.append(
        f"No consent to contact: handle on their next inbound contact (no {what} in force on {at.date()}), "
        f"instead of a proactive call or e-mail; answer within {a.response_hours} hours, by the "
        f"{a.handled_by}."
    )
    if a.action != "reprice_or_part_ways":
        a.recommendation = NO_CONSENT


def _due(a: Action, act: dict[str, dict[str, dict[str, Any]]], start: datetime, as_of: datetime) -> date:
    """When the action is due (see the module's docstring); never before the first day of the month.

    A contact whose cadence ran out before the month began is due on its first day; the date it ran out is
    kept as ``figures["overdue_since"]`` and said in its reasons ("overdue since ...").
    """
    if a.action == "contact":
        last = a.figures["last_contact"]
        if last is None:
            return start.date()
        due = date.fromisoformat(last) + timedelta(days=a.figures["contact_every_days"])
        if due < start.date():
            a.figures["overdue_since"] = due.isoformat()
            a.reasons.insert(1, f"Overdue since {due.isoformat()}: due now, on {start.date().isoformat()}.")
            return start.date()
        return due
    if a.action == "re_engage":
        first = [
            _utc(act[k].get(a.customer_id, {}).get("first"))
            for k in ("this_month", "incidents")
            if a.customer_id in act[k]
        ]
        seen = min((t for t in first if t is not None), default=pd.Timestamp(as_of))
        return (seen + pd.Timedelta(hours=a.response_hours)).date()
    return as_of.date() + timedelta(days=DECIDE_DAYS)


def _period_label(last: int, k: int, months: int) -> str:
    first, end = last - (k + 1) * months + 1, last - k * months
    return month_label(end) if months == 1 else f"{month_label(first)} to {month_label(end)}"


def _reprice(
    row: dict[str, Any], tier_row: dict[str, Any], month: str, d: DecisionAssumptions, cur: str
) -> tuple[str, dict[str, Any], list[str]] | None:
    periods = row["periods"]
    if any(p is None or p >= 0 for p in periods):
        return None
    loss = -row["profit"]
    if row["revenue"] <= 0 or loss < d.reprice_min_loss:
        return None
    last = parse_month(month)
    n_months = d.unprofitable_periods * d.unprofitable_period_months
    increase = loss / row["revenue"]
    cut = loss / row["cost_to_serve"] if row["cost_to_serve"] > 0 else None
    rec = "reprice" if increase <= Decimal(str(d.reprice_max_increase)) else "part_ways"
    labels = [_period_label(last, k, d.unprofitable_period_months) for k in range(len(periods))]
    figs: dict[str, Any] = {
        "months": n_months,
        "months_unprofitable": int(row["months_negative"]),
        "periods": [{"months": lab, "profit": cents(p)} for lab, p in zip(labels, periods, strict=True)],
        "loss": cents(loss),
        "revenue": cents(row["revenue"]),
        "gross_margin": cents(row["gross_margin"]),
        "cost_to_serve": cents(row["cost_to_serve"]),
        "break_even_price_increase": round(float(increase), 4),
        "break_even_staff_time_cut": None if cut is None else round(float(cut), 4),
        "twelve_month_profit": cents(tier_row["profit"]),
    }
    per_text = ", ".join(f"{p['months']}: {shown(p['profit'], cur)}" for p in figs["periods"])
    reasons = [
        f"Unprofitable in each of the last {len(periods)} periods of {d.unprofitable_period_months} "
        f"months ({per_text}), and in {figs['months_unprofitable']} of the last {n_months} months; "
        f"{tier_row['tier']} tier, twelve-month profit {shown(figs['twelve_month_profit'], cur)}.",
        f"Lost {shown(figs['loss'], cur)} over those {n_months} months: serving them cost "
        f"{shown(figs['cost_to_serve'], cur)} of staff time against a gross margin of "
        f"{shown(figs['gross_margin'], cur)} on {shown(figs['revenue'], cur)} of revenue.",
    ]
    if rec == "reprice":
        extra = f" or {_share(cut)} less staff time" if cut is not None and cut < 1 else ""
        reasons.append(
            f"Prices {higher(float(increase))} on their orders{extra} would break "
            f"even; that is within the {d.reprice_max_increase:.0%} a customer can be asked to accept: "
            "reprice (or move them to cheaper channels) and review again next quarter."
        )
    else:
        reasons.append(
            f"Breaking even would need prices {higher(float(increase))}, beyond the "
            f"{d.reprice_max_increase:.0%} a customer can be asked to accept: part ways gracefully (a kind "
            "goodbye and a pointer to self-service), so they still speak well of you."
        )
    return rec, figs, reasons


def whole_percent(share: float | Decimal) -> int:
    """A break-even share as the smallest whole percentage that reaches it (0.1712 -> 18, 0.13 -> 13)."""
    return max(1, math.ceil(round(float(share) * 100, 6)))


def _share(x: float | Decimal) -> str:
    return f"{whole_percent(x)}%"


def higher(increase: float) -> str:
    """A price increase in plain words, rounded and bounded: "13% higher", "much higher than now (17x)".

    Below doubling, the smallest whole percentage that breaks even (what a reprice letter asks for); from
    doubling on, the new price as a multiple of the old one (rounded; "more than 100x" above that): a
    manager reads "1621.3% higher" as a typo.
    """
    if increase < 1:
        return f"{_share(increase)} higher"
    times = 1 + increase
    if times > 100:
        return "much higher than now (more than 100x)"
    return f"much higher than now ({times:.0f}x)"


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _days(later: pd.Timestamp, earlier: pd.Timestamp) -> int:
    """Calendar days between two UTC dates (the times of day do not count)."""
    return int((later.date() - earlier.date()).days)


def _reengage(
    cid: str,
    act: dict[str, dict[str, dict[str, Any]]],
    warnings: dict[str, list[str]],
    start: pd.Timestamp,
    d: DecisionAssumptions,
    cur: str,
) -> tuple[str, dict[str, Any], list[str]] | None:
    prev = act["last_before"].get(cid)
    if prev is None:
        return None
    prev_at = _utc(prev["at"])
    assert prev_at is not None
    silent = _days(start, prev_at)
    if silent < d.dormant_days:
        return None
    order = act["this_month"].get(cid)
    inc = act["incidents"].get(cid)
    warn = warnings.get(cid, [])
    if order is None and inc is None and not warn:
        return None
    n_contacts = int(act["unanswered"].get(cid, {}).get("n", 0))
    figs: dict[str, Any] = {
        "last_order_before": prev_at.date().isoformat(),
        "silent_days": silent,
        "contacts_unanswered": n_contacts,
        "ordered_on": None,
        "orders_this_month": 0,
        "revenue_this_month": None,
        "incidents_this_month": 0,
        "warnings": warn,
    }
    reasons = [
        f"No order for {silent} days before {start.date().isoformat()} (last on "
        f"{figs['last_order_before']}); "
        + (
            f"{_n(n_contacts, 'contact')} since then went unanswered."
            if n_contacts
            else "nobody has contacted them since."
        )
    ]
    changes = []
    if order is not None:
        first = _utc(order["first"])
        assert first is not None
        figs.update(
            ordered_on=first.date().isoformat(),
            orders_this_month=int(order["orders"]),
            revenue_this_month=cents(order["revenue"]),
        )
        changes.append("ordered")
        reasons.append(
            f"They ordered again on {figs['ordered_on']} ({_n(figs['orders_this_month'], 'order')}, "
            f"{shown(figs['revenue_this_month'], cur)}): thank them personally and ask what brought them "
            "back."
        )
    if inc is not None:
        figs["incidents_this_month"] = int(inc["n"])
        changes.append("got_in_touch")
        reasons.append(
            f"They got in touch: {_n(figs['incidents_this_month'], 'incident')} opened this month; answer "
            "quickly, it is a chance to win them back."
        )
    if warn:
        changes.append("warning")
        reasons.append(f"The monthly review warns about them: {', '.join(warn)}.")
    figs["changes"] = changes
    return _ENGAGE[changes[0]], figs, reasons


def _left(cid: str, act: dict[str, dict[str, dict[str, Any]]]) -> bool:
    """An exit is recorded on or after their last order (so they have not come back since)."""
    exit_at = _utc(act["exits"].get(cid, {}).get("at"))
    if exit_at is None:
        return False
    last = _utc(act["this_month"].get(cid, {}).get("first") or act["last_before"].get(cid, {}).get("at"))
    return last is None or exit_at >= last


def _contact(
    cid: str,
    tier_row: dict[str, Any],
    level: ServiceLevel,
    act: dict[str, dict[str, dict[str, Any]]],
    as_of: pd.Timestamp,
    n_ranked: int,
    cur: str,
) -> tuple[str, dict[str, Any], list[str]] | None:
    last = act["last_contact"].get(cid)
    last_at = _utc(last["at"]) if last else None
    since = None if last_at is None else _days(as_of, last_at)
    if since is not None and since < level.contact_every_days:
        return None
    figs: dict[str, Any] = {
        "last_contact": None if last_at is None else last_at.date().isoformat(),
        "days_since_contact": since,
        "contact_every_days": level.contact_every_days,
        "overdue_days": None if since is None else since - level.contact_every_days,
        "twelve_month_profit": cents(tier_row["profit"]),
        "rank": int(tier_row["rank"]),
    }
    when = (
        "no contact on record"
        if since is None
        else f"the last contact was on {figs['last_contact']}, {since} days ago"
    )
    reasons = [
        f"{level.tier.capitalize()} tier (twelve-month profit {shown(figs['twelve_month_profit'], cur)}, "
        f"rank {figs['rank']:,} of {n_ranked:,}): a proactive contact every {level.contact_every_days} days, "
        f"by the {level.handled_by}; {when}."
    ]
    return "contact", figs, reasons
