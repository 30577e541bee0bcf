"""The signals stage's front door: warnings, the lost-customer ledger and retention metrics of one month.

:func:`run` reads the orders of the store up to the end of the month (computed once into temporary tables of
the engine), judges every customer's lost status, scores P(alive) with the purchase model, runs the warning
rules, builds the ledger and computes the retention metrics. Everything it returns is in memory (pandas and
plain data), so the caller needs nothing of the engine afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from keepwise import features
from keepwise.config import Config
from keepwise.signals import p_alive as p_alive_rule
from keepwise.signals.customers import customer_table, days_with_gaps, scalars
from keepwise.signals.inputs import SignalInputs, prepare
from keepwise.signals.ledger import Ledger, build_ledger, lost_status, model_lifetime_values
from keepwise.signals.metrics import compute_metrics
from keepwise.signals.period import ReviewPeriod
from keepwise.signals.warnings import detect_warnings
from keepwise.store import Store, as_store
from keepwise.store.settings import quiet
from keepwise.value.profitability import reporting_currency

__all__ = ["SignalsResult", "run"]

#: Names of the engine's temporary tables holding the month's orders, purchase days and customers while
#: :func:`run` works.
ORDERS_TEMP = "_kw_review_orders"
DAYS_TEMP = "_kw_review_days"
CUSTOMERS_TEMP = "_kw_review_customers"


@dataclass
class SignalsResult:
    """What :func:`run` found for one month.

    Attributes
    ----------
    period:
        The month.
    inputs:
        The per-customer summary the warning rules read (:class:`~keepwise.signals.inputs.SignalInputs`;
        its ``orders`` expression points at a temporary table that is gone once :func:`run`
        returns).
    status:
        Every customer's lost status at the end of the month (:func:`~keepwise.signals.ledger.lost_status`).
    warnings:
        The warnings, ranked (:func:`~keepwise.signals.warnings.detect_warnings`).
    ledger:
        The lost-customer ledger of the twelve months to the month.
    metrics:
        The retention metrics (:func:`~keepwise.signals.metrics.compute_metrics`).
    notes:
        What could not be computed, and why (the same list as ``inputs.notes``).
    """

    period: ReviewPeriod
    inputs: SignalInputs
    status: pd.DataFrame
    warnings: pd.DataFrame
    ledger: Ledger
    metrics: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    @property
    def p_alive(self) -> pd.DataFrame | None:
        """``customer_id``, ``p_alive``, ``p_alive_prev`` (``None`` without the purchase model)."""
        return self.inputs.p_alive


def run(store: Store, period: ReviewPeriod, config: Config | None = None) -> SignalsResult:
    """Compute the signals of ``period``: lost status, P(alive), warnings, the ledger and the metrics.

    Parameters
    ----------
    store:
        The store (:func:`keepwise.store.connect`).
    period:
        The month (:class:`~keepwise.signals.period.ReviewPeriod`).
    config:
        The assumptions; the rules are ``config.review`` (default: the documented defaults).

    Returns
    -------
    SignalsResult
        The results, in memory.
    """
    store = as_store(store)
    cfg = config or Config()
    rules = cfg.review
    quiet(store)
    rate = cfg.value.default_margin_rate
    # the lines are not kept: the largest table of the run (0.9 GB of the engine's memory at 10 million
    # lines), read once more only for dropped_category's recent buyers
    lines = features.order_lines(store, period.end, margin_rate=rate)
    ords = store.materialize(features.orders(lines), ORDERS_TEMP)
    # the purchase days, read by the lost status, P(alive) and the reactivations: grouped once
    days = store.materialize(days_with_gaps(ords), DAYS_TEMP)
    # every per-customer figure the signals read, from one query (signals.customers)
    customers = store.materialize(customer_table(ords, days, period, store.table("exits")), CUSTOMERS_TEMP)
    try:
        rows = customers.to_pyarrow()  # fetched once: the lost status, the summary, P(alive), aov_decline
        figures = scalars(rows)  # the business's totals the ledger and the metrics need
        status = lost_status(store, ords, period, rules, days=days, customers=rows)
        lost_ids = set(status.loc[status["lost"], "customer_id"])
        inputs = prepare(lines, ords, period, lost_ids, rules, customers=rows)
        inputs.customers = customers
        inputs.currency = reporting_currency(store, cfg)
        inputs.days = days
        inputs.p_alive = p_alive_rule.score(inputs, status)
        warnings = detect_warnings(inputs)
        inputs.customer_rows = rows = None  # read by nothing after the rules: its memory back
        model_values = None
        if inputs.model is not None and inputs.rft is not None:
            try:
                model_values = model_lifetime_values(inputs.model, inputs.rft, status, rules)
            except Exception as exc:  # the model-based figure is a bonus; the ledger says it is not estimated
                inputs.notes.append(f"model lifetime values not computed ({type(exc).__name__}: {exc})")
        ledger = build_ledger(
            store, ords, period, status=status, model_values=model_values, rules=rules, figures=figures
        )
        metrics = compute_metrics(ords, period, days=days, figures=figures)
    finally:
        store.drop_temp(CUSTOMERS_TEMP)
        store.drop_temp(DAYS_TEMP)
        store.drop_temp(ORDERS_TEMP)
    return SignalsResult(
        period=period,
        inputs=inputs,
        status=status,
        warnings=warnings,
        ledger=ledger,
        metrics=metrics,
        notes=inputs.notes,
    )
