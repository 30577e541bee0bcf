"""Win-back ranking: which lost customers to approach, with what offer, and what each is worth.

For every customer in the lost-customer ledger of the month (:func:`keepwise.signals.build_ledger`: exits
plus the inactivity rule of ``[review]``), keepwise decides, in this order:

1. **Not a candidate** when their exit reason is in ``[decisions] winback_not_candidates`` (moved away,
   closed down): listed with that reason, never ranked, whatever their value.
2. **Already won back** when a ``winback_attempts`` row on or after their ``lost_at`` says ``won_back``.
3. **Wanted back?** First what the business recorded: ``exits.wanted_back`` of the exit the ledger uses
   (only for customers lost by a recorded exit). ``false`` means **not wanted**, whatever the figures;
   ``true`` is said in the reasons and keeps them wanted even in the lead tier (the expected value still
   decides the contact); empty (unknown) leaves it to their lifetime profitability
   (:func:`keepwise.value.profitability.profitability`, view ``lifetime``: gross margin less cost to serve
   and concessions, plus advocacy value; tiers of :mod:`keepwise.value.tiers`): a customer in the *lead*
   tier (profit below ``[value] lead_below_profit``) is **not wanted**. Not wanted means a graceful goodbye
   (a thank-you without an offer), so they part on good terms and still speak well of the business.
4. **Chance of winning them back**, by exit reason: a Beta prior centred on the commonly cited range
   (Griffin and Lowenstein, *Customer Winback*, 2001: 20-40% of lost customers come back, against 5-20% of
   prospects), mean ``m = (winback_low + winback_high) / 2`` and weight ``w = winback_prior_weight``, i.e.
   ``Beta(a0 = m w, b0 = (1 - m) w)``; updated by the business's own ``winback_attempts`` with that exit
   reason (``k`` won back of ``n``) to the beta-binomial posterior ``Beta(a0 + k, b0 + n - k)``, whose mean
   ``(a0 + k) / (w + n)`` is the reason's chance, with its central 90% interval. A customer the business
   already tried to win back without success (``winback_attempts`` rows for them after their last order,
   none won back: ``f`` of them) gets their own chance (:func:`own_chance`): the reason's chance ``m`` as
   the mean of a Beta prior worth ``w`` attempts, each own attempt a Bernoulli failure, so
   ``Beta(m w, (1 - m) w + f)`` with mean ``m w / (w + f)`` (its interval is shown instead).
5. **The offer**: from the latest stored conjoint study when there is one
   (:func:`keepwise.conjoint.simulator.best_offer`; its cost is the price concession, the highest price level
   less the offer's price). The candidates are the study's allowed offers
   (:func:`keepwise.conjoint.simulator.candidate_offers`): by the prohibitions of its YAML file when one is
   given (``keepwise winback --study FILE``), else by those stored with it (``keepwise conjoint estimate
   --save NAME --study FILE``), else, for a study saved without them, every level combination of the coding
   (said in the offer's source and the notes). Otherwise ``[decisions] offers``
   by exit reason with its cost from ``[decisions] offer_costs`` (``unknown`` for reasons not listed).
6. **Expected value** = chance x value if back - offer cost - contact cost, where value if back = monthly
   profit x ``winback_months`` and monthly profit = lifetime operating profit (gross margin less cost to
   serve and concessions) / the calendar months they were a customer, from the first purchase to
   ``lost_at`` (both included; unlike the ledger's first-to-last purchase count, a one-order customer is
   not credited with a whole month's worth of profit a month). Candidates with a positive expected value
   are ranked by it (**contact**); the rest are
   **not worth a contact**.

Every row carries ``reasons`` quoting the figures of its JSON, and the ranking lists the assumptions it used.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import ibis
import pandas as pd
from scipy import stats

from keepwise import features
from keepwise.config import Config, DecisionAssumptions, load_config, used
from keepwise.exceptions import KeepwiseInputError
from keepwise.money import cents, shown
from keepwise.signals.ledger import _months_spanned, build_ledger, lost_status
from keepwise.signals.period import ReviewPeriod, last_complete_month

if TYPE_CHECKING:
    from keepwise.conjoint.study import Study

__all__ = [
    "INTERVAL",
    "LostCustomer",
    "Offer",
    "ReasonRate",
    "WinbackRanking",
    "WinbackRow",
    "beta_prior",
    "decide",
    "offer_for",
    "order_rows",
    "own_chance",
    "posterior",
    "rank_winback",
]

#: Central probability mass of the interval given with each chance.
INTERVAL = 0.90
Status = Literal["contact", "not_worth_contact", "not_wanted", "not_candidate", "won_back"]
_CENT = Decimal("0.01")


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


# --- the chance: beta-binomial by exit reason -----------------------------------------------------------
@dataclass(frozen=True)
class ReasonRate:
    """The chance of winning back a customer who left for ``reason``: prior, own attempts, posterior."""

    reason: str
    prior_a: float
    prior_b: float
    attempts: int
    won: int
    a: float
    b: float
    mean: float
    low: float
    high: float
    own_failed: int = 0
    reason_mean: float | None = None

    @property
    def source(self) -> str:
        """Where the chance comes from, in words."""
        words = self._reason_source()
        if self.own_failed == 0 or self.reason_mean is None:
            return words
        return (
            f"{words}, a rate of {_pct(self.reason_mean)}; their own {self.own_failed} failed attempt(s) "
            f"then lower it: Beta({self.a:g}, {self.b:g}) = the reason's rate as a Beta prior worth "
            f"{self.a + self.b - self.own_failed:g} attempts, plus {self.own_failed} failure(s)"
        )

    def _reason_source(self) -> str:
        if self.attempts == 0:
            return (
                f"no past win-back attempts on customers who left over '{self.reason}', so the prior: "
                f"Beta({self.prior_a:g}, {self.prior_b:g}), the commonly cited 20-40% range"
            )
        return (
            f"{self.won} of {self.attempts} past win-back attempts on customers who left over "
            f"'{self.reason}' succeeded; with the prior Beta({self.prior_a:g}, {self.prior_b:g}) that gives "
            f"Beta({self.a:g}, {self.b:g})"
        )

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "reason": self.reason,
            "prior": {"a": self.prior_a, "b": self.prior_b},
            "attempts": self.attempts,
            "won_back": self.won,
            "posterior": {"a": self.a, "b": self.b},
            "chance": round(self.mean, 4),
            "interval": [round(self.low, 4), round(self.high, 4)],
            "source": self.source,
        }


def beta_prior(cfg: DecisionAssumptions) -> tuple[float, float]:
    """``(a0, b0)``: mean ``(winback_low + winback_high) / 2``, weight ``winback_prior_weight`` attempts."""
    mean = (cfg.winback_low + cfg.winback_high) / 2
    weight = float(cfg.winback_prior_weight)
    return round(mean * weight, 6), round((1 - mean) * weight, 6)


def posterior(reason: str, attempts: int, won: int, cfg: DecisionAssumptions) -> ReasonRate:
    """The beta-binomial posterior ``Beta(a0 + won, b0 + attempts - won)`` and its central interval."""
    if not 0 <= won <= attempts:
        raise KeepwiseInputError(f"won back ({won}) must be between 0 and the attempts ({attempts})")
    a0, b0 = beta_prior(cfg)
    if a0 <= 0 or b0 <= 0:
        raise KeepwiseInputError(
            "[decisions] winback_prior_weight must be at least 1 and winback_low/high strictly between 0 "
            "and 1"
        )
    a, b = a0 + won, b0 + attempts - won
    low, high = _interval(a, b)
    return ReasonRate(reason, a0, b0, attempts, won, a, b, a / (a + b), low, high)


def _interval(a: float, b: float) -> tuple[float, float]:
    tail = (1 - INTERVAL) / 2
    low, high = (float(v) for v in stats.beta.ppf([tail, 1 - tail], a, b))
    return low, high


def own_chance(rate: ReasonRate, failed: int, cfg: DecisionAssumptions) -> ReasonRate:
    """The chance for one customer whose own ``failed`` past win-back attempts all failed.

    The customer's own chance ``p`` is drawn around their exit reason's rate ``m`` (the mean of ``rate``):
    ``p ~ Beta(m w, (1 - m) w)`` with ``w = winback_prior_weight``, the weight the cited range is given.
    Each failed attempt on them is a Bernoulli failure of ``p``, so their posterior is
    ``Beta(m w, (1 - m) w + failed)`` with mean ``m w / (w + failed)``: never above ``m``, lower with every
    failure. ``w`` and not the reason posterior's own weight ``w + attempts``: the business's attempts
    pin down the *average* rate of a reason, not how far one customer's chance can sit from it (with the
    latter, one failure would move a customer's chance by less and less as the business records attempts).
    With no failed attempt the reason's rate is returned unchanged.
    """
    if failed < 0:
        raise KeepwiseInputError(f"failed attempts must not be negative ({failed})")
    if failed == 0:
        return rate
    w = float(cfg.winback_prior_weight)
    a = round(rate.mean * w, 6)
    b = round((1 - rate.mean) * w, 6) + failed
    low, high = _interval(a, b)
    return replace(
        rate, a=a, b=b, mean=a / (a + b), low=low, high=high, own_failed=failed, reason_mean=rate.mean
    )


# --- the offer ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Offer:
    """What to offer: its words, its cost, where it came from, and the grant the messages word."""

    text: str
    cost: Decimal
    source: str
    grant: dict[str, Any]
    take_up: float | None = None
    notes: tuple[str, ...] = ()
    levels: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        doc: dict[str, Any] = {"text": self.text, "cost": cents(self.cost), "source": self.source}
        if self.take_up is not None:
            doc["take_up"] = round(self.take_up, 4)
        if self.levels is not None:
            doc["levels"] = self.levels
        return doc


def map_offer(reason: str, cfg: DecisionAssumptions) -> Offer:
    """The configured offer for ``reason`` (``unknown`` when the reason has none)."""
    key = reason if reason in cfg.offers else "unknown"
    text = cfg.offers.get(key) or "a friendly check-in call"
    cost = Decimal(str(cfg.offer_costs.get(key, cfg.offer_costs.get("unknown", Decimal(0)))))
    source = f"[decisions] offers.{key} (no conjoint study in the store)"
    return Offer(text, cost, source, {"kind": "other", "note": text})


def _stored_study(result: Any) -> Study | None:
    """The stored study's design rebuilt from its coding and stored prohibitions (``None``: none stored)."""
    from keepwise.conjoint.study import Attribute, Study

    if result.prohibitions is None:
        return None
    coding = result.coding
    attributes = tuple(
        Attribute(a.name, tuple(a.values), numeric=True) if a.numeric else Attribute(a.name, tuple(a.levels))
        for a in coding.attributes
        if a.name != coding.none
    )
    names = [a.name for a in attributes]
    where = f"conjoint study '{result.study or 'latest'}'"
    rules: list[dict[int, int]] = []
    for i, rule in enumerate(result.prohibitions):
        coded: dict[int, int] = {}
        for name, level in rule.items():
            if name not in names:
                raise KeepwiseInputError(
                    f"{where}: stored prohibitions[{i}] names an unknown attribute {name}"
                )
            attr = attributes[names.index(name)]
            levels = [str(v) for v in attr.levels] if not attr.numeric else list(attr.levels)
            value = float(level) if attr.numeric else str(level)
            if value not in levels:
                raise KeepwiseInputError(
                    f"{where}: stored prohibitions[{i}]: '{level}' is not a level of {name}"
                )
            coded[names.index(name)] = levels.index(value)
        rules.append(coded)
    return Study(
        name=result.study or "latest", attributes=attributes, price=coding.price, prohibitions=tuple(rules)
    )


