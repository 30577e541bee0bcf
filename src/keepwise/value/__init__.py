"""Customer value: profitability (margin, cost to serve, advocacy value), tiers, the whale curve and CLV.

The stage's front doors take the store: :func:`keepwise.value.profit.run` (profit, tiers and the whale curve
of a month, kept in the store), :func:`keepwise.value.clv.run` (every customer's lifetime value, kept in the
``clv`` table) and :func:`fit_model` (a purchase or spend model fitted on the store's orders).
"""

from keepwise.value.clv import customer_lifetime_value
from keepwise.value.fitting import fit_model, fit_summary
from keepwise.value.profitability import customer_ledger, profitability, unused_capacity
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
