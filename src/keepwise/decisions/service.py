"""Service tiers and this month's outreach: who to contact, who to reprice or let go, who to re-engage.

Each profitability tier of the customer pyramid (Zeithaml, Rust and Lemon, "The Customer Pyramid: Creating
and Serving Profitable Customers", California Management Review 43(4), 2001) gets a service level from
``keepwise.toml`` ``[decisions]``: a proactive contact every ``service_contact_days[tier]`` days, an answer
within ``service_response_hours[tier]`` hours, handled by ``service_handler[tier]``. Lead customers get less
effort, never none. Tiers are those of :func:`keepwise.value.profitability` on the trailing twelve months
ending with the month (one month is too noisy to set a service level on).

The month's actions, as of the end of the month (``as_of``), at most one per customer, in this order:

``reprice_or_part_ways``
    Profit below zero in each of the last ``unprofitable_periods`` periods of ``unprofitable_period_months``
    months (default: two quarters), revenue in them (they still buy: there is something to reprice) and a
    loss over them of at least ``reprice_min_loss``. The break-even price rise is ``loss / revenue``; when it
    is at most ``reprice_max_increase`` the recommendation is ``reprice``, else ``part_ways`` (gracefully:
    a kind goodbye keeps their word of mouth). The reasons quote the months unprofitable, the loss, the cost
    to serve against the gross margin.
``re_engage``
    Unresponsive customers whose behaviour changes: no order in the ``dormant_days`` before the month began
    (the contacts made since their last order went unanswered), and in the month they ordered again, opened
    an incident (got in touch) or received a warning in the monthly review (table ``review_warnings``, when
    ``keepwise review`` has run for the month).
``contact``
    A proactive contact is due: the last contact (a staff time log or a sent outbox message) is at least the
    tier's cadence before ``as_of``, or there is none. Customers whose exit is recorded after their last
    order are left to the win-back ranking.

Consent (:func:`keepwise.messages.consent.has_consent`, the check messages use at send time): a proactive
contact and a reprice-or-part-ways conversation need a ``service`` consent, a re-engagement a ``marketing``
one (as the messages' re-engagement kinds do), by phone or e-mail, in force at ``as_of``; a customer who got
in touch this month is answered without one. A customer without it keeps their service level, but the
action is ``on_next_inbound`` (contacts and re-engagement; reprice-or-part-ways keeps its recommendation)
and the reasons say "no consent to contact: handle on their next inbound contact". Consent is read from
DuckDB stores only for now.

Each action has a due date: a contact when the cadence ran out (the first day of the month when there is no
contact on record), a re-engagement the tier's response time after the first change seen (the end of the
month for a review warning), reprice-or-part-ways ``DECIDE_DAYS`` after the end of the month.

:func:`save_plan` writes the plan to the store's ``outreach_actions`` table (one transaction: a rerun of the
month replaces its ``planned`` rows and never touches those marked ``done`` or ``skipped``); :func:`mark`
records that an action was done or skipped. A contact or re-engagement marked done counts as a contact
(at ``recorded_at``) for the next months' cadence.

Money figures are :class:`decimal.Decimal` in the reporting currency; in JSON they are strings with two
decimals, and the reasons quote the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import ibis
import pandas as pd

from keepwise.config import Config, DecisionAssumptions, load_config, used
from keepwise.exceptions import KeepwiseInputError
from keepwise.money import cents, shown
from keepwise.value.profitability import (
    View,
    customer_ledger,
    frame,
    latest_month,
    month_label,
    parse_month,
    period,
    profitability,
)
from keepwise.value.tiers import TIERS

__all__ = [
    "ACTIONS",
    "CONTACT_CHANNELS",
    "SERVICE_FIELDS",
    "STATUSES",
    "Action",
    "OutreachPlan",
    "ServiceLevel",
    "mark",
    "outreach",
    "save_plan",
    "service_levels",
]

#: What to do about the first change seen (an order, getting in touch, a warning).
_ENGAGE = {"ordered": "welcome_back", "got_in_touch": "answer_and_win_back", "warning": "check_in"}

ActionKind = Literal["reprice_or_part_ways", "re_engage", "contact"]
#: Actions in priority order (a customer gets the first that applies).
ACTIONS: tuple[str, ...] = ("reprice_or_part_ways", "re_engage", "contact")
#: The ``[decisions]`` figures outreach uses (the report lists them).
SERVICE_FIELDS: tuple[str, ...] = (
    "service_contact_days",
    "service_response_hours",
    "service_handler",
    "unprofitable_periods",
    "unprofitable_period_months",
    "reprice_min_loss",
    "reprice_max_increase",
    "dormant_days",
)
_TIER_FIELDS = ("platinum_share", "gold_share", "lead_below_profit", "reporting_currency")
#: Channels a proactive contact may use, in the order tried: the first with consent in force is used.
CONTACT_CHANNELS: tuple[str, ...] = ("phone", "email")
#: Consent purpose each action needs (``keepwise.messages.consent``: re-engagement is marketing).
_PURPOSE = {"contact": "service", "re_engage": "marketing", "reprice_or_part_ways": "service"}
#: Status of a saved action.
STATUSES: tuple[str, ...] = ("planned", "done", "skipped")
#: Days after the end of the month by which a reprice-or-part-ways decision is due.
DECIDE_DAYS = 30
NO_CONSENT = "on_next_inbound"


@dataclass(frozen=True)
class ServiceLevel:
    """What one tier gets."""

    tier: str
    contact_every_days: int
    response_hours: int
    handled_by: str


def service_levels(cfg: DecisionAssumptions) -> dict[str, ServiceLevel]:
    """Each tier's service level from ``[decisions]``; a tier the file leaves out keeps its default.

    Lead customers get reduced effort but never none, so every cadence and response time must be a whole
    number of at least 1 (anything else is an input error naming the key).
    """
    defaults = DecisionAssumptions()
    contact_days = {**defaults.service_contact_days, **cfg.service_contact_days}
    response_hours = {**defaults.service_response_hours, **cfg.service_response_hours}
    handler = {**defaults.service_handler, **cfg.service_handler}
    out: dict[str, ServiceLevel] = {}
    for tier in TIERS:
        days = contact_days.get(tier)
        hours = response_hours.get(tier)
        who = handler.get(tier)
        for key, value in (("service_contact_days", days), ("service_response_hours", hours)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise KeepwiseInputError(
                    f"decisions.{key}.{tier} must be a whole number of at least 1, not {value!r} "
                    "(every tier, lead included, gets some service)"
                )
        if not isinstance(who, str) or not who.strip():
            raise KeepwiseInputError(f"decisions.service_handler.{tier} must name who handles the tier")
        assert isinstance(days, int) and isinstance(hours, int)
        out[tier] = ServiceLevel(tier, days, hours, who)
    for key in ("service_contact_days", "service_response_hours", "service_handler"):
        extra = sorted(set(getattr(cfg, key)) - set(TIERS))
        if extra:
            raise KeepwiseInputError(
                f"decisions.{key} has unknown tier(s) {', '.join(extra)}; the tiers are {', '.join(TIERS)}"
            )
    if cfg.unprofitable_periods < 1 or cfg.unprofitable_period_months < 1:
        raise KeepwiseInputError(
            "decisions.unprofitable_periods and decisions.unprofitable_period_months must be at least 1"
        )
    return out


@dataclass
class Action:
    """One customer's action this month, with the figures it rests on and the reasons in words."""

    customer_id: str
    action: ActionKind
    tier: str
    handled_by: str
    response_hours: int
    recommendation: str
    figures: dict[str, Any]
    reasons: list[str]
    due_on: date | None = None
    #: Channel with consent in force (``None``: none, the action waits for their next inbound contact).
    channel: str | None = None

    def to_json(self) -> dict[str, Any]:
        """JSON-able: money as strings with two decimals (the reasons quote them)."""
        return {
            "customer_id": self.customer_id,
            "action": self.action,
            "recommendation": self.recommendation,
            "tier": self.tier,
            "handled_by": self.handled_by,
            "response_hours": self.response_hours,
            "channel": self.channel,
            "due_on": None if self.due_on is None else self.due_on.isoformat(),
            "figures": self.figures,
            "reasons": self.reasons,
        }


