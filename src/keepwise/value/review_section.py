"""Profitability as a document: the JSON of ``keepwise profit``.

The monthly review shows it in its profitability section (in the report package).

Money in these documents is a string with 2 decimal places (rounded half up from the exact 4-place amounts),
never a float; percentages are numbers.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd

from keepwise.config import Config, load_config, used
from keepwise.money import cents as money
from keepwise.value.profitability import (
    FIELDS,
    View,
    customer_ledger,
    latest_month,
    month_label,
    parse_month,
    period,
    profitability,
    totals,
    unused_capacity,
)
from keepwise.value.tiers import movement_summary, tier_movement, tier_summary
from keepwise.value.whale import whale_curve

__all__ = ["customer_rows", "money", "profit_document"]


def profit_document(
    store: Any,
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
        Ibis backend of the store.
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
        ``tier``, ``quintile``, ``rank`` and the same money fields), and ``assumptions``.
    """
    cfg = config or load_config()
    month = month or latest_month(store)
    per = period(month, view)
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
            "note": "capacity paid for and not used on customers; not included in any customer's cost",
        },
        "whale": headline.as_dict(),
        "tiers": [{**t, "profit": money(t["profit"])} for t in tier_summary(df)],
    }
    if movement:
        previous = month_label(parse_month(per.month) - 1)
        before = profitability(store, previous, view=view, config=cfg)
        moves = tier_movement(before, df)
        doc["movement"] = {"compared_with": previous, **movement_summary(moves)}
    if customers:
        doc["customers"] = customer_rows(df)
    doc["assumptions"] = used(cfg, "value")
    return doc


def customer_rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of a profitability frame as JSON: money as strings with 2 decimals, ranks as integers."""
    cols = ["customer_id", "tier", "quintile", "rank", "currency", *FIELDS]
    rows: list[dict[str, Any]] = []
    for d in df[cols].to_dict("records"):
        for f in FIELDS:
            d[f] = money(d[f])
        d["quintile"] = int(d["quintile"])
        d["rank"] = int(d["rank"])
        rows.append({str(k): v for k, v in d.items()})
    return rows