def _rules_text(study: Study) -> str:
    """The study's prohibitions in words: ``plan Basic & support Dedicated manager; ...``."""
    shown_rules = [
        " & ".join(
            f"{study.attributes[a].name} {_level_text(study.attributes[a].levels[level])}"
            for a, level in sorted(rule.items())
        )
        for rule in study.prohibitions
    ]
    return "; ".join(shown_rules) if shown_rules else "none"


def _level_text(level: Any) -> str:
    return f"{level:g}" if isinstance(level, float) else str(level)


def _candidates(coding: Any, study: Study | None, where: str) -> tuple[list[dict[str, Any]], str]:
    """Candidate offers: the study's allowed offers when its design is known, else the coding's whole grid."""
    from keepwise.conjoint.simulator import candidate_offers

    if study is None:
        levels = []
        for attr in coding.attributes:
            if attr.name == coding.none:
                continue
            values = list(attr.values) if attr.numeric else list(attr.levels)
            levels.append([(attr.name, v) for v in values])
        grid = [dict(combo) for combo in itertools.islice(itertools.product(*levels), _MAX_CANDIDATES)]
        return grid, (
            f"the best of {len(grid)} level combinations by expected margin (the study was saved without "
            "its prohibitions: give its file with --study, or save it with --study, to leave them out)"
        )
    coded = {a.name: a for a in coding.attributes if a.name != coding.none}
    if set(coded) != set(study.names):
        raise KeepwiseInputError(
            f"{where}: its attributes {sorted(study.names)} are not those of the stored study {sorted(coded)}"
        )
    for attr in study.attributes:
        known = coded[attr.name]
        if known.numeric != attr.numeric or (
            not attr.numeric and not {str(v) for v in attr.levels} <= set(known.levels)
        ):
            raise KeepwiseInputError(
                f"{where}: attribute '{attr.name}' has levels {list(attr.levels)}, the stored study "
                f"{list(known.values if known.numeric else known.levels)}"
            )
    allowed = [
        {k: (float(v) if coded[k].numeric else str(v)) for k, v in offer.items()}
        for offer in candidate_offers(study)
    ]
    if not allowed:
        raise KeepwiseInputError(f"{where}: its prohibitions leave no offer")
    allowed = allowed[:_MAX_CANDIDATES]
    left_out = int(study.n_levels.prod()) - len(allowed)
    return allowed, (
        f"the best of the study's {len(allowed)} allowed offers by expected margin ({left_out} prohibited "
        f"combinations left out; prohibitions applied, from {where}: {_rules_text(study)})"
    )


