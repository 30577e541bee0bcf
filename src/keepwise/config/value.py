"""Section ``[value]``: profitability, tiers, the whale curve and customer lifetime value."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from keepwise.config.fields import about

__all__ = ["ValueAssumptions"]


@dataclass(frozen=True)
class ValueAssumptions:
    """Assumptions of customer profitability, tiers and the whale curve (section ``[value]``)."""

    reporting_currency: str = field(
        default="USD",
        metadata=about(
            "Currency that totals, tiers and the whale curve are reported in.",
            "convention: set it to the currency your books are kept in",
        ),
    )
    fx: dict[str, Decimal] = field(
        default_factory=dict,
        metadata=about(
            "Exchange rates: 1 unit of each currency is worth this much reporting currency (a fixed table; "
            "amounts in the reporting currency need no rate).",
            "none: keepwise does not fetch rates; a currency without a rate is an error that names it",
        ),
    )
    referral_value: Decimal | None = field(
        default=None,
        metadata=about(
            "Value of a referral without its own value: a fixed amount in the reporting currency, or "
            "'first_year_margin' for the gross margin of the referred customer's first year.",
            "Kumar, Petersen and Leone, 'How Valuable Is Word of Mouth?', HBR 2007: value a referral by what "
            "the referred customer actually brings",
        ),
    )
    case_study_value: Decimal = field(
        default=Decimal("0"),
        metadata=about(
            "Value of a case study without its own value (reporting currency).",
            "conservative: counts nothing you have not valued",
        ),
    )
    review_value: Decimal = field(
        default=Decimal("0"),
        metadata=about(
            "Value of a review without its own value (reporting currency).",
            "conservative: counts nothing you have not valued",
        ),
    )
    platinum_share: float = field(
        default=0.05,
        metadata=about(
            "Share of customers, ranked by profit, in the platinum tier.",
            "Zeithaml, Rust and Lemon, 'The Customer Pyramid', California Management Review 43(4), 2001 "
            "(the tiers; the shares are a convention: a few platinum, a larger gold tier)",
        ),
    )
    gold_share: float = field(
        default=0.15,
        metadata=about(
            "Share of customers in the gold tier, after platinum (platinum + gold = the top 20% by default).",
            "Zeithaml, Rust and Lemon 2001; the top-20% cut follows the usual Pareto reading",
        ),
    )
    lead_below_profit: Decimal = field(
        default=Decimal("0"),
        metadata=about(
            "Customers whose profit is below this amount (reporting currency) are lead: they cost more than "
            "they bring.",
            "Zeithaml, Rust and Lemon 2001: lead customers cost the company money",
        ),
    )