@dataclass
class OutreachPlan:
    """The result of :func:`outreach`."""

    month: str
    as_of: datetime
    currency: str
    levels: dict[str, ServiceLevel]
    tiers: pd.DataFrame
    actions: list[Action]
    assumptions: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Actions per kind, and how many of them wait for an inbound contact (no consent in force)."""
        out = {k: sum(a.action == k for a in self.actions) for k in ACTIONS}
        out["no_consent"] = sum(a.channel is None and _purpose(a) is not None for a in self.actions)
        return out

    def to_json(self) -> dict[str, Any]:
        """The plan as one JSON document (what ``keepwise outreach --json`` prints)."""
        per_tier = self.tiers["tier"].value_counts().to_dict()
        return {
            "month": self.month,
            "as_of": self.as_of.isoformat(),
            "currency": self.currency,
            "service_levels": [
                {
                    "tier": lv.tier,
                    "customers": int(per_tier.get(lv.tier, 0)),
                    "contact_every_days": lv.contact_every_days,
                    "response_hours": lv.response_hours,
                    "handled_by": lv.handled_by,
                }
                for lv in self.levels.values()
            ],
            "counts": self.counts(),
            "actions": [a.to_json() for a in self.actions],
            "assumptions": self.assumptions,
        }


# ---------------------------------------------------------------------------------------------- the data


def _utc(ts: Any) -> pd.Timestamp | None:
    if ts is None or (not isinstance(ts, str) and pd.isna(ts)):
        return None
    t = pd.Timestamp(ts)
    return t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC")


def _rows(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """{customer_id: row as a dict} of a per-customer frame."""
    return {str(r["customer_id"]): {str(k): v for k, v in r.items()} for r in df.to_dict("records")}


def _by_customer(expr: Any) -> dict[str, dict[str, Any]]:
    """Execute a per-customer expression into {customer_id: row}."""
    return {r["customer_id"]: r for r in expr.to_pyarrow().to_pylist()}


def _activity(store: Any, start: datetime, end: datetime) -> dict[str, dict[str, dict[str, Any]]]:
    """Orders, contacts, incidents and exits per customer around the month ``[start, end)``."""
    lo, hi = ibis.literal(start), ibis.literal(end)
    o = store.table("orders")
    before = o.filter(o.ordered_at < lo)
    during = o.filter((o.ordered_at >= lo) & (o.ordered_at < hi))
    last_before = _by_customer(before.group_by("customer_id").aggregate(at=before.ordered_at.max()))
    this_month = _by_customer(
        during.group_by("customer_id").aggregate(
            first=during.ordered_at.min(),
            orders=during.order_id.nunique(),
            revenue=(during.quantity * during.unit_price).sum(),
        )
    )

    logs = store.table("time_logs")
    logs = logs.filter(logs.started_at < hi).select(customer_id=logs.customer_id, at=logs.started_at)
    box = store.table("outbox")
    box = box.filter((box.status == "sent") & box.sent_at.notnull() & (box.sent_at < hi))
    contacts = ibis.union(logs, box.select(customer_id=box.customer_id, at=box.sent_at), distinct=False)
    if "outreach_actions" in store.list_tables():  # contacts and re-engagements marked done
        done = store.table("outreach_actions")
        done = done.filter(
            (done.status == "done")
            & done.action.isin(["contact", "re_engage"])
            & done.recorded_at.notnull()
            & (done.recorded_at < hi)
        )
        contacts = ibis.union(
            contacts, done.select(customer_id=done.customer_id, at=done.recorded_at), distinct=False
        )
    last_contact = _by_customer(contacts.group_by("customer_id").aggregate(at=contacts["at"].max()))
    lb = before.group_by("customer_id").aggregate(last=before.ordered_at.max())
    c = contacts.left_join(lb, contacts.customer_id == lb.customer_id)
    c = c.filter((c["at"] < lo) & (c["last"].isnull() | (c["at"] > c["last"])))
    unanswered = _by_customer(c.group_by("customer_id").aggregate(n=c.count()))

    inc = store.table("incidents")
    inc = inc.filter((inc.opened_at >= lo) & (inc.opened_at < hi))
    incidents = _by_customer(inc.group_by("customer_id").aggregate(n=inc.count(), first=inc.opened_at.min()))
    ex = store.table("exits")
    ex = ex.filter(ex.lost_at < hi)
    exits = _by_customer(ex.group_by("customer_id").aggregate(at=ex.lost_at.max()))
    return {
        "last_before": last_before,
        "this_month": this_month,
        "last_contact": last_contact,
        "unanswered": unanswered,
        "incidents": incidents,
        "exits": exits,
    }


def _warnings(store: Any, month: str) -> dict[str, list[str]]:
    """Warning kinds per customer from the monthly review of ``month`` (empty if it has not run)."""
    if "review_warnings" not in store.list_tables():
        return {}
    w = store.table("review_warnings")
    if not {"customer_id", "kind", "review_month"} <= set(w.columns):
        return {}
    rows = w.filter(w.review_month == month).select("customer_id", "kind").to_pyarrow().to_pylist()
    out: dict[str, list[str]] = {}
    for r in rows:
        kinds = out.setdefault(r["customer_id"], [])
        if r["kind"] not in kinds:
            kinds.append(r["kind"])
    return out


def _losses(store: Any, month: str, cfg: Config) -> pd.DataFrame:
    """Per customer: profit of each of the last ``unprofitable_periods`` periods and the window's totals."""
    d = cfg.decisions
    last = parse_month(month)
    n_months = d.unprofitable_periods * d.unprofitable_period_months
    view: View = "ttm" if n_months <= 12 else "lifetime"
    ledger = customer_ledger(store, month, view=view, by_month=True, config=cfg)
    ledger = ledger.filter(ledger.month_index > last - n_months)
    m = frame(
        ledger.select("customer_id", "month_index", "revenue", "gross_margin", "cost_to_serve", "profit")
    )
    cols = ["customer_id", "revenue", "gross_margin", "cost_to_serve", "profit", "months_negative", "periods"]
    if m.empty:
        return pd.DataFrame(columns=cols)
    m["k"] = (last - m["month_index"]) // d.unprofitable_period_months
    per = m.groupby(["customer_id", "k"])["profit"].sum()
    periods = per.unstack("k").reindex(columns=range(d.unprofitable_periods))
    tot = m.groupby("customer_id")[["revenue", "gross_margin", "cost_to_serve", "profit"]].sum()
    tot["months_negative"] = (m["profit"] < 0).groupby(m["customer_id"]).sum().astype(int)
    tot["periods"] = [
        [None if pd.isna(v) else v for v in row] for row in periods.reindex(tot.index).itertuples(index=False)
    ]
    return tot.reset_index()[cols]


