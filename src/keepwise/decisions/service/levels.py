"""Service levels by tier, and the shapes of the outreach plan (:class:`Action`, :class:`OutreachPlan`).

See :mod:`keepwise.decisions.service` for the rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

import pandas as pd

from keepwise.config import DecisionAssumptions
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.inventory import Note
from keepwise.value.tiers import TIERS

__all__ = [
    "ACTIONS",
    "CONTACT_CHANNELS",
    "DECIDE_DAYS",
    "NO_CONSENT",
    "SERVICE_FIELDS",
    "STATUSES",
    "Action",
    "ActionKind",
    "OutreachPlan",
    "ServiceLevel",
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
    #: Inputs the plan lacked and what it did instead (:class:`keepwise.store.inventory.Note`).
    notes: list[Note] = field(default_factory=list)

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
            "notes": [n.to_json() for n in self.notes],
        }


def _purpose(a: Action) -> str | None:
    """The consent purpose ``a`` needs; ``None`` when they got in touch (answering them needs none)."""
    if a.action == "re_engage" and "got_in_touch" in a.figures.get("changes", []):
        return None
    return _PURPOSE[a.action]
