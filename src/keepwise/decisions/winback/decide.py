"""The decision on one lost customer: not a candidate, won back, not wanted, worth a contact or not.

See :mod:`keepwise.decisions.winback` for the whole rule; this module holds steps 1-3 and 6 for one customer
and the order of the ranking.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from keepwise.config import DecisionAssumptions
from keepwise.decisions.winback.menu import OfferMenu, chance_words, cost_words, scaled
from keepwise.decisions.winback.offers import _CENT, Offer
from keepwise.decisions.winback.rate import ReasonRate, _pct, own_chance
from keepwise.money import cents, shown

__all__ = ["LostCustomer", "Status", "WinbackRow", "decide", "order_rows"]

Status = Literal["contact", "not_worth_contact", "not_wanted", "not_candidate", "won_back"]


@dataclass(frozen=True)
class LostCustomer:
    """What the ranking knows about one lost customer (money in the reporting currency)."""

    customer_id: str
    lost_at: datetime
    how: str
    reason: str
    currency: str
    revenue: Decimal
    gross_margin: Decimal
    cost_to_serve: Decimal
    concessions: Decimal
    advocacy_value: Decimal
    profit: Decimal
    operating_profit: Decimal
    tier: str
    months: int
    competitor: str | None = None
    won_back_at: datetime | None = None
    last_attempt: Mapping[str, Any] | None = None
    wanted_back: bool | None = None
    failed_attempts: int = 0
    first_failed_at: datetime | None = None
    #: from :func:`keepwise.value.worth.customer_worth` (``None``: operating profit / ``months``)
    monthly_profit: Decimal | None = None
    monthly_margin: Decimal | None = None
    basis: str | None = None
    years: float | None = None


@dataclass
class WinbackRow:
    """The decision on one lost customer (see the module docstring)."""

    customer: LostCustomer
    status: Status
    recommendation: str
    reasons: list[str]
    chance: ReasonRate | None = None
    offer: Offer | None = None
    monthly_profit: Decimal | None = None
    value_if_back: Decimal | None = None
    contact_cost: Decimal | None = None
    expected_value: Decimal | None = None
    rank: int | None = None
    #: with a conjoint study: the chance under the chosen offer (``chance``: the one under the lost offer)
    offer_chance: float | None = None

    @property
    def used_chance(self) -> float | None:
        """The chance the expected value was computed with (under the chosen offer when there is a study)."""
        if self.offer_chance is not None:
            return self.offer_chance
        return None if self.chance is None else self.chance.mean

    def to_json(self) -> dict[str, Any]:
        """Plain data; money as strings with two decimals."""
        c = self.customer
        doc: dict[str, Any] = {
            "customer_id": c.customer_id,
            "rank": self.rank,
            "status": self.status,
            "recommendation": self.recommendation,
            "lost_at": c.lost_at.isoformat(),
            "how": c.how,
            "reason": c.reason,
            "competitor": c.competitor,
            "currency": c.currency,
            "tier": c.tier,
            "lifetime": {
                "revenue": cents(c.revenue),
                "gross_margin": cents(c.gross_margin),
                "cost_to_serve": cents(c.cost_to_serve),
                "concessions": cents(c.concessions),
                "advocacy_value": cents(c.advocacy_value),
                "profit": cents(c.profit),
                "operating_profit": cents(c.operating_profit),
                "months": c.months,
            },
        }
        if c.monthly_margin is not None:
            doc["monthly_margin"] = cents(c.monthly_margin)
            doc["basis"] = c.basis
            doc["years"] = c.years
        doc["wanted_back"] = c.wanted_back
        doc["failed_attempts"] = c.failed_attempts
        if self.chance is not None:
            doc["chance"] = round(self.used_chance or 0.0, 4)
            if self.offer_chance is not None:
                doc["chance_under_lost_offer"] = round(self.chance.mean, 4)
            doc["chance_interval"] = [round(self.chance.low, 4), round(self.chance.high, 4)]
            if self.chance.reason_mean is not None:
                doc["chance_for_reason"] = round(self.chance.reason_mean, 4)
        if self.offer is not None:
            doc["offer"] = self.offer.to_json()
        for name in ("monthly_profit", "value_if_back", "contact_cost", "expected_value"):
            value = getattr(self, name)
            if value is not None:
                doc[name] = cents(value)
        if c.last_attempt is not None:
            doc["last_attempt"] = {
                "attempted_at": c.last_attempt["attempted_at"].isoformat(),
                "offer": c.last_attempt.get("offer"),
                "won_back": bool(c.last_attempt["won_back"]),
            }
        doc["reasons"] = self.reasons
        return doc


def _profit_words(c: LostCustomer) -> str:
    cur = c.currency
    return (
        f"lifetime profit {shown(c.profit, cur)}: gross margin {shown(c.gross_margin, cur)} less cost to "
        f"serve {shown(c.cost_to_serve, cur)} and concessions {shown(c.concessions, cur)}, plus advocacy "
        f"value {shown(c.advocacy_value, cur)} (tier {c.tier})"
    )


def _lost_words(c: LostCustomer) -> str:
    how = "recorded exit" if c.how == "exit" else "no purchase for longer than the inactivity rule"
    return f"lost on {c.lost_at:%Y-%m-%d} ({how}; reason: {c.reason})"


def decide(
    c: LostCustomer,
    rate: ReasonRate,
    offer: Offer | OfferMenu,
    cfg: DecisionAssumptions,
) -> WinbackRow:
    """The decision on one lost customer, before ranking (see the module docstring for the rules).

    ``offer``: the configured offer for their exit reason, or a stored conjoint study's priced offers
    (:class:`~keepwise.decisions.winback.menu.OfferMenu`), among which the one with the highest expected
    value for this customer is chosen (its chance scaled by its acceptance, its cost paid if they come back).
    """
    cur = c.currency
    if c.reason in cfg.winback_not_candidates:
        return WinbackRow(
            c,
            "not_candidate",
            "do not try to win back",
            [
                f"{_lost_words(c)}: a customer who left for '{c.reason}' cannot come back, whatever the "
                "offer, so they are not a candidate and are not ranked",
            ],
        )
    if c.won_back_at is not None:
        return WinbackRow(
            c,
            "won_back",
            "already won back",
            [f"{_lost_words(c)}; won back by the attempt of {c.won_back_at:%Y-%m-%d}"],
        )
    if c.wanted_back is False:
        return WinbackRow(
            c,
            "not_wanted",
            "graceful goodbye: thank them, no offer, leave the door open",
            [
                f"{_lost_words(c)}; the business recorded that it does not want them back "
                f"(exits.wanted_back = false), so they are not ranked, whatever their figures "
                f"({_profit_words(c)})",
                "say goodbye gracefully (a thank-you without an offer) so they part on good terms and still "
                "recommend you to others",
            ],
        )
    if c.tier == "lead" and c.wanted_back is not True:
        return WinbackRow(
            c,
            "not_wanted",
            "graceful goodbye: thank them, no offer, leave the door open",
            [
                f"{_lost_words(c)}; {_profit_words(c)}: they cost more than they brought, so they are not "
                "wanted back",
                "say goodbye gracefully (a thank-you without an offer) so they part on good terms and still "
                "recommend you to others",
            ],
        )
    if c.monthly_profit is not None:
        monthly = c.monthly_profit.quantize(_CENT, ROUND_HALF_UP)
    else:
        monthly = (c.operating_profit / max(c.months, 1)).quantize(_CENT, ROUND_HALF_UP)
    how_long = f"{c.months} months as a customer"
    if c.basis == "one purchase":
        how_long += ": one purchase, counted as their year"
    elif c.years is not None and c.years <= 1:
        how_long += ": less than a year, counted as one"
    value = monthly * cfg.winback_months
    rate = own_chance(rate, c.failed_attempts, cfg)
    chance = Decimal(str(round(rate.mean, 4)))
    contact = cfg.contact_cost
    if c.wanted_back:
        wanted = "the business recorded that it wants them back (exits.wanted_back = true)"
    else:
        wanted = "wanted back"
    reasons = [
        f"{_lost_words(c)}; {_profit_words(c)}: {wanted}",
        f"monthly profit {shown(monthly, cur)} (operating profit {shown(c.operating_profit, cur)} over "
        f"{how_long}), so {cfg.winback_months} months back is worth {shown(value, cur)}",
    ]
    base = chance
    from_menu = isinstance(offer, OfferMenu)
    if isinstance(offer, OfferMenu):
        menu = offer
        i, p = menu.best(float(chance), value, contact)
        offer = menu.offers[i]
        odds = float(menu.ratios[i])
        chance = Decimal(str(round(p, 4)))
        rate = replace(rate, low=float(scaled(rate.low, odds)), high=float(scaled(rate.high, odds)))
        ev = (chance * (value - offer.cost) - contact).quantize(_CENT, ROUND_HALF_UP)
        reasons += [
            f"chance of winning them back under the offer they left: {rate.source}",
            f"offer: {offer.text}, the best for them of {len(menu.offers)} by expected value; "
            f"{chance_words(menu, offer, float(base), float(chance))} (90% interval {_pct(rate.low)}-"
            f"{_pct(rate.high)})",
            cost_words(offer, cur, cfg.winback_months),
            f"expected value = {_pct(float(chance))} x ({shown(value, cur)} - "
            f"{shown(offer.cost, cur)} offer) - {shown(contact, cur)} contact = {shown(ev, cur)}",
        ]
    else:
        ev = (chance * value - offer.cost - contact).quantize(_CENT, ROUND_HALF_UP)
        reasons += [
            f"chance of winning them back {_pct(float(chance))} (90% interval {_pct(rate.low)}-"
            f"{_pct(rate.high)}): {rate.source}",
            f"offer: {offer.text} (cost {shown(offer.cost, cur)}; {offer.source})",
            f"expected value = {_pct(float(chance))} x {shown(value, cur)} - "
            f"{shown(offer.cost, cur)} offer - {shown(contact, cur)} contact = {shown(ev, cur)}",
        ]
    if c.failed_attempts and rate.reason_mean is not None:
        last = c.last_attempt
        offered = f"; last offer: {last.get('offer') or 'not recorded'}" if last is not None else ""
        reasons.append(
            f"tried {c.failed_attempts} time(s) since {c.first_failed_at or c.lost_at:%Y-%m-%d}, no answer"
            f"{offered}: that lowers the chance from {_pct(rate.reason_mean)} for '{c.reason}' to "
            f"{_pct(float(base))}"
        )
    if ev > 0:
        status: Status = "contact"
        rec = f"contact them with: {offer.text}"
    else:
        status = "not_worth_contact"
        rec = "not worth a contact"
        reasons.append(f"the expected value {shown(ev, cur)} is not positive, so a contact would not pay")
        if offer.ratio is not None:
            reasons[-1] += " with any of the study's offers: no offer"
    return WinbackRow(
        c,
        status,
        rec,
        reasons,
        rate,
        offer,
        monthly,
        value,
        contact,
        ev,
        offer_chance=float(chance) if from_menu else None,
    )


def order_rows(rows: list[WinbackRow]) -> list[WinbackRow]:
    """Rank candidates by expected value (highest first, ties by customer id); others follow, unranked."""
    candidates = [r for r in rows if r.status in ("contact", "not_worth_contact")]
    candidates.sort(key=lambda r: (-(r.expected_value or Decimal(0)), r.customer.customer_id))
    for i, r in enumerate(candidates, start=1):
        r.rank = i
    order = {"won_back": 0, "not_wanted": 1, "not_candidate": 2}
    rest = sorted(
        (r for r in rows if r.rank is None),
        key=lambda r: (order.get(r.status, 3), r.customer.customer_id),
    )
    for r in rest:
        r.rank = None
    return candidates + rest
