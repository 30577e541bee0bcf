"""What profitability could not use and what it did instead, as :class:`~keepwise.store.inventory.Note`.

A real business often has orders without unit costs, no time logs, no incidents: profitability still runs,
and every document that shows its figures carries these notes (``notes`` in JSON), so a margin that is really
revenue is never read as a margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Any

import ibis

from keepwise.config import Config
from keepwise.features.orders import priced_lines
from keepwise.store import Store
from keepwise.store.inventory import Inventory, Note, inventory
from keepwise.store.memo import once
from keepwise.value.profitability.base import (
    Key,
    Period,
    _in_window,
    _month_key,
    too_large_to_keep,
)
from keepwise.value.profitability.streams import Plan, planned

__all__ = ["MARGIN_IS_REVENUE", "CostCoverage", "cost_coverage", "profit_notes"]

#: The words every output uses when no order line of the period has a unit cost and no margin rate is set.
MARGIN_IS_REVENUE = "no unit costs recorded: margin shown is revenue"

#: What profitability does without each input it uses (the specific words; the rest come from ``INPUTS``).
_INSTEAD = {
    "time_logs": "cost to serve is left out: profit is gross margin less concessions",
    "staff_rates": "staff time is not priced, so cost to serve is left out of profit",
    "incidents": "no concessions are charged to profit",
    "advocacy": "no referral, case-study or review value is added to any customer",
    "products": "order lines use their own unit_cost column only",
}


@dataclass(frozen=True)
class CostCoverage:
    """How many order lines of a period have a unit cost (their own or their product's), and their revenue.

    Attributes
    ----------
    lines, uncosted_lines:
        Order lines in the period, and those with no unit cost of their own or of their product.
    revenue, uncosted_revenue:
        Their revenue (quantity x unit price, in the lines' own currencies, summed: a share, not a total).
    """

    lines: int
    uncosted_lines: int
    revenue: Decimal
    uncosted_revenue: Decimal

    @property
    def uncosted_share(self) -> float | None:
        """Share of the period's revenue on lines with no unit cost (``None`` without revenue)."""
        return None if self.revenue == 0 else float(self.uncosted_revenue / self.revenue)

    def to_json(self) -> dict[str, object]:
        """``order_lines``, ``without_unit_cost``, ``revenue_share_without_unit_cost`` (rounded to 4)."""
        share = self.uncosted_share
        return {
            "order_lines": self.lines,
            "without_unit_cost": self.uncosted_lines,
            "revenue_share_without_unit_cost": None if share is None else round(share, 4),
        }


def _coverage_query(store: Store, per: Period, by: Key = False) -> Any:
    """Lines, lines without a unit cost and both revenues of the window (per key ``m``, if asked)."""
    lines = priced_lines(store, margin_rate=None)
    lines = lines.filter(_in_window(lines.ordered_at, per))
    revenue = (lines.quantity * lines.unit_price).cast("decimal(38, 8)")
    zero = ibis.literal(Decimal(0), type="decimal(38, 8)")
    sums = {
        "n": lines.count(),
        "uncosted": lines.assumed_cost.cast("int64").sum(),
        "revenue": revenue.sum(),
        "uncosted_revenue": ibis.cases((lines.assumed_cost, revenue), else_=zero).sum(),
    }
    if by is not False:
        return lines.group_by(m=_month_key(lines.ordered_at, by)).aggregate(**sums)
    return lines.aggregate(**sums)


@once
def _coverage_by_segment(store: Store, plan: Plan) -> list[dict[str, Any]]:
    """:func:`cost_coverage`'s sums for each segment of the run's planned periods (once per run)."""
    window = Period(month="", view="lifetime", start=None if plan[1] else plan[0][0], end=plan[0][-1])
    with too_large_to_keep():
        return list(_coverage_query(store, window, plan[0]).to_pyarrow().to_pylist())


def cost_coverage(store: Store, per: Period) -> CostCoverage:
    """Order lines of the period ``per`` with and without a unit cost (:func:`priced_lines` decides)."""
    found = planned(store, per)
    if found is None:
        with too_large_to_keep():
            row = _coverage_query(store, per).to_pyarrow().to_pylist()[0]
    else:  # a period a run planned: its segments, summed exactly
        plan, first, last = found
        parts = [r for r in _coverage_by_segment(store, plan) if first <= r["m"] <= last]
        row = {}
        with localcontext(prec=80):
            for key in ("n", "uncosted", "revenue", "uncosted_revenue"):
                values = [r[key] for r in parts if r[key] is not None]
                row[key] = sum(values[1:], start=values[0]) if values else None
    return CostCoverage(
        lines=int(row["n"] or 0),
        uncosted_lines=int(row["uncosted"] or 0),
        revenue=Decimal(row["revenue"] or 0),
        uncosted_revenue=Decimal(row["uncosted_revenue"] or 0),
    )


def _cost_note(cov: CostCoverage, rate: Decimal | None) -> Note | None:
    """The note on unit costs: none recorded, or some lines without one (and the share of revenue)."""
    if cov.uncosted_lines == 0:
        return None
    share = cov.uncosted_share
    share_text = "" if share is None else f" ({100 * share:.1f}% of revenue)"
    if cov.uncosted_lines == cov.lines:
        missing = f"no unit cost on any of the {cov.lines:,} order lines of the period, nor on their products"
        if rate is None:
            return Note("orders.unit_cost", missing, MARGIN_IS_REVENUE)
        return Note(
            "orders.unit_cost",
            missing,
            f"assumed gross margin: {rate} of revenue ([value] default_margin_rate), each line costing "
            f"unit_price x (1 - {rate})",
        )
    missing = f"no unit cost on {cov.uncosted_lines:,} of {cov.lines:,} order lines of the period{share_text}"
    if rate is None:
        instead = "those lines cost nothing, so their margin shown is their revenue"
    else:
        instead = f"those lines are taken to cost unit_price x (1 - {rate}) ([value] default_margin_rate)"
    return Note("orders.unit_cost", missing, instead)


def profit_notes(
    store: Store,
    per: Period,
    config: Config,
    *,
    currency_note: Note | None = None,
    inv: Inventory | None = None,
    coverage: CostCoverage | None = None,
) -> list[Note]:
    """The notes of a profitability document: the currency chosen, unit costs, and every missing input.

    Parameters
    ----------
    store:
        The store.
    per:
        The period the document covers (unit costs are counted on its order lines).
    config:
        The assumptions (``[value] default_margin_rate``).
    currency_note:
        The note of :func:`~keepwise.value.profitability.currency.resolve_currency`, if any.
    inv:
        An inventory already read (:func:`keepwise.store.inventory.inventory`).
    coverage:
        A :func:`cost_coverage` already read.
    """
    inv = inv or inventory(store)
    notes: list[Note] = [currency_note] if currency_note is not None else []
    cost = _cost_note(coverage or cost_coverage(store, per), config.value.default_margin_rate)
    if cost is not None:
        notes.append(cost)
    notes.extend(inv.notes("time_logs", "staff_rates", "incidents", "advocacy", "products", instead=_INSTEAD))
    return notes
