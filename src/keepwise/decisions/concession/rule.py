"""The concession rule without a store: approve, counter or refuse a cost given the customer's figures.

See :mod:`keepwise.decisions.concession` for the rule in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Literal

import numpy as np

from keepwise.config import DecisionAssumptions
from keepwise.exceptions import BadInput
from keepwise.money import cents, shown
from keepwise.store.inventory import Note

__all__ = [
    "CENT",
    "DEFAULT_GESTURE",
    "GESTURES",
    "ORDER",
    "ConcessionAdvice",
    "ConcessionFigures",
    "Decision",
    "decide",
    "parse_cost",
    "pct",
    "to_cent",
]

Decision = Literal["approve", "counter", "refuse"]
#: Decisions from least to most generous (the property tests rely on this order).
ORDER: dict[str, int] = {"refuse": 0, "counter": 1, "approve": 2}
CENT = Decimal("0.01")

#: A low-cost extra gesture by incident category, "to make it right and then some".
GESTURES: dict[str, str] = {
    "late": "a personal apology and free express delivery on the next order",
    "damaged": "a replacement sent by express at no charge and a personal apology",
    "billing": "a corrected invoice the same day and a call from the account manager",
    "quality": "a free replacement of the product and a follow-up call a week later",
}
DEFAULT_GESTURE = "a personal apology from a manager and a follow-up call a week later"


def parse_cost(cost: Decimal | float | str) -> Decimal:
    """The concession asked for as a :class:`~decimal.Decimal`; anything but an amount of at least 0 is bad.

    Raises :class:`~keepwise.exceptions.BadInput` for field ``cost`` (the CLI and the web show its message).
    """
    from keepwise.arguments import amount

    return amount(cost, "cost")  # at most 14 digits before the point and 4 after; at least 0


def to_cent(amount: Decimal | float | str) -> Decimal:
    """An amount rounded once, half up, to the cent (as :mod:`keepwise.money` shows it)."""
    return Decimal(str(amount)).quantize(CENT, rounding=ROUND_HALF_UP)


def pct(share: float) -> str:
    """A share as the reasons show it, e.g. ``12.3%``."""
    return f"{share:.1%}"


@dataclass(frozen=True)
class ConcessionFigures:
    """Everything the decision is computed from, for one customer and one incident."""

    customer_id: str
    currency: str
    future_margin: Decimal
    replacement_cost: Decimal
    word_of_mouth_loss: Decimal
    p_without: float
    p_with: float
    reduction_low: float
    reduction_high: float
    incident_id: str | None = None
    category: str | None = None
    effect_text: str = ""
    effect_source: str = "default"
    notes: tuple[str, ...] = ()
    #: the parts of ``future_margin`` (gross margin - cost to serve a week x weeks), when known
    gross_margin: Decimal | None = None
    cost_to_serve: Decimal | None = None
    cost_per_week: Decimal | None = None
    active_weeks: float | None = None
    #: the customer's one honest value (:func:`keepwise.value.worth.customer_worth`): margin a year, basis
    annual_margin: Decimal | None = None
    basis: str | None = None

    @property
    def reduction(self) -> float:
        """Drop in the chance of leaving that the concession buys."""
        return max(self.p_without - self.p_with, 0.0)

    @property
    def loss_if_leave(self) -> Decimal:
        """Future margin + replacement cost (if worth replacing) + word-of-mouth loss."""
        replace = self.replacement_cost if self.future_margin > 0 else Decimal(0)
        return to_cent(self.future_margin + replace + self.word_of_mouth_loss)


@dataclass
class ConcessionAdvice:
    """The advisor's answer, with the figures used and the reasons."""

    decision: Decision
    asked: Decimal
    recommended: Decimal
    max_that_pays: Decimal
    expected_benefit: Decimal
    break_even_reduction: float | None
    extra_gesture: str
    figures: ConcessionFigures
    reasons: list[str]
    assumptions: list[dict[str, Any]] = field(default_factory=list)
    #: the id in the store's decision log (None when not logged)
    decision_id: str | None = None
    #: inputs the advisor lacked and what it did instead (``notes`` of the JSON)
    missing: list[Note] = field(default_factory=list)
    #: the model of the effect kept and the tests that chose it (``effect`` of the JSON, beside the source)
    effect: dict[str, Any] = field(default_factory=dict)
    #: the drop-out model the customer is valued with and each candidate's holdout error (``value_model``)
    value_model: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The advice as JSON-able data: money as strings with two decimals."""
        f = self.figures
        return {
            "decision_id": self.decision_id,
            "customer_id": f.customer_id,
            "incident_id": f.incident_id,
            "category": f.category,
            "currency": f.currency,
            "decision": self.decision,
            "asked": cents(self.asked),
            "recommended": cents(self.recommended),
            "max_that_pays": cents(self.max_that_pays),
            "extra_gesture": self.extra_gesture,
            "break_even_reduction": self.break_even_reduction,
            "figures": {
                "future_margin": cents(f.future_margin),
                "gross_margin": None if f.gross_margin is None else cents(f.gross_margin),
                "cost_to_serve": None if f.cost_to_serve is None else cents(f.cost_to_serve),
                "cost_to_serve_per_week": None if f.cost_per_week is None else cents(f.cost_per_week),
                "weeks_as_customer": None if f.active_weeks is None else round(f.active_weeks, 1),
                "margin_a_year": None if f.annual_margin is None else cents(f.annual_margin),
                "margin_a_year_basis": f.basis,
                "replacement_cost": cents(f.replacement_cost if f.future_margin > 0 else 0),
                "word_of_mouth_loss": cents(f.word_of_mouth_loss),
                "loss_if_they_leave": cents(f.loss_if_leave),
                "p_leave_without": round(f.p_without, 4),
                "p_leave_with": round(f.p_with, 4),
                "reduction": round(f.reduction, 4),
                "reduction_interval": [round(f.reduction_low, 4), round(f.reduction_high, 4)],
                "expected_benefit": cents(self.expected_benefit),
            },
            "effect": {"source": f.effect_source, "description": f.effect_text, **self.effect},
            "value_model": self.value_model,
            "notes": [n.to_json() for n in self.missing],
            "remarks": list(f.notes),
            "assumptions": self.assumptions,
            "reasons": self.reasons,
        }


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value))


def _floor(amount: Decimal, step: Decimal = CENT) -> Decimal:
    return (amount / step).to_integral_value(rounding=ROUND_FLOOR) * step


def decide(figures: ConcessionFigures, cost: Decimal, cfg: DecisionAssumptions) -> ConcessionAdvice:
    """Approve, counter or refuse a concession of ``cost`` given the figures (no store needed).

    Parameters
    ----------
    figures:
        The customer's value, the replacement and word-of-mouth losses and the chances of leaving.
    cost:
        The concession asked for (not negative).
    cfg:
        The ``[decisions]`` assumptions (``counter_min_share``).
    """
    cost = Decimal(str(cost))
    if cost < 0:
        raise BadInput("cost", f"cannot be negative, got {cost}")
    cost = to_cent(cost)
    f, cur = figures, figures.currency
    loss = f.loss_if_leave
    # the reasons and the JSON quote probabilities rounded to 4 decimals; compute with the same figures
    p_wo, p_w, red = round(f.p_without, 4), round(f.p_with, 4), round(f.reduction, 4)
    reduction = Decimal(str(red))
    benefit = to_cent(reduction * loss) if loss > 0 else Decimal("0.00")
    max_pays = max(_floor(benefit), Decimal("0.00"))
    break_even = round(float(cost / loss), 4) if loss > 0 else None
    gesture = GESTURES.get(f.category or "", DEFAULT_GESTURE)

    def m(amount: Decimal) -> str:
        return shown(amount, cur)

    replace = f.replacement_cost if f.future_margin > 0 else Decimal(0)
    reasons: list[str] = []
    parts = ""
    if f.gross_margin is not None and f.cost_to_serve is not None and f.active_weeks is not None:
        parts = (
            f": {m(f.gross_margin)} of gross margin over about {f.active_weeks:.0f} more weeks as a customer"
            f" (discounted), less {m(f.cost_to_serve)} to serve them"
            + (f" at {m(f.cost_per_week)} a week" if f.cost_per_week is not None else "")
        )
    if f.annual_margin is not None:
        how = "their one purchase" if f.basis == "one purchase" else "a year while they have bought"
        reasons.append(f"{f.customer_id} has brought {m(f.annual_margin)} of margin {how}.")
    if f.future_margin > 0:
        reasons.append(
            f"If {f.customer_id} stays, they are expected to bring {m(f.future_margin)} of margin{parts}."
        )
    else:
        reasons.append(
            f"{f.customer_id} is expected to bring {m(f.future_margin)} of margin{parts}: they cost more "
            f"to serve than they bring."
        )
    reasons.append(
        f"Losing them would cost {m(loss)}: that margin, {m(replace)} to acquire a replacement"
        + (" (none: they are not worth replacing)" if f.future_margin <= 0 else "")
        + f" and {m(f.word_of_mouth_loss)} of word-of-mouth loss."
    )
    reasons.append(
        f"Without a concession the chance they leave is {pct(p_wo)}; with one it is {pct(p_w)}, "
        f"a drop of {pct(red)} ({f.effect_text})."
    )
    reasons.append(
        f"So the concession is worth {pct(red)} x {m(loss)} = {m(benefit)}; "
        f"the most that still pays is {m(max_pays)}."
    )
    if break_even is not None:
        reasons.append(
            f"{m(cost)} pays if it lowers the chance of leaving by at least {pct(break_even)} "
            f"(the break-even effect)."
        )
    if cost <= max_pays:
        decision: Decision = "approve"
        recommended = cost
        reasons.append(f"Approve {m(cost)}: it costs less than the {m(benefit)} it keeps.")
    elif max_pays > 0 and max_pays >= Decimal(str(cfg.counter_min_share)) * cost:
        decision = "counter"
        step = Decimal(1) if max_pays >= 10 else CENT
        recommended = max(_floor(max_pays, step), CENT)
        reasons.append(
            f"Counter with {m(recommended)} instead of {m(cost)}, and add {gesture}: the "
            f"full amount costs more than the {m(benefit)} it keeps."
        )
    else:
        decision = "refuse"
        recommended = Decimal("0.00")
        reasons.append(
            f"Refuse: {m(cost)} costs more than the {m(benefit)} the concession keeps; "
            f"offer {gesture} instead."
        )
    return ConcessionAdvice(
        decision=decision,
        asked=cost,
        recommended=recommended,
        max_that_pays=max_pays,
        expected_benefit=benefit,
        break_even_reduction=break_even,
        extra_gesture=gesture,
        figures=figures,
        reasons=reasons,
    )
