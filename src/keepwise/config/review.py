"""Section ``[review]``: the monthly review's rules (when a customer is lost, when a warning fires)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from keepwise.config.fields import DISCOUNT_RATE, about, shared

__all__ = ["ReviewAssumptions"]


@dataclass(frozen=True)
class ReviewAssumptions:
    """Rules of the monthly review: when a customer counts as lost, and when a warning fires (``[review]``).

    The warning thresholds trade missed warnings against false alarms; their defaults were measured on the
    simulator (``tests/signals/test_accuracy.py``: false alarms 0.1-0.4% of active customers).
    """

    inactivity_days: int = field(
        default=180,
        metadata=about(
            "A customer with no exit record counts as lost after this many days without a purchase (or three "
            "times their own usual gap, whichever is longer).",
            "convention: six months without a purchase, as in most retail churn definitions",
        ),
    )
    inactivity_gaps: float = field(
        default=3.0,
        metadata=about(
            "...or after this many times their own mean gap between purchase days, if that is longer.",
            "convention: a regular customer is late when the silence is three of their usual gaps",
        ),
    )
    lifetime_years: int = field(
        default=20,
        metadata=about(
            "Years of margin counted as the simple lifetime value of a lost customer (1,000 a month for "
            "twenty years is 240,000).",
            "the loyalty arithmetic of Reichheld, 'The Loyalty Effect' (1996); shown beside a discounted "
            "figure, never alone",
        ),
    )
    #: ``[clv] discount_rate``, for the discounted lifetime value lost (set it there)
    discount_rate: Decimal = field(
        default=Decimal(str(DISCOUNT_RATE)), init=False, metadata=shared("clv.discount_rate")
    )
    aov_alpha: float = field(
        default=0.03,
        metadata=about(
            "Falling order value: the trend test must give a p-value below this.",
            "measured on the simulator: 0.35% false alarms, recall 0.81",
        ),
    )
    aov_min_drop: float = field(
        default=0.15,
        metadata=about(
            "Falling order value: the recent average order must be at least this share below the earlier.",
            "convention: a fall smaller than 15% is not worth a manager's time",
        ),
    )
    overdue_threshold: float = field(
        default=0.01,
        metadata=about(
            "Stopped regular order: the current silence must be this unlikely under the customer's own "
            "rhythm.",
            "measured on the simulator: 0.09% false alarms, recall 1.00",
        ),
    )
    overdue_min_excess: float = field(
        default=1.5,
        metadata=about(
            "Stopped regular order: and at least this many times the customer's usual gap.",
            "convention: half a gap late is not yet a warning",
        ),
    )
    dropped_category_threshold: float = field(
        default=0.01,
        metadata=about(
            "Dropped product range: the silence in that range must be this unlikely while they still buy "
            "other ranges.",
            "measured on the simulator: 0.32% false alarms, recall 0.95",
        ),
    )
    dropped_category_min_excess: float = field(
        default=2.0,
        metadata=about(
            "Dropped product range: and at least this many times their usual gap in that range.",
            "convention: ranges are bought less often than orders are placed",
        ),
    )
    p_alive_threshold: float = field(
        default=0.5,
        metadata=about(
            "P(alive) warning: fires when a customer's probability of still being a customer falls below "
            "this during the month.",
            "convention: the point where the model thinks the customer more likely gone than not",
        ),
    )