#: At most this many candidate offers are priced.
_MAX_CANDIDATES = 20_000


def _conjoint_offer(
    backend: Any, cost_ratio: float, currency: str, study: Study | None = None, where: str = "study"
) -> Offer | None:
    """The best offer of the latest stored conjoint study, or ``None`` (no study, or it cannot price one).

    With ``study`` (the study's YAML, :func:`keepwise.conjoint.study.load_study`) only its allowed offers
    are candidates: a prohibited combination is never proposed. Without it the prohibitions stored with the
    study (``keepwise conjoint estimate --save NAME --study FILE``) are applied; a study saved without them
    has every level combination as a candidate, which its notes say.
    """
    try:
        from keepwise.conjoint.simulator import best_offer
        from keepwise.conjoint.store import load_result
    except ImportError:
        return None
    result = load_result(backend)
    if result is None:
        return None
    coding = result.coding
    price = coding.price
    if price is None:
        return None
    notes: list[str] = []
    if study is None:
        study = _stored_study(result)
        where = f"the prohibitions stored with conjoint study '{result.study or 'latest'}'"
        if study is None:
            notes.append(
                "the conjoint offer was chosen among every level combination: the study was saved without "
                "its prohibitions, so give the study file (keepwise winback --study FILE, or save it with "
                "keepwise conjoint estimate --save NAME --study FILE) to leave them out"
            )
    candidates, how = _candidates(coding, study, where)
    if study is not None:
        notes.append(f"prohibited offers left out ({where}): {_rules_text(study)}")
    prices = [float(c[price]) for c in candidates]
    list_price = max(float(v) for v in coding.attribute(price).values)
    choice = best_offer(result, candidates, [p * cost_ratio for p in prices], currency=currency)
    offer = choice.offer
    words = ", ".join(f"{k} {shown(v, currency) if k == price and currency else v}" for k, v in offer.items())
    concession = Decimal(str(max(list_price - float(offer[price]), 0.0))).quantize(_CENT, ROUND_HALF_UP)
    name = result.study or "latest"
    source = (
        f"conjoint study '{name}': {how}; its cost is the price concession, the highest price level "
        f"{shown(list_price, currency or 'USD')} less the offer's price"
    )
    return Offer(
        words,
        concession,
        source,
        {"kind": "other", "note": words},
        take_up=choice.take_up,
        notes=(*notes, *choice.reasons),
        levels=dict(offer),
    )


