"""The concession advisor on a store: fits the value model and the effect once, answers each question.

:func:`advise` is the stage's front door (one question); :class:`ConcessionAdvisor` answers many.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from keepwise.config import Config, load_config, used
from keepwise.decisions.concession.dropout import CANDIDATES, DropoutChoice, choose_dropout
from keepwise.decisions.concession.rule import (
    ConcessionAdvice,
    ConcessionFigures,
    _missing,
    decide,
    parse_cost,
    to_cent,
)
from keepwise.decisions.effect import EffectEstimate, estimate_effect, incident_history, no_order_chance
from keepwise.decisions.facts import (
    PRIOR_WEEKS,
    CostToServe,
    ValueModel,
    history_at,
    order_table,
    replacement_cost,
)
from keepwise.exceptions import KeepwiseInputError
from keepwise.store import Store, as_store
from keepwise.store.inventory import Note, inventory
from keepwise.value.profitability import reporting_currency
from keepwise.value.worth import worth

__all__ = ["ConcessionAdvisor", "advise"]

#: Questions about at most this many customers read those customers' order lines only.
_FEW = 64


class ConcessionAdvisor:
    """Answers concession questions for one store: fits the value model and the effect once.

    Parameters
    ----------
    store:
        The store (an Ibis backend is wrapped).
    config:
        Assumptions; ``None`` reads ``keepwise.toml``.
    as_of:
        Use only history before this moment (default: all of it); the policy benchmark uses it to advise on
        later incidents with the history known at the time.
    dropout:
        The drop-out models to choose from by holdout fit (:mod:`~keepwise.decisions.concession.dropout`;
        one name: that model; ``MODELS``: the Pareto/NBD fallbacks compete too).
    """

    def __init__(
        self,
        store: Store,
        config: Config | None = None,
        as_of: datetime | None = None,
        *,
        dropout: tuple[str, ...] = CANDIDATES,
    ):
        store = as_store(store)
        self.config = config or load_config()
        self.cfg = self.config.decisions
        self.store = store
        #: the same store (the name older code used)
        self.backend = store
        orders = order_table(store)
        if orders.empty:
            raise KeepwiseInputError("the store has no orders: load orders before asking for advice")
        self.as_of = (
            pd.Timestamp(as_of) if as_of is not None else orders["ordered_at"].max() + pd.Timedelta(seconds=1)
        )
        # models and the effect use the history before as_of; a question at a later moment sees the
        # customer's own orders up to that moment
        self.all_orders = orders
        #: the lines of each customer (:meth:`_orders_of`): made at the first question about a few
        self._by_customer: tuple[pd.Index, np.ndarray, np.ndarray] | None = None
        self.orders = orders[orders["ordered_at"] < self.as_of]
        #: the drop-out model chosen by holdout fit, with each candidate's holdout error
        self.dropout: DropoutChoice = choose_dropout(self.orders, self.as_of, dropout)
        fitted = self.dropout.fitted
        self.value = ValueModel(self.cfg.horizon_months, self.cfg.discount_rate).fit(
            self.orders,
            self.as_of,
            purchase=fitted.rest,
            schedule=fitted.schedule,
            schedule_ids=fitted.schedule_ids,
        )
        self.history = incident_history(store, self.orders, before=self.as_of)
        self.history["no_order_chance"] = self._no_order_chance(self.history)
        bg = self.value.purchase_.params_
        self.effect: EffectEstimate = estimate_effect(
            self.history, self.cfg, float(bg["r"]), float(bg["alpha"])
        )
        customers = store.table("customers").select("customer_id").to_pandas()["customer_id"]
        self.known = set(customers.astype(str))
        self.replacement, self.replacement_source = replacement_cost(store, self.cfg)
        self.missing = self._missing_inputs(store)
        # first orders from the whole record: a question after as_of about a customer who joined since then
        # counts their own cost over their own weeks (their first order is before the question, so known
        # then); with first orders before as_of only, such a customer had 0 weeks of record and their whole
        # cost so far was spread over the 4.35 prior weeks (cost to serve a week 3x the truth in the bench)
        first = orders.groupby("customer_id")["ordered_at"].min()
        last = self.orders.groupby("customer_id")["ordered_at"].max()
        self.cts = CostToServe(store, self.as_of, first, last, config=self.config)
        self.currency = reporting_currency(store, self.config)  # the one currency of the data when unset
        # a typical new customer: their gross margin if alive, less the average cost to serve a week over
        # the weeks they are expected to stay
        self.typical_margin = self.value.typical_margin_ - self.cts.average_ * self.value.typical_weeks_
        wom = self.cfg.people_told * self.cfg.trust_in_friend * self.cfg.told_conversion
        self.word_of_mouth = to_cent(wom * max(self.typical_margin, 0.0))

    def _no_order_chance(self, history: pd.DataFrame) -> np.ndarray:
        """Per past incident, the chance a customer who stayed shows no order by the end (chosen model)."""
        fitted = self.dropout.fitted
        out = no_order_chance(fitted.rest, history["x"], history["T"], history["weeks_after"])
        if fitted.schedule is not None:
            on = history["customer_id"].astype(str).isin(fitted.schedule_ids).to_numpy()
            if on.any():
                h = history[on]
                out[on] = no_order_chance(fitted.schedule, h["x"], h["T"], h["weeks_after"])
        return out

    def _missing_inputs(self, store: Store) -> list[Note]:
        """Notes on the inputs the advice does without: incidents, acquisition costs, staff time, costs."""
        inv = inventory(store)
        cfg = self.cfg
        effect = (
            f"the documented default effect is used: {self.effect.describe()} "
            f"([decisions] concession_odds_ratio = {cfg.concession_odds_ratio:g}; a customer leaves after an "
            f"incident with chance {cfg.leave_after_incident:g}, [decisions] leave_after_incident)"
        )
        instead = {"incidents": effect, "time_logs": "cost to serve is taken as 0"}
        names = ["incidents", "time_logs", "orders.unit_cost"]
        if cfg.replacement_cost is None:
            names.append("customers.acquisition_cost")
            instead["customers.acquisition_cost"] = (
                f"replacement cost is the assumed [decisions] replacement_cost_fallback "
                f"({self.replacement} {reporting_currency(store, self.config)})"
            )
        notes = inv.notes(*names, instead=instead)
        if inv.has("incidents") and self.effect.source == "default":
            notes.insert(0, Note("incidents", f"too few to estimate from ({self.effect.note})", effect))
        if self.dropout.calibration_end is None:
            notes.append(
                Note("orders", "too little history to check the drop-out model", self.dropout.reason)
            )
        return notes

    def incident(self, customer_id: str, incident_id: str | None) -> tuple[str | None, str | None]:
        """The incident asked about (id and category): the given one, else the customer's latest."""
        if incident_id is not None:
            inc = self.store.table("incidents")
            rows = inc.filter(inc.incident_id == incident_id).select("customer_id", "category").to_pandas()
            if rows.empty:
                raise KeepwiseInputError(f"unknown incident id '{incident_id}'")
            if str(rows.iloc[0]["customer_id"]) != customer_id:
                raise KeepwiseInputError(f"incident '{incident_id}' belongs to another customer")
            cat = rows.iloc[0]["category"]
            return incident_id, (None if pd.isna(cat) else str(cat))
        from keepwise.store.customer_history import rows_of

        latest = rows_of(
            self.store, "incidents", customer_id, ("incident_id", "category"), "opened_at DESC", 1
        )
        if not latest:
            return None, None
        cat = latest[0].get("category")
        return str(latest[0]["incident_id"]), (None if cat is None else str(cat))

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

    def _orders_of(self, customer_ids: pd.Series) -> pd.DataFrame:
        """The order lines of a few customers, in the order of :attr:`all_orders` (every line for many).

        A customer's history depends on their own lines only, in their order, so a question about one
        customer reads that customer's lines (found through an index made once) instead of every line.
        """
        ids = pd.unique(customer_ids.astype(str).to_numpy())
        if len(ids) > _FEW:
            return self.all_orders
        if self._by_customer is None:
            codes, uniques = pd.factorize(self.all_orders["customer_id"].astype(str).to_numpy())
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
            self._by_customer = (pd.Index(uniques), order, bounds)
        index, order, bounds = self._by_customer
        found = index.get_indexer(pd.Index(ids))
        parts = [order[bounds[i] : bounds[i + 1]] for i in found if i >= 0]
        rows = np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
        return self.all_orders.iloc[rows]

    def figures_many(self, queries: pd.DataFrame) -> list[ConcessionFigures]:
        """Figures for many questions at once: ``customer_id``, ``incident_id``, ``category``, ``at``."""
        q = queries.copy()
        q["at"] = pd.to_datetime(q["at"], utc=True).fillna(self.as_of)
        orders = self._orders_of(q["customer_id"])
        h = history_at(orders[orders["ordered_at"] < q["at"].max()], q)
        h["schedule"] = q["customer_id"].astype(str).isin(self.value.schedule_ids_).to_numpy()
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
                        f"weeks as a customer and purchases from {self.dropout.summary()}",
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
        amount = parse_cost(cost)
        if customer_id not in self.known:
            raise KeepwiseInputError(f"unknown customer id '{customer_id}'")
        inc_id, category = self.incident(customer_id, incident_id)
        figures = self.figures(customer_id, inc_id, category, at=at)
        before = None if at is None else pd.Timestamp(at).to_pydatetime()
        mine = worth(self.store, [customer_id], before=before, rules=self.config.review)
        if len(mine):
            figures = replace(
                figures, annual_margin=mine["annual_margin"].iloc[0], basis=str(mine["basis"].iloc[0])
            )
        advice = decide(figures, amount, self.cfg)
        advice.missing = list(self.missing)
        advice.effect = self.effect.to_json()
        advice.value_model = self.dropout.to_json()
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

            advice.decision_id = log_advice(self.store, advice, at)
        return advice


def advise(
    store: Store,
    customer_id: str,
    cost: Decimal | float | str,
    *,
    incident: str | None = None,
    config: Config | None = None,
    log: bool = True,
    at: datetime | None = None,
) -> ConcessionAdvice:
    """May a representative spend ``cost`` on ``customer_id``'s problem? The concession stage's front door.

    Parameters
    ----------
    store:
        The store (an Ibis backend is wrapped).
    customer_id:
        The customer with the problem.
    cost:
        The concession asked for (an amount of at least 0; anything else is ``BadInput`` for ``cost``).
    incident:
        The incident it is about (default: the customer's latest).
    config:
        Assumptions; ``None`` reads ``keepwise.toml`` (:func:`keepwise.config.load_config`).
    log:
        Record the recommendation in the store's decision log; ``False`` for a dry run.
    at:
        When the question is asked (default: now).

    Returns
    -------
    ConcessionAdvice
        Approve, counter or refuse, with the figures and the reasons; its ``to_json()`` is what
        ``keepwise concession CUSTOMER_ID --cost COST --json`` prints.
    """
    amount = parse_cost(cost)
    return ConcessionAdvisor(store, config).advise(customer_id, amount, incident, at=at, log=log)
