"""Customer value: profitability (margin, cost to serve, advocacy value), tiers and the whale curve."""

from keepwise.value.profitability import customer_ledger, profitability, unused_capacity
from keepwise.value.tiers import TIERS, assign_tiers, tier_movement
from keepwise.value.whale import whale_curve, whale_figure

__all__ = [
    "TIERS",
    "assign_tiers",
    "customer_ledger",
    "profitability",
    "tier_movement",
    "unused_capacity",
    "whale_curve",
    "whale_figure",
]
