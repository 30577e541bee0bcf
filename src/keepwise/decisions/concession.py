"""The concession advisor: whether a representative may spend an amount to put a customer's problem right.

It weighs the concession against what losing the customer would cost::

    loss if they leave = expected future margin
                         + replacement cost (only for a customer worth replacing: future margin > 0)
                         + word-of-mouth loss (people told x trust in a friend's word x share who would have
                           become customers x the future margin of a typical customer)
    concession pays    = reduction in the chance of leaving it buys x loss if they leave

The expected future margin comes from :mod:`keepwise.decisions.facts` (CLV if alive, net of the customer's
cost-to-serve share); the reduction from :mod:`keepwise.decisions.effect` (the business's own incidents, or
the documented default). The answer:

- **approve** when the cost is at most what the concession pays;
- **counter** with the largest amount that still pays (rounded down to a whole unit) when that is at least
  ``counter_min_share`` of the cost asked for, plus an extra gesture that costs little;
- **refuse** otherwise.

So the decision can only move towards approve as the customer's value rises, and towards refuse as the cost
rises. The **break-even effect** is the reduction in the chance of leaving that would make the cost asked
for exactly pay: ``cost / loss if they leave``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_FLOOR, Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd

from keepwise.config import Config, DecisionAssumptions, load_config, used
from keepwise.decisions.effect import EffectEstimate, estimate_effect, incident_history
from keepwise.decisions.facts import (
    CostShares,
    ValueModel,
    history_at,
    order_table,
    replacement_cost,
)
from keepwise.exceptions import KeepwiseInputError

__all__ = ["ConcessionAdvice", "ConcessionAdvisor", "ConcessionFigures", "decide", "money", "pct"]

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


def money(amount: Decimal | float) -> str:
    """An amount as the JSON and the reasons show it: two decimals, no thousands separator."""
    return str(Decimal(str(amount)).quantize(CENT))


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

    @property
    def reduction(self) -> float:
        """Drop in the chance of leaving that the concession buys."""
        return max(self.p_without - self.p_with, 0.0)

    @property
    def loss_if_leave(self) -> Decimal:
        """Future margin + replacement cost (if worth replacing) + word-of-mouth loss."""
        replace = self.replacement_cost if self.future_margin > 0 else Decimal(0)
        return (self.future_margin + replace + self.word_of_mouth_loss).quantize(CENT)


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

    def to_json(self) -> dict[str, Any]:
        """The advice as JSON-able data: money as strings with two decimals."""
        f = self.figures
        return {
            "customer_id": f.customer_id,
            "incident_id": f.incident_id,
            "category": f.category,
            "currency": f.currency,
            "decision": self.decision,
            "asked": money(self.asked),
            "recommended": money(self.recommended),
            "max_that_pays": money(self.max_that_pays),
            "extra_gesture": self.extra_gesture,
            "break_even_reduction": self.break_even_reduction,
            "figures": {
                "future_margin": money(f.future_margin),
                "replacement_cost": money(f.replacement_cost if f.future_margin > 0 else 0),
                "word_of_mouth_loss": money(f.word_of_mouth_loss),
                "loss_if_they_leave": money(f.loss_if_leave),
                "p_leave_without": round(f.p_without, 4),
                "p_leave_with": round(f.p_with, 4),
                "reduction": round(f.reduction, 4),
                "reduction_interval": [round(f.reduction_low, 4), round(f.reduction_high, 4)],
                "expected_benefit": money(self.expected_benefit),
            },
            "effect": {"source": f.effect_source, "description": f.effect_text},
            "notes": list(f.notes),
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
        raise KeepwiseInputError(f"the cost of a concession cannot be negative, got {cost}")
    cost = cost.quantize(CENT)
    f, cur = figures, figures.currency
    loss = f.loss_if_leave
    # the reasons and the JSON quote probabilities rounded to 4 decimals; compute with the same figures
    p_wo, p_w, red = round(f.p_without, 4), round(f.p_with, 4), round(f.reduction, 4)
    reduction = Decimal(str(red))
    benefit = (reduction * loss).quantize(CENT) if loss > 0 else Decimal("0.00")
    max_pays = max(_floor(benefit), Decimal("0.00"))
    break_even = round(float(cost / loss), 4) if loss > 0 else None
    gesture = GESTURES.get(f.category or "", DEFAULT_GESTURE)
    reasons: list[str] = []
    if f.future_margin > 0:
        reasons.append(
            f"If {f.customer_id} stays, they are expected to bring {money(f.future_margin)} {cur} of margin "
            f"(after their cost to serve)."
        )
    else:
        reasons.append(
            f"{f.customer_id} is expected to bring {money(f.future_margin)} {cur} of margin: they cost more "
            f"to serve than they bring."
        )
    reasons.append(
        f"Losing them would cost {money(loss)} {cur}: that margin, "
        f"{money(f.replacement_cost if f.future_margin > 0 else 0)} {cur} to acquire a replacement and "
        f"{money(f.word_of_mouth_loss)} {cur} of word-of-mouth loss."
    )
    reasons.append(
        f"Without a concession the chance they leave is {pct(p_wo)}; with one it is {pct(p_w)}, "
        f"a drop of {pct(red)} ({f.effect_text})."
    )
    reasons.append(
        f"So the concession is worth {pct(red)} x {money(loss)} = {money(benefit)} {cur}; "
        f"the most that still pays is {money(max_pays)} {cur}."
    )
    if break_even is not None:
        reasons.append(
            f"{money(cost)} {cur} pays if it lowers the chance of leaving by at least {pct(break_even)} "
            f"(the break-even effect)."
        )
    if cost <= max_pays:
        decision: Decision = "approve"
        recommended = cost
        reasons.append(
            f"Approve {money(cost)} {cur}: it costs less than the {money(benefit)} {cur} it keeps."
        )
    elif max_pays > 0 and max_pays >= Decimal(str(cfg.counter_min_share)) * cost:
        decision = "counter"
        step = Decimal(1) if max_pays >= 10 else CENT
        recommended = max(_floor(max_pays, step), CENT)
        reasons.append(
            f"Counter with {money(recommended)} {cur} instead of {money(cost)} {cur}, and add {gesture}: the "
            f"full amount costs more than the {money(benefit)} {cur} it keeps."
        )
    else:
        decision = "refuse"
        recommended = Decimal("0.00")
        reasons.append(
            f"Refuse: {money(cost)} {cur} costs more than the {money(benefit)} {cur} the concession keeps; "
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


class ConcessionAdvisor:
    """Answers concession questions for one store: fits the value model and the effect once.

    Parameters
    ----------
    backend:
        The store.
    config:
        Assumptions; ``None`` reads ``keepwise.toml``.
    as_of:
        Use only history before this moment (default: all of it); the policy benchmark uses it to advise on
        later incidents with the history known at the time.
    """

    def __init__(self, backend: Any, config: Config | None = None, as_of: datetime | None = None):
        self.config = config or load_config()
        self.cfg = self.config.decisions
        self.backend = backend
        orders = order_table(backend)
        if orders.empty:
            raise KeepwiseInputError("the store has no orders: load orders before asking for advice")
        self.as_of = (
            pd.Timestamp(as_of) if as_of is not None else orders["ordered_at"].max() + pd.Timedelta(seconds=1)
        )
        # models and the effect use the history before as_of; a question at a later moment sees the
        # customer's own orders up to that moment
        self.all_orders = orders
        self.orders = orders[orders["ordered_at"] < self.as_of]
        self.value = ValueModel(self.cfg.horizon_months, self.cfg.discount_rate).fit(self.orders, self.as_of)
        self.history = incident_history(backend, self.orders, before=self.as_of)
        bg = self.value.purchase_.params_
        self.effect: EffectEstimate = estimate_effect(
            self.history, self.cfg, float(bg["r"]), float(bg["alpha"])
        )
        customers = backend.table("customers").select("customer_id").to_pandas()["customer_id"]
        self.known = set(customers.astype(str))
        self.replacement, self.replacement_source = replacement_cost(backend, self.cfg)
        self.cts = CostShares(backend, None, config=self.config)
        self.currency = self.config.value.reporting_currency
        wom = self.cfg.people_told * self.cfg.trust_in_friend * self.cfg.told_conversion
        self.word_of_mouth = Decimal(str(round(wom * max(self.value.typical_margin_, 0.0), 2))).quantize(CENT)

    def incident(self, customer_id: str, incident_id: str | None) -> tuple[str | None, str | None]:
        """The incident asked about (id and category): the given one, else the customer's latest."""
        inc = self.backend.table("incidents")
        if incident_id is not None:
            rows = inc.filter(inc.incident_id == incident_id).select("customer_id", "category").to_pandas()
            if rows.empty:
                raise KeepwiseInputError(f"unknown incident id '{incident_id}'")
            if str(rows.iloc[0]["customer_id"]) != customer_id:
                raise KeepwiseInputError(f"incident '{incident_id}' belongs to another customer")
            cat = rows.iloc[0]["category"]
            return incident_id, (None if pd.isna(cat) else str(cat))
        rows = (
            inc.filter(inc.customer_id == customer_id)
            .order_by(inc.opened_at.desc())
            .select("incident_id", "category")
            .limit(1)
            .to_pandas()
        )
        if rows.empty:
            return None, None
        cat = rows.iloc[0]["category"]
        return str(rows.iloc[0]["incident_id"]), (None if pd.isna(cat) else str(cat))

    def figures(
        self,
        customer_id: str,
        incident_id: str | None = None,
        category: str | None = None,
        at: datetime | None = None,
    ) -> ConcessionFigures:
        """The figures for one customer at ``at`` (default: the advisor's ``as_of``)."""
        if customer_id not in self.known:
            raise KeepwiseInputError(f"unknown customer id '{customer_id}'")
        q = pd.DataFrame(
            {"customer_id": [customer_id], "incident_id": [incident_id], "category": [category], "at": [at]}
        )
        return self.figures_many(q)[0]

    def figures_many(self, queries: pd.DataFrame) -> list[ConcessionFigures]:
        """Figures for many questions at once: ``customer_id``, ``incident_id``, ``category``, ``at``."""
        q = queries.copy()
        q["at"] = pd.to_datetime(q["at"], utc=True).fillna(self.as_of)
        h = history_at(self.all_orders[self.all_orders["ordered_at"] < q["at"].max()], q)
        fm = self.value.future_margin(h)
        fm = np.where(h["has_orders"].to_numpy(bool), fm, self.value.typical_margin_)
        shares = self.cts.at(q["customer_id"], q["at"])
        out: list[ConcessionFigures] = []
        rows: list[dict[Any, Any]] = q.to_dict("records")
        for i, row in enumerate(rows):
            cid = str(row["customer_id"])
            notes: list[str] = []
            if not h["has_orders"].iat[i]:
                notes.append("no orders before the question: future margin is that of a typical customer")
            share = float(shares[i])
            category = None if _missing(row["category"]) else str(row["category"])
            pred = self.effect.predict(category, float(h["log_weekly_value"].to_numpy(float)[i]))
            incident = None if _missing(row["incident_id"]) else str(row["incident_id"])
            out.append(
                ConcessionFigures(
                    customer_id=cid,
                    currency=self.currency,
                    future_margin=Decimal(str(round(float(fm[i]) * (1.0 - share), 2))).quantize(CENT),
                    replacement_cost=self.replacement,
                    word_of_mouth_loss=self.word_of_mouth,
                    p_without=pred["p_without"],
                    p_with=pred["p_with"],
                    reduction_low=max(pred["reduction_low"], 0.0),
                    reduction_high=max(pred["reduction_high"], 0.0),
                    incident_id=incident,
                    category=category,
                    effect_text=self.effect.describe(),
                    effect_source=self.effect.source,
                    notes=(
                        *notes,
                        f"replacement cost: {self.replacement_source}",
                        f"cost-to-serve share of margin: {share:.1%}",
                    ),
                )
            )
        return out

    def advise(
        self, customer_id: str, cost: Decimal | float | str, incident_id: str | None = None
    ) -> ConcessionAdvice:
        """Approve, counter or refuse a concession of ``cost`` for ``customer_id`` (about ``incident_id``)."""
        try:
            amount = Decimal(str(cost))
        except ArithmeticError:
            raise KeepwiseInputError(f"--cost must be an amount such as 200.00, not {cost!r}") from None
        if not amount.is_finite() or amount < 0:
            raise KeepwiseInputError(f"--cost must be an amount of at least 0, not {cost}")
        if customer_id not in self.known:
            raise KeepwiseInputError(f"unknown customer id '{customer_id}'")
        inc_id, category = self.incident(customer_id, incident_id)
        advice = decide(self.figures(customer_id, inc_id, category), amount, self.cfg)
        advice.assumptions = [
            a
            for a in used(self.config, "decisions")
            if a["name"].split(".")[1]
            in {
                "people_told",
                "trust_in_friend",
                "told_conversion",
                "replacement_cost",
                "replacement_cost_fallback",
                "concession_odds_ratio",
                "leave_after_incident",
                "horizon_months",
                "discount_rate",
                "counter_min_share",
            }
        ]
        return advice