# --- one customer ---------------------------------------------------------------------------------------
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
        doc["wanted_back"] = c.wanted_back
        doc["failed_attempts"] = c.failed_attempts
        if self.chance is not None:
            doc["chance"] = round(self.chance.mean, 4)
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
    offer: Offer,
    cfg: DecisionAssumptions,
) -> WinbackRow:
    """The decision on one lost customer, before ranking (see the module docstring for the rules)."""
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
    monthly = (c.operating_profit / max(c.months, 1)).quantize(_CENT, ROUND_HALF_UP)
    value = monthly * cfg.winback_months
    rate = own_chance(rate, c.failed_attempts, cfg)
    chance = Decimal(str(round(rate.mean, 4)))
    contact = cfg.contact_cost
    ev = (chance * value - offer.cost - contact).quantize(_CENT, ROUND_HALF_UP)
    if c.wanted_back:
        wanted = "the business recorded that it wants them back (exits.wanted_back = true)"
    else:
        wanted = "wanted back"
    reasons = [
        f"{_lost_words(c)}; {_profit_words(c)}: {wanted}",
        f"monthly profit {shown(monthly, cur)} (operating profit {shown(c.operating_profit, cur)} over "
        f"{c.months} months as a customer), so {cfg.winback_months} months back is worth {shown(value, cur)}",
        f"chance of winning them back {_pct(float(chance))} (90% interval {_pct(rate.low)}-"
        f"{_pct(rate.high)}): {rate.source}",
        f"offer: {offer.text} (cost {shown(offer.cost, cur)}; {offer.source})",
        f"expected value = {_pct(float(chance))} x {shown(value, cur)} - {shown(offer.cost, cur)} offer - "
        f"{shown(contact, cur)} contact = {shown(ev, cur)}",
    ]
    if c.failed_attempts and rate.reason_mean is not None:
        last = c.last_attempt
        offered = f"; last offer: {last.get('offer') or 'not recorded'}" if last is not None else ""
        reasons.append(
            f"tried {c.failed_attempts} time(s) since {c.first_failed_at or c.lost_at:%Y-%m-%d}, no answer"
            f"{offered}: that lowers the chance from {_pct(rate.reason_mean)} for '{c.reason}' to "
            f"{_pct(float(chance))}"
        )
    if ev > 0:
        status: Status = "contact"
        rec = f"contact them with: {offer.text}"
    else:
        status = "not_worth_contact"
        rec = "not worth a contact"
        reasons.append(f"the expected value {shown(ev, cur)} is not positive, so a contact would not pay")
    return WinbackRow(c, status, rec, reasons, rate, offer, monthly, value, contact, ev)


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


