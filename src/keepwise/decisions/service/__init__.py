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
    the review has run for the month).
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

The package is split by concern: the plan (:mod:`~keepwise.decisions.service.levels`,
:mod:`~keepwise.decisions.service.activity`, :mod:`~keepwise.decisions.service.rules`,
:mod:`~keepwise.decisions.service.plan`) and its follow-through
(:mod:`~keepwise.decisions.service.follow_through`: saving it, marking actions done or skipped). The stage's
front door is :func:`keepwise.decisions.outreach.run`.
"""

from keepwise.decisions.service.follow_through import mark, save_plan
from keepwise.decisions.service.levels import (
    ACTIONS,
    CONTACT_CHANNELS,
    DECIDE_DAYS,
    NO_CONSENT,
    SERVICE_FIELDS,
    STATUSES,
    Action,
    ActionKind,
    OutreachPlan,
    ServiceLevel,
    service_levels,
)
from keepwise.decisions.service.plan import outreach

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
    "mark",
    "outreach",
    "save_plan",
    "service_levels",
]