# ------------------------------------------------------------------------------------------------ rules


def _purpose(a: Action) -> str | None:
    """The consent purpose ``a`` needs; ``None`` when they got in touch (answering them needs none)."""
    if a.action == "re_engage" and "got_in_touch" in a.figures.get("changes", []):
        return None
    return _PURPOSE[a.action]


#: Who has which consent in force: ``(purpose, channel) -> customer ids``.
Consents = dict[tuple[str, str], set[str]]


def _consents(store: Any, actions: list[Action], at: datetime) -> Consents:
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
    """When the action is due (see the module's docstring)."""
    if a.action == "contact":
        last = a.figures["last_contact"]
        if last is None:
            return start.date()
        return date.fromisoformat(last) + timedelta(days=a.figures["contact_every_days"])
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
        extra = f" or {figs['break_even_staff_time_cut']:.1%} less staff time" if cut is not None else ""
        reasons.append(
            f"Prices {figs['break_even_price_increase']:.1%} higher on their orders{extra} would break "
            f"even; that is within the {d.reprice_max_increase:.0%} a customer can be asked to accept: "
            "reprice (or move them to cheaper channels) and review again next quarter."
        )
    else:
        reasons.append(
            f"Breaking even would need prices {figs['break_even_price_increase']:.1%} higher, beyond the "
            f"{d.reprice_max_increase:.0%} a customer can be asked to accept: part ways gracefully (a kind "
            "goodbye and a pointer to self-service), so they still speak well of you."
        )
    return rec, figs, reasons


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


