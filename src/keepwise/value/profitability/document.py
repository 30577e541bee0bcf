"""Profitability as a document: what ``keepwise profit --json`` prints.

Money in the document is a string with 2 decimal places (rounded half up from the exact 4-place amounts),
never a float; percentages are numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from keepwise.config import Config, load_config, used
from keepwise.money import cents as money
from keepwise.store import Store, as_store
from keepwise.store.inventory import Note
from keepwise.value.profitability.base import FIELDS, View, latest_month, month_label, parse_month, period
from keepwise.value.profitability.cost_to_serve import capacity_words, unused_capacity
from keepwise.value.profitability.currency import resolve_currency
from keepwise.value.profitability.ledger import customer_ledger, profitability, totals
from keepwise.value.profitability.notes import cost_coverage, profit_notes
from keepwise.value.profitability.streams import plan_periods
from keepwise.value.tiers import movement_summary, tier_movement, tier_summary
from keepwise.value.whale import whale_curve

__all__ = ["customer_rows", "document_and_rows", "profit_document"]


def profit_document(
    store: Store,
    month: str | None = None,
    *,
    view: View = "month",
    config: Config | None = None,
    customers: bool = True,
    movement: bool = True,
) -> dict[str, Any]:
    """Everything ``keepwise profit --json`` prints.

    Parameters
    ----------
    store:
        The store (an Ibis backend is accepted too).
    month:
        ``YYYY-MM``; ``None``: the latest month with data.
    view:
        ``"month"``, ``"ttm"`` or ``"lifetime"``.
    config:
        Assumptions; ``None`` reads ``keepwise.toml``.
    customers:
        Include the per-customer list.
    movement:
        Include tier movement against the same view one month earlier.

    Returns
    -------
    dict
        ``month``, ``view``, ``period`` {start, end}, ``currency``, ``totals`` {revenue, cogs, gross_margin,
        cost_to_serve, concessions, advocacy_value, profit, operating_profit}, ``unused_capacity``,
        ``whale`` (headline figures), ``tiers``, ``movement`` and ``customers`` (each with ``customer_id``,
        ``tier``, ``quintile``, ``rank`` and the same money fields), ``assumptions``, ``cost_coverage``
        (order lines of the period without a unit cost, and their share of revenue) and ``notes`` (each
        input that was missing or assumed, :class:`keepwise.store.inventory.Note`: the currency chosen when
        ``[value] reporting_currency`` is not set, unit costs, time logs, staff rates, incidents, advocacy,
        products).
    """
    return document_and_rows(store, month, view=view, config=config, customers=customers, movement=movement)[
        0
    ]


def document_and_rows(
    store: Store,
    month: str | None = None,
    *,
    view: View = "month",
    config: Config | None = None,
    customers: bool = True,
    movement: bool = True,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """:func:`profit_document` and the :func:`profitability` frame it was made from (one row per customer)."""
    store = as_store(store)
    cfg, currency_note = resolve_currency(store, config or load_config())
    given = month
    month = month or latest_month(store)
    per = period(month, view)
    previous = month_label(parse_month(per.month) - 1)
    plan_periods(store, [per, period(previous, view)] if movement else [per])  # in a run: summed once
    coverage = cost_coverage(store, per)
    notes = profit_notes(store, per, cfg, currency_note=currency_note, coverage=coverage)
    if given is None:  # as of the data, not the wall clock: say which month was taken
        notes.insert(
            0, Note("month", "none given", f"used {month}, the last month with an order or a time log")
        )
    ledger = customer_ledger(store, month, view=view, config=cfg)
    sums = totals(ledger)
    df = profitability(store, month, view=view, config=cfg)
    _, headline = whale_curve(ledger)
    cap = unused_capacity(store, month, view=view, config=cfg)
    doc: dict[str, Any] = {
        "month": per.month,
        "view": view,
        "period": {"start": per.start.isoformat() if per.start else None, "end": per.end.isoformat()},
        "currency": cfg.value.reporting_currency,
        "totals": {f: money(sums[f]) for f in (*FIELDS, "operating_profit")},
        "unused_capacity": {
            "minutes": money(sum(cap["unused_minutes"], start=Decimal(0))),
            "cost": money(sum(cap["unused_cost"], start=Decimal(0))),
            "staff": [
                {
                    "staff_id": r.staff_id,
                    **{
                        k: money(getattr(r, k))
                        for k in ("supplied_minutes", "used_minutes", "unused_minutes", "unused_cost")
                    },
                }
                for r in cap.itertuples()
            ],
            "note": capacity_words(
                sum(cap["unused_minutes"], start=Decimal(0)),
                sum(cap["unused_cost"], start=Decimal(0)),
                cfg.value.reporting_currency or "USD",
            ),
        },
        "whale": headline.as_dict(),
        "tiers": [{**t, "profit": money(t["profit"])} for t in tier_summary(df)],
    }
    if movement:
        before = profitability(store, previous, view=view, config=cfg)
        moves = tier_movement(before, df)
        doc["movement"] = {"compared_with": previous, **movement_summary(moves)}
    if customers:
        doc["customers"] = customer_rows(df)
    doc["assumptions"] = used(cfg, "value")
    for a in doc["assumptions"]:
        if a["name"] == "value.reporting_currency" and currency_note is not None:
            a["from"] = "your data"  # not set: the one currency of the records (see notes)
    doc["cost_coverage"] = coverage.to_json()
    doc["notes"] = [n.to_json() for n in notes]
    return doc, df


def customer_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The customers of a :func:`profitability` frame as the JSON lists them (money as 2-place strings)."""
    cols = ["customer_id", "tier", "quintile", "rank", "currency", *FIELDS]
    rows: list[dict[str, Any]] = []
    for d in df[cols].to_dict("records"):
        for f in FIELDS:
            d[f] = money(d[f])
        d["quintile"] = int(d["quintile"])
        d["rank"] = int(d["rank"])
        rows.append({str(k): v for k, v in d.items()})
    return rows
