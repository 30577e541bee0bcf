"""Profitability as a document: what ``keepwise profit --json`` prints.

Money in the document is a string with 2 decimal places (rounded half up from the exact 4-place amounts),
never a float; percentages are numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from keepwise.config import Config, load_config, used
from keepwise.money import cents as money
from keepwise.store import Store, as_store
from keepwise.store.inventory import Note
from keepwise.store.memo import one_run
from keepwise.value.profitability.base import FIELDS, View, latest_month, month_label, parse_month, period
from keepwise.value.profitability.cost_to_serve import capacity_words, unused_capacity
from keepwise.value.profitability.currency import resolve_currency
from keepwise.value.profitability.notes import cost_coverage, profit_notes
from keepwise.value.profitability.periods import (
    curve_points,
    customers_of,
    movements,
    period_stats,
    ranked_periods,
)
from keepwise.value.profitability.streams import plan_periods
from keepwise.value.whale import WhaleHeadline

__all__ = ["Parts", "customer_rows", "document_and_rows", "document_parts", "profit_document"]


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
    return document_parts(
        store, month, view=view, config=config, customers=customers, movement=movement
    ).document


@dataclass
class Parts:
    """A profitability document and what else was asked of the same run.

    Attributes
    ----------
    document:
        What ``keepwise profit --json`` prints.
    rows:
        Every customer of the period (the :func:`profitability` frame), if asked.
    least:
        The least profitable customers, if asked (most profitable of them first, as in ``rows``).
    curve:
        The whale curve (:func:`keepwise.value.whale.whale_curve`'s frame), if asked.
    headline:
        The whale curve's headline figures.
    """

    document: dict[str, Any]
    rows: pd.DataFrame | None
    least: pd.DataFrame | None
    curve: pd.DataFrame | None
    headline: WhaleHeadline


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
    parts = document_parts(
        store, month, view=view, config=config, customers=customers, movement=movement, rows=True
    )
    assert parts.rows is not None
    return parts.document, parts.rows


def document_parts(
    store: Store,
    month: str | None = None,
    *,
    view: View = "month",
    config: Config | None = None,
    customers: bool = True,
    movement: bool = True,
    rows: bool = False,
    least: int = 0,
    curve: bool = False,
) -> Parts:
    """:func:`profit_document`, with the period's customers, its least profitable and its whale curve.

    ``rows``: every customer of the period; ``least``: that many of the least profitable; ``curve``: the
    whale curve's points. The periods' ledgers, tiers, totals and movements come from one ranked table of
    every period the run planned (:mod:`keepwise.value.profitability.periods`): only what the document
    prints comes to Python.
    """
    store = as_store(store)
    with one_run(store):  # the ranked periods kept in the engine while the document is made
        return _parts(store, month, view, config, customers, movement, rows, least, curve)


def _parts(
    store: Store,
    month: str | None,
    view: View,
    config: Config | None,
    customers: bool,
    movement: bool,
    rows: bool,
    least: int,
    curve: bool,
) -> Parts:
    """:func:`document_parts` in a run."""
    cfg, currency_note = resolve_currency(store, config or load_config())
    given = month
    month = month or latest_month(store)
    per = period(month, view)
    previous = month_label(parse_month(per.month) - 1)
    before = period(previous, view)
    wanted = [per, before] if movement else [per]
    plan_periods(store, wanted)  # in a run: summed once
    coverage = cost_coverage(store, per)
    notes = profit_notes(store, per, cfg, currency_note=currency_note, coverage=coverage)
    if given is None:  # as of the data, not the wall clock: say which month was taken
        notes.insert(
            0, Note("month", "none given", f"used {month}, the last month with an order or a time log")
        )
    ranked = ranked_periods(store, wanted, cfg)
    stats = period_stats(store, ranked)[ranked.pid(per)]
    cap = unused_capacity(store, month, view=view, config=cfg)
    doc: dict[str, Any] = {
        "month": per.month,
        "view": view,
        "period": {"start": per.start.isoformat() if per.start else None, "end": per.end.isoformat()},
        "currency": cfg.value.reporting_currency,
        "totals": {f: money(stats.totals[f]) for f in (*FIELDS, "operating_profit")},
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
        "whale": stats.headline.as_dict(),
        "tiers": [{**t, "profit": money(t["profit"])} for t in stats.tiers],
    }
    if movement:
        moves = movements(store, ranked)[(ranked.pid(per), ranked.pid(before))]
        doc["movement"] = {"compared_with": previous, **moves}
    frame = customers_of(ranked, per) if rows or customers else None
    if customers:
        assert frame is not None
        doc["customers"] = customer_rows(frame)
    doc["assumptions"] = used(cfg, "value")
    for a in doc["assumptions"]:
        if a["name"] == "value.reporting_currency" and currency_note is not None:
            a["from"] = "your data"  # not set: the one currency of the records (see notes)
    doc["cost_coverage"] = coverage.to_json()
    doc["notes"] = [n.to_json() for n in notes]
    return Parts(
        document=doc,
        rows=frame,
        least=customers_of(ranked, per, last=least) if least else None,
        curve=curve_points(ranked, per, stats) if curve else None,
        headline=stats.headline,
    )


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
