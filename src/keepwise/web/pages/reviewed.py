"""What the overview, warnings and lost pages show, cut from one stored review document (no store access).

The review document is what ``keepwise review --json`` printed (:func:`keepwise.web.data.review_document`);
the functions here sort, filter, count and sum its lists, so a page and its API answer show the same figures
as the CLI. :class:`Known` reads the document's notes to say which figures the store's records can support:
orders without unit costs have no margin (it is revenue, labelled so), a store without exits has no reasons,
one without staff time no cost to serve, one without acquisition costs no replacement cost.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from keepwise.exceptions import BadInput

__all__ = [
    "LOST_SORTS",
    "WARNING_SORTS",
    "Known",
    "known",
    "lost_by_month",
    "lost_by_reason",
    "lost_rows",
    "warnings_by_kind",
    "warnings_rows",
]

#: How the warnings may be sorted (``?sort=``): a leading ``-`` is largest (or latest) first.
WARNING_SORTS = ("-value_at_risk", "value_at_risk", "customer_id", "kind")
#: How the lost customers may be sorted (``?sort=``).
LOST_SORTS = ("-annual_margin", "annual_margin", "-lost_at", "lost_at", "-discounted_value", "customer_id")

#: Inputs whose absence changes what a money figure of the review means.
_COSTS = ("orders.unit_cost", "time_logs", "customers.acquisition_cost", "exits", "staff_rates")


@dataclass(frozen=True)
class Known:
    """Which of the review's figures the store's records support (read from the document's notes).

    Attributes
    ----------
    unit_costs:
        The orders carry unit costs, so margin is revenue less cost of goods.
    margin_rate:
        ``[value] default_margin_rate`` when the review estimated margin with it (orders without unit costs).
    staff_time:
        Staff time is recorded, so profit includes the cost to serve.
    exits:
        Exit records (with reasons) exist; without them every lost customer was counted lost by silence.
    acquisition_costs:
        Acquisition costs are recorded, so a lost customer's replacement cost is known.
    missing:
        The notes of the inputs above that the store lacks (``input``, ``missing``, ``instead``).
    """

    unit_costs: bool = True
    margin_rate: str | None = None
    staff_time: bool = True
    exits: bool = True
    acquisition_costs: bool = True
    missing: tuple[dict[str, Any], ...] = ()

    @property
    def margin_known(self) -> bool:
        """Whether "margin" figures are margin (from unit costs, or estimated with the default rate)."""
        return self.unit_costs or self.margin_rate is not None

    @property
    def margin_word(self) -> str:
        """``margin``, or ``revenue`` when the orders carry no unit costs and no rate estimates them."""
        return "margin" if self.margin_known else "revenue"

    @property
    def margin_caveat(self) -> str:
        """The words that qualify a margin figure ("" when it is margin from unit costs)."""
        if self.unit_costs:
            return ""
        if self.margin_rate is not None:
            share = (Decimal(self.margin_rate) * 100).normalize()
            return f"margin estimated at {share:f}% of revenue (no unit costs recorded)"
        return "no unit costs are recorded, so this is revenue: margin is unknown"

    @property
    def profit_known(self) -> bool:
        """Whether a profit figure is one: margin is known and the staff time that serves customers too."""
        return self.margin_known and self.staff_time

    def to_json(self) -> dict[str, Any]:
        """The flags as the API gives them (``money_basis``: what the money figures measure)."""
        return {
            "money_basis": self.margin_word,
            "margin_caveat": self.margin_caveat or None,
            "profit_known": self.profit_known,
            "exit_reasons_known": self.exits,
            "replacement_cost_known": self.acquisition_costs,
        }


def known(doc: dict[str, Any]) -> Known:
    """What a review (or profit) document ``doc`` can support, from its notes and its value assumptions."""
    notes = [n for n in doc.get("notes", []) if isinstance(n, dict)]
    lacking = {n.get("input") for n in notes}
    rate = None
    for a in [*(doc.get("profitability") or {}).get("assumptions", []), *doc.get("assumptions", [])]:
        if a.get("name") == "value.default_margin_rate" and a.get("value") not in (None, ""):
            rate = str(a["value"])
    return Known(
        unit_costs="orders.unit_cost" not in lacking,
        margin_rate=rate,
        staff_time="time_logs" not in lacking and "staff_rates" not in lacking,
        exits="exits" not in lacking,
        acquisition_costs="customers.acquisition_cost" not in lacking,
        missing=tuple(n for n in notes if n.get("input") in _COSTS),
    )


def _amount(value: Any) -> Decimal:
    return Decimal(str(value)) if value not in (None, "") else Decimal(0)


def warnings_by_kind(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each kind of warning (every kind, in the signals stage's order): how many and the value at risk."""
    from keepwise.signals import KINDS

    warnings = doc.get("warnings", [])
    return {
        k: {
            "count": sum(1 for w in warnings if w["kind"] == k),
            "value_at_risk": sum(
                (_amount(w["value_at_risk"]) for w in warnings if w["kind"] == k), Decimal(0)
            ),
        }
        for k in KINDS
    }


def _checked(value: str | None, allowed: tuple[str, ...], field: str) -> str:
    if value is None or value == "":
        return allowed[0]
    if value not in allowed:
        raise BadInput(field, f"is not one of: {', '.join(allowed)}", value)
    return value


def warnings_rows(
    doc: dict[str, Any], kind: str | None = None, sort: str | None = None
) -> list[dict[str, Any]]:
    """The review's warnings of ``kind`` (all kinds: ``None``), sorted by ``sort`` (:data:`WARNING_SORTS`).

    The default is the review's own order: largest value at risk first, then customer id.
    """
    from keepwise.signals import KINDS

    order = _checked(sort, WARNING_SORTS, "sort")
    if kind not in (None, "") and kind not in KINDS:
        raise BadInput("kind", f"is not one of: {', '.join(KINDS)}", kind)
    rows = [w for w in doc.get("warnings", []) if not kind or w["kind"] == kind]
    if order == "customer_id":
        return sorted(rows, key=lambda w: (w["customer_id"], w["kind"]))
    if order == "kind":
        return sorted(
            rows, key=lambda w: (KINDS.index(w["kind"]), -_amount(w["value_at_risk"]), w["customer_id"])
        )
    largest = order.startswith("-")
    return sorted(
        rows,
        key=lambda w: (
            -_amount(w["value_at_risk"]) if largest else _amount(w["value_at_risk"]),
            w["customer_id"],
        ),
    )


def lost_by_reason(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Per exit reason, most customers first: how many were lost, the margin a year and lifetime value lost.

    ``replacement_cost`` is the review's cost per replaced customer times their number (``None`` when no
    acquisition costs are recorded).
    """
    lost = doc.get("lost") or {}
    per = (lost.get("replacement_cost") or {}).get("per_customer")
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in lost.get("customers", []):
        groups.setdefault(r["reason"], []).append(r)
    order = list(lost.get("by_reason", {})) + sorted(set(groups) - set(lost.get("by_reason", {})))
    out = []
    for reason in order:
        rows = groups.get(reason, [])
        discounted = [r["discounted_value"] for r in rows if r.get("discounted_value") not in (None, "")]
        out.append(
            {
                "reason": reason,
                "count": len(rows),
                "annual_margin": sum((_amount(r["annual_margin"]) for r in rows), Decimal(0)),
                "discounted_value": sum((_amount(v) for v in discounted), Decimal(0)) if discounted else None,
                "replacement_cost": None if per is None else _amount(per) * len(rows),
            }
        )
    return out


def lost_rows(
    doc: dict[str, Any], reason: str | None = None, sort: str | None = None
) -> list[dict[str, Any]]:
    """The customers lost in the review's twelve months with ``reason`` (all: ``None``), sorted."""
    order = _checked(sort, LOST_SORTS, "sort")
    rows = list((doc.get("lost") or {}).get("customers", []))
    if reason not in (None, ""):
        reasons = {r["reason"] for r in rows} | set((doc.get("lost") or {}).get("by_reason", {}))
        if reason not in reasons:
            raise BadInput(
                "reason", f"is not one of: {', '.join(sorted(reasons)) or 'none (nobody was lost)'}", reason
            )
        rows = [r for r in rows if r["reason"] == reason]
    key = order.lstrip("-")
    if key == "customer_id":
        return sorted(rows, key=lambda r: r["customer_id"])
    if key == "lost_at":
        rows = sorted(rows, key=lambda r: r["customer_id"])
        return sorted(rows, key=lambda r: r["lost_at"], reverse=order.startswith("-"))
    sign = -1 if order.startswith("-") else 1
    return sorted(rows, key=lambda r: (sign * _amount(r.get(key)), r["customer_id"]))


def lost_by_month(doc: dict[str, Any]) -> tuple[list[str], dict[str, list[int]]]:
    """Customers lost each month of the review's window, by reason: the months and each reason's counts.

    Reasons come most frequent first (as ``lost.by_reason``); months run from the window's first month with
    a loss to the review month, every month listed even when nobody was lost in it.
    """
    lost = doc.get("lost") or {}
    counted = Counter((r["lost_at"][:7], r["reason"]) for r in lost.get("customers", []))
    seen = sorted({m for m, _ in counted})
    if not seen:
        return [], {}
    months = _months(seen[0], max(seen[-1], str(doc.get("month") or seen[-1])))
    reasons = [r for r in lost.get("by_reason", {}) if any(k[1] == r for k in counted)]
    reasons += sorted({r for _, r in counted} - set(reasons))
    return months, {r: [counted.get((m, r), 0) for m in months] for r in reasons}


def _months(first: str, last: str) -> list[str]:
    """Every month from ``first`` to ``last`` (``YYYY-MM``), both included."""
    year, month = int(first[:4]), int(first[5:7])
    out = []
    while f"{year:04d}-{month:02d}" <= last:
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