# --- the whole ranking ----------------------------------------------------------------------------------
@dataclass
class WinbackRanking:
    """Every lost customer of the month's ledger with its decision, best first."""

    month: str
    currency: str
    rows: list[WinbackRow]
    rates: dict[str, ReasonRate]
    offer_source: str
    assumptions: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def top(self, n: int | None = None) -> list[WinbackRow]:
        """The customers worth a contact, best first (at most ``n``)."""
        ranked = [r for r in self.rows if r.status == "contact"]
        return ranked if n is None else ranked[:n]

    def by_status(self, status: Status) -> list[WinbackRow]:
        """Rows with ``status``."""
        return [r for r in self.rows if r.status == status]

    def row(self, customer_id: str) -> WinbackRow | None:
        """The row of ``customer_id``, if they are in the ledger."""
        for r in self.rows:
            if r.customer.customer_id == customer_id:
                return r
        return None

    def to_json(self, top: int | None = None) -> dict[str, Any]:
        """One JSON document: the ranked list (``top`` of it), the others by status, rates, assumptions."""
        counts = {s: len(self.by_status(s)) for s in _STATUSES}
        ranked = self.top(top)
        total = sum((r.expected_value or Decimal(0) for r in ranked), Decimal(0))
        return {
            "month": self.month,
            "currency": self.currency,
            "lost_customers": len(self.rows),
            "counts": counts,
            "ranked": [r.to_json() for r in ranked],
            "expected_value_of_ranked": cents(total),
            "not_worth_contact": [r.to_json() for r in self.by_status("not_worth_contact")],
            "not_wanted": [r.to_json() for r in self.by_status("not_wanted")],
            "not_candidates": [r.to_json() for r in self.by_status("not_candidate")],
            "won_back": [r.to_json() for r in self.by_status("won_back")],
            "chance_by_reason": {k: v.to_json() for k, v in sorted(self.rates.items())},
            "offer_source": self.offer_source,
            "rule": (
                "expected value = chance x monthly profit x winback_months - offer cost - contact cost; "
                "ranked when positive"
            ),
            "assumptions": self.assumptions,
            "notes": self.notes,
        }