# -------------------------------------------------------------------------------------------------- API


def outreach(store: Any, month: str | None = None, *, config: Config | None = None) -> OutreachPlan:
    """The month's service actions: proactive contacts due, reprice or part ways, re-engagement.

    Parameters
    ----------
    store:
        Ibis backend of the store (:func:`keepwise.store.connect`).
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
    cfg = config or load_config()
    d = cfg.decisions
    levels = service_levels(d)
    month = month or latest_month(store)
    per = period(month, "month")
    assert per.start is not None
    start, as_of = pd.Timestamp(per.start), pd.Timestamp(per.end)
    cur = cfg.value.reporting_currency

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
    _need_duckdb(store, "outreach checks consent")
    consents = _consents(store, actions, per.end)
    for a in actions:
        _apply_consent(consents, a, per.end)
        a.due_on = _due(a, act, per.start, per.end)

    wanted = {f"decisions.{f}" for f in SERVICE_FIELDS} | {f"value.{f}" for f in _TIER_FIELDS}
    assumptions = [a for a in used(cfg, "decisions") + used(cfg, "value") if a["name"] in wanted]
    return OutreachPlan(
        month=per.month,
        as_of=per.end,
        currency=cur,
        levels=levels,
        tiers=tiers,
        actions=actions,
        assumptions=assumptions,
    )


# ------------------------------------------------------------------------------------------------ store


def _need_duckdb(store: Any, what: str) -> Any:
    from keepwise.store.connection import duckdb_connection

    try:
        return duckdb_connection(store)
    except KeepwiseInputError:
        raise KeepwiseInputError(f"{what} on DuckDB stores only for now") from None


def _at(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def save_plan(store: Any, plan: OutreachPlan, recorded_at: datetime | None = None) -> dict[str, int]:
    """Write ``plan`` to ``outreach_actions`` in one transaction.

    The month's ``planned`` rows are replaced; rows marked ``done`` or ``skipped`` are never touched, and an
    action of the plan that already has one is not written again.

    Returns
    -------
    dict
        ``saved`` (planned rows written), ``kept`` (the month's done or skipped rows) and ``rows`` (the
        month's rows now).
    """
    con = _need_duckdb(store, "the outreach_actions table is kept")
    at = _at(recorded_at)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute("DELETE FROM outreach_actions WHERE month = ? AND status = 'planned'", [plan.month])
        kept = {
            (r[0], r[1])
            for r in con.execute(
                "SELECT customer_id, action FROM outreach_actions WHERE month = ?", [plan.month]
            ).fetchall()
        }
        rows = [
            [
                plan.month,
                a.customer_id,
                a.action,
                a.recommendation,
                a.tier,
                a.handled_by,
                a.channel,
                None if a.due_on is None else datetime(*a.due_on.timetuple()[:3], tzinfo=UTC),
                "\n".join(a.reasons),
                "planned",
                None,
                at,
            ]
            for a in plan.actions
            if (a.customer_id, a.action) not in kept
        ]
        if rows:
            con.executemany(
                "INSERT INTO outreach_actions (month, customer_id, action, recommendation, tier, handled_by, "
                "channel, due_at, reasons, status, note, recorded_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        n = con.execute("SELECT count(*) FROM outreach_actions WHERE month = ?", [plan.month]).fetchone()[0]
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return {"saved": len(rows), "kept": len(kept), "rows": int(n)}


def mark(
    store: Any,
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
        raise KeepwiseInputError(f"--action must be one of {', '.join(ACTIONS)}, not '{action}'")
    con = _need_duckdb(store, "the outreach_actions table is kept")
    key = [month, customer_id, action]
    found = con.execute(
        "SELECT count(*) FROM outreach_actions WHERE month = ? AND customer_id = ? AND action = ?", key
    ).fetchone()[0]
    if not found:
        raise KeepwiseInputError(
            f"no {action} action for customer '{customer_id}' in {month} in outreach_actions "
            f"(keepwise outreach --month {month} saves the month's plan)"
        )
    con.execute(
        "UPDATE outreach_actions SET status = ?, note = ?, recorded_at = ? "
        "WHERE month = ? AND customer_id = ? AND action = ?",
        [status, note, _at(at), *key],
    )
    cur = con.execute(
        "SELECT * FROM outreach_actions WHERE month = ? AND customer_id = ? AND action = ?", key
    )
    row = cur.fetchone()
    return dict(zip([d[0] for d in cur.description], row, strict=True))
