"""The concession advisor: whether a representative may spend an amount to put a customer's problem right.

It weighs the concession against what losing the customer would cost::

    loss if they leave = expected future margin
                         + replacement cost (only for a customer worth replacing: future margin > 0)
                         + word-of-mouth loss (people told x trust in a friend's word x share who would have
                           become customers x the future margin of a typical customer)
    concession pays    = reduction in the chance of leaving it buys x loss if they leave

The expected future margin comes from :mod:`keepwise.decisions.facts` (gross margin if alive, less the
customer's cost to serve a week times the weeks they are expected to stay); the reduction from
:mod:`keepwise.decisions.effect` (the business's own incidents, or the documented default). The answer:

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
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any, Literal

import numpy as np
import pandas as pd

from keepwise.config import Config, DecisionAssumptions, load_config, used
from keepwise.decisions.effect import EffectEstimate, estimate_effect, incident_history
from keepwise.decisions.facts import (
    PRIOR_WEEKS,
    CostToServe,
    ValueModel,
    history_at,
    order_table,
    replacement_cost,
)
from keepwise.exceptions import KeepwiseInputError
from keepwise.money import cents, shown

__all__ = ["ConcessionAdvice", "ConcessionAdvisor", "ConcessionFigures", "decide", "pct"]

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
                "replacement_cost": cents(f.replacement_cost if f.future_margin > 0 else 0),
                "word_of_mouth_loss": cents(f.word_of_mouth_loss),
                "loss_if_they_leave": cents(f.loss_if_leave),
                "p_leave_without": round(f.p_without, 4),
                "p_leave_with": round(f.p_with, 4),
                "reduction": round(f.reduction, 4),
                "reduction_interval": [round(f.reduction_low, 4), round(f.reduction_high, 4)],
                "expected_benefit": cents(self.expected_benefit),
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
        by_customer = self.orders.groupby("customer_id")["ordered_at"]
        self.cts = CostToServe(backend, self.as_of, by_customer.min(), by_customer.max(), config=self.config)
        self.currency = self.config.value.reporting_currency
        # a typical new customer: their gross margin if alive, less the average cost to serve a week over
        # the weeks they are expected to stay
        self.typical_margin = self.value.typical_margin_ - self.cts.average_ * self.value.typical_weeks_
        wom = self.cfg.people_told * self.cfg.trust_in_friend * self.cfg.told_conversion
        self.word_of_mouth = to_cent(wom * max(self.typical_margin, 0.0))

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
        has = h["has_orders"].to_numpy(bool)
        scored = self.value.score(h)
        gross = np.where(has, scored["gross_margin"].to_numpy(float), self.value.typical_margin_)
        weeks = np.where(has, scored["active_weeks"].to_numpy(float), self.value.typical_weeks_)
        per_week, own_weeks = self.cts.weekly(q["customer_id"], q["at"])
        out: list[ConcessionFigures] = []
        rows: list[dict[Any, Any]] = q.to_dict("records")
        for i, row in enumerate(rows):
            cid = str(row["customer_id"])
            notes: list[str] = []
            if not has[i]:
                notes.append("no orders before the question: margin and weeks are those of a new customer")
            category = None if _missing(row["category"]) else str(row["category"])
            pred = self.effect.predict(category, float(h["log_weekly_value"].to_numpy(float)[i]))
            incident = None if _missing(row["incident_id"]) else str(row["incident_id"])
            gm = to_cent(float(gross[i]))
            rate = to_cent(float(per_week[i]))
            # the cost over the weeks is computed from the rounded rate, so the reasons' figures add up
            cts = to_cent(rate * Decimal(str(round(float(weeks[i]), 1))))
            out.append(
                ConcessionFigures(
                    customer_id=cid,
                    currency=self.currency,
                    future_margin=gm - cts,
                    gross_margin=gm,
                    cost_to_serve=cts,
                    cost_per_week=rate,
                    active_weeks=round(float(weeks[i]), 1),
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
                        f"cost to serve a week from {own_weeks[i]:.0f} weeks of their own record and "
                        f"{PRIOR_WEEKS:g} weeks of the business's average ({self.cts.average_:.2f} a week)",
                    ),
                )
            )
        return out

    def advise(
        self,
        customer_id: str,
        cost: Decimal | float | str,
        incident_id: str | None = None,
        *,
        at: datetime | None = None,
        log: bool = True,
    ) -> ConcessionAdvice:
        """Approve, counter or refuse a concession of ``cost`` for ``customer_id`` (about ``incident_id``).

        Parameters
        ----------
        customer_id:
            The customer with the problem.
        cost:
            The concession asked for.
        incident_id:
            The incident it is about (default: the customer's latest).
        at:
            When the question is asked (default: now); the customer's own history is taken up to then.
        log:
            Record the recommendation in the store's decision log (``decision_log``; see
            :mod:`keepwise.decisions.concession_log`); ``False`` for a dry run.
        """
        try:
            amount = Decimal(str(cost))
        except ArithmeticError:
            raise KeepwiseInputError(f"--cost must be an amount such as 200.00, not {cost!r}") from None
        if not amount.is_finite() or amount < 0:
            raise KeepwiseInputError(f"--cost must be an amount of at least 0, not {cost}")
        if customer_id not in self.known:
            raise KeepwiseInputError(f"unknown customer id '{customer_id}'")
        inc_id, category = self.incident(customer_id, incident_id)
        advice = decide(self.figures(customer_id, inc_id, category, at=at), amount, self.cfg)
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
        if log:
            from keepwise.decisions.concession_log import log_advice

            advice.decision_id = log_advice(self.backend, advice, at)
        return advice