_STATUSES: tuple[Status, ...] = ("contact", "not_worth_contact", "not_wanted", "not_candidate", "won_back")


def _attempts(backend: Any, before: datetime) -> pd.DataFrame:
    t = backend.table("winback_attempts")
    t = t.filter(t.attempted_at < ibis.literal(before))
    df = t.select("customer_id", "attempted_at", "reason_code", "offer", "won_back").to_pyarrow().to_pandas()
    code = df["reason_code"].where(df["reason_code"].notna() & (df["reason_code"] != ""), "unknown")
    df["reason"] = code.astype(str)
    df["attempted_at"] = pd.to_datetime(df["attempted_at"], utc=True)
    df["won_back"] = df["won_back"].fillna(False).astype(bool)
    return df.sort_values(["customer_id", "attempted_at"], ignore_index=True)


def _study(study: Study | str | Path | None) -> tuple[Study | None, str]:
    """The study and how to name it in messages (its file when it was read from one)."""
    if study is None or not isinstance(study, (str, Path)):
        return study, f"study '{study.name}'" if study is not None else "study"
    from keepwise.conjoint.study import load_study

    return load_study(Path(study)), str(study)


def _wanted_back(backend: Any, before: datetime) -> dict[tuple[str, datetime], bool]:
    """``exits.wanted_back`` where recorded, by ``(customer_id, lost_at)`` (the exit the ledger uses)."""
    t = backend.table("exits")
    t = t.filter((t.lost_at < ibis.literal(before)) & t.wanted_back.notnull())
    df = t.select("customer_id", "lost_at", "wanted_back").to_pyarrow().to_pandas()
    lost = pd.to_datetime(df["lost_at"], utc=True)
    return {
        (str(c), ts.to_pydatetime(warn=False)): bool(w)
        for c, ts, w in zip(df["customer_id"], lost, df["wanted_back"], strict=True)
    }


def _cost_ratio(prof: pd.DataFrame) -> float:
    revenue = float(sum(prof["revenue"], Decimal(0)))
    cogs = float(sum(prof["cogs"], Decimal(0)))
    return cogs / revenue if revenue > 0 else 0.0


#: Figures of other sections the ranking depends on: the lost-customer rule and the tiers.
_ALSO_USED = (
    "review.inactivity_days",
    "review.inactivity_gaps",
    "value.reporting_currency",
    "value.platinum_share",
    "value.gold_share",
    "value.lead_below_profit",
)


def _assumptions(cfg: Config) -> list[dict[str, Any]]:
    """``[decisions]`` in full, then the ``[review]`` and ``[value]`` figures in :data:`_ALSO_USED`."""
    others = [a for section in ("review", "value") for a in used(cfg, section) if a["name"] in _ALSO_USED]
    return [*used(cfg, "decisions"), *others, _OWN_ATTEMPTS]


#: The model of a customer's own failed attempts (:func:`own_chance`), listed with the figures.
_OWN_ATTEMPTS: dict[str, Any] = {
    "name": "winback.own_failed_attempts",
    "value": "m w / (w + f)",
    "from": "default",
    "source": (
        "assumption: a customer's own chance is Beta(m w, (1 - m) w) around their exit reason's chance m, "
        "w = decisions.winback_prior_weight; on the simulator one failure lowers the true chance by 2-5%, "
        "w / (w + 1) = 4.8% at w = 20"
    ),
    "meaning": (
        "each failed win-back attempt on the customer since their last order (f of them) is a Bernoulli "
        "failure of their own chance, which becomes m w / (w + f)"
    ),
}


