"""Customer value: profitability (margin, cost to serve, advocacy value), tiers, the whale curve and CLV.

The stage's front doors take the store: :func:`keepwise.value.profit.run` (profit, tiers and the whale curve
of a month, kept in the store), :func:`keepwise.value.clv.run` (every customer's lifetime value, kept in the
``clv`` table) and :func:`fit_model` (a purchase or spend model fitted on the store's orders).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keepwise._lazy import exports
from keepwise.value.profitability import customer_ledger, profitability, unused_capacity

if TYPE_CHECKING:
    from keepwise.value.clv import customer_lifetime_value
    from keepwise.value.fitting import fit_model, fit_summary
    from keepwise.value.tiers import TIERS, assign_tiers, tier_movement
    from keepwise.value.whale import whale_curve, whale_figure

__all__ = [
    "TIERS",
    "assign_tiers",
    "customer_ledger",
    "customer_lifetime_value",
    "fit_model",
    "fit_summary",
    "profitability",
    "tier_movement",
    "unused_capacity",
    "whale_curve",
    "whale_figure",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "customer_lifetime_value": "keepwise.value.clv",
        "fit_model": "keepwise.value.fitting",
        "fit_summary": "keepwise.value.fitting",
        "TIERS": "keepwise.value.tiers",
        "assign_tiers": "keepwise.value.tiers",
        "tier_movement": "keepwise.value.tiers",
        "whale_curve": "keepwise.value.whale",
        "whale_figure": "keepwise.value.whale",
    },
)