def rank_winback(
    backend: Any,
    month: str | None = None,
    config: Config | None = None,
    study: Study | str | Path | None = None,
) -> WinbackRanking:
    """Decide on every lost customer of ``month``'s ledger and rank the candidates by expected value.

    Parameters
    ----------
    backend:
        The store (:func:`keepwise.store.connect`).
    month:
        ``YYYY-MM``; default: the last complete month of the orders (as ``keepwise review``).
    config:
        Assumptions (default: ``keepwise.toml`` in the working directory, else the documented defaults).
    study:
        The stored conjoint study's design, its YAML file or as :func:`keepwise.conjoint.study.load_study`
        reads it: its prohibited offers are never proposed. Without it the prohibitions stored with the
        study apply (every level combination of the stored coding when it was saved without them).
    """
    from keepwise.value.profitability import profitability

    cfg = config or load_config()
    spec, where = _study(study)
    period = ReviewPeriod.of(month) if month else last_complete_month(backend)
    first = backend.table("orders").ordered_at.min().to_pyarrow().as_py()
    if first is None:
        raise KeepwiseInputError("the store holds no orders; load some first (keepwise load DIR)")
    if pd.Timestamp(period.end) <= pd.Timestamp(first):
        raise KeepwiseInputError(
            f"month {period.month} is before the first order ({first:%Y-%m-%d}); pick a later one"
        )
    lines = features.order_lines(backend, period.end)
    ords = features.orders(lines)
    status = lost_status(backend, ords, period, cfg.review)
    ledger = build_ledger(backend, ords, period, status=status, rules=cfg.review)
    prof = profitability(backend, period.month, view="lifetime", config=cfg).set_index("customer_id")
    currency = cfg.value.reporting_currency
    dec = cfg.decisions
    attempts = _attempts(backend, period.end)
    counts = attempts.groupby("reason")["won_back"].agg(["count", "sum"])
    rates: dict[str, ReasonRate] = {
        str(r): posterior(str(r), int(row["count"]), int(row["sum"]), dec) for r, row in counts.iterrows()
    }
    notes: list[str] = list(ledger.notes)
    offer_cj: Offer | None = None
    try:
        offer_cj = _conjoint_offer(backend, _cost_ratio(prof), currency, spec, where)
    except KeepwiseInputError as exc:
        if spec is not None:
            message = str(exc) if str(exc).startswith(where) else f"{where}: {exc}"
            raise KeepwiseInputError(message) from exc
        notes.append(f"the stored conjoint study could not price an offer ({exc}); using [decisions] offers")
    if offer_cj is None and spec is not None:
        notes.append(f"{where} was given but the store holds no fitted conjoint study to price its offers")
    offer_source = offer_cj.source if offer_cj is not None else "[decisions] offers by exit reason"
    if offer_cj is not None:
        notes.extend(offer_cj.notes)
    spans = status.set_index("customer_id")[["first_order_at", "last_order_at"]]
    wanted_back = _wanted_back(backend, period.end)
    by_customer = {cid: g for cid, g in attempts.groupby("customer_id")}
    zero = Decimal("0.0000")
    rows: list[WinbackRow] = []
    for r in ledger.customers.itertuples(index=False):
        cid = str(r.customer_id)
        lost_ts: Any = r.lost_at
        lost_at = pd.Timestamp(lost_ts).to_pydatetime(warn=False)
        p = prof.loc[cid] if cid in prof.index else None
        first_at: Any = spans.loc[cid, "first_order_at"]
        months = _months_spanned(pd.Timestamp(first_at), pd.Timestamp(lost_at)) if pd.notna(first_at) else 1
        mine = by_customer.get(cid)
        won_back_at, last, first_failed, n_failed = None, None, None, 0
        if mine is not None:
            last_order: Any = spans.loc[cid, "last_order_at"]
            failed = mine[~mine["won_back"]]
            if pd.notna(last_order):
                failed = failed[failed["attempted_at"] > pd.Timestamp(last_order)]
            n_failed = len(failed)
            if n_failed:
                first_failed = failed["attempted_at"].iloc[0].to_pydatetime()
            after = mine[mine["attempted_at"] >= pd.Timestamp(lost_at)]
            won = after[after["won_back"]]
            if len(won):
                won_back_at = won["attempted_at"].iloc[-1].to_pydatetime()
            last_row = mine.iloc[-1]
            last = {
                "attempted_at": last_row["attempted_at"].to_pydatetime(),
                "offer": last_row["offer"],
                "won_back": bool(last_row["won_back"]),
            }

        def amount(name: str, p: Any = p) -> Decimal:
            return Decimal(p[name]) if p is not None and p[name] is not None else zero

        reason = str(r.reason)
        customer = LostCustomer(
            customer_id=cid,
            lost_at=lost_at,
            how=str(r.how),
            reason=reason,
            currency=currency,
            revenue=amount("revenue"),
            gross_margin=amount("gross_margin"),
            cost_to_serve=amount("cost_to_serve"),
            concessions=amount("concessions"),
            advocacy_value=amount("advocacy_value"),
            profit=amount("profit"),
            operating_profit=amount("operating_profit"),
            tier=str(p["tier"]) if p is not None else "lead",
            months=months,
            competitor=r.competitor if isinstance(r.competitor, str) else None,
            won_back_at=won_back_at,
            last_attempt=last,
            wanted_back=wanted_back.get((cid, lost_at)) if str(r.how) == "exit" else None,
            failed_attempts=n_failed,
            first_failed_at=first_failed,
        )
        rate = rates.get(reason) or posterior(reason, 0, 0, dec)
        offer = offer_cj if offer_cj is not None else map_offer(reason, dec)
        rows.append(decide(customer, rate, offer, dec))
    for missing in {row.customer.reason for row in rows} - set(rates):
        rates[missing] = posterior(missing, 0, 0, dec)
    return WinbackRanking(
        month=period.month,
        currency=currency,
        rows=order_rows(rows),
        rates=rates,
        offer_source=offer_source,
        assumptions=_assumptions(cfg),
        notes=notes,
    )


# --- the hook the message flows call --------------------------------------------------------------------
_CACHE: dict[int, tuple[tuple[Any, ...], WinbackRanking]] = {}


def _fingerprint(backend: Any) -> tuple[Any, ...]:
    """What the ranking depends on, cheaply: row counts and latest times of its tables (one query)."""
    parts = [
        "(SELECT count(*) FROM orders)",
        "(SELECT max(ordered_at) FROM orders)",
        "(SELECT count(*) FROM exits)",
        "(SELECT max(lost_at) FROM exits)",
        "(SELECT count(*) FROM winback_attempts)",
        "(SELECT max(attempted_at) FROM winback_attempts)",
    ]
    con = getattr(backend, "con", None)
    if con is not None and hasattr(con, "execute"):
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "conjoint_studies" in tables:
            parts.append("(SELECT max(saved_at) FROM conjoint_studies)")
        return tuple(con.execute("SELECT " + ", ".join(parts)).fetchone())
    stamp: list[Any] = []
    for name, col in (("orders", "ordered_at"), ("exits", "lost_at"), ("winback_attempts", "attempted_at")):
        t = backend.table(name)
        row = t.aggregate(n=t.count(), last=t[col].max()).to_pyarrow().to_pylist()[0]
        stamp += [row["n"], row["last"]]
    return tuple(stamp)


def offer_for(backend: Any, customer_id: str) -> dict[str, Any] | None:
    """The win-back offer for ``customer_id`` when the ranking says to contact them, else ``None``.

    Called by :func:`keepwise.messages.flows.decided_offer`. The answer is a mapping with ``kind``
    (``other``), ``note`` (the offer in words), and ``amount``/``currency``/``percent``/``code``/
    ``valid_until`` left empty. The ranking of the last complete month is computed once per store state
    (orders, exits, attempts, studies) and reused for every customer of a flow run.
    """
    key = id(backend)
    stamp = _fingerprint(backend)
    cached = _CACHE.get(key)
    if cached is None or cached[0] != stamp:
        ranking = rank_winback(backend)
        _CACHE[key] = (stamp, ranking)
    else:
        ranking = cached[1]
    row = ranking.row(customer_id)
    if row is None or row.status != "contact" or row.offer is None:
        return None
    grant = dict(row.offer.grant)
    grant.setdefault("amount", None)
    grant.setdefault("currency", None)
    grant.setdefault("percent", None)
    grant.setdefault("code", None)
    grant.setdefault("valid_until", None)
    return grant
