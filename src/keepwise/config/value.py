"""Section ``[value]``: profitability, tiers, the whale curve and customer lifetime value."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from keepwise.config.fields import CONFIG_FILE, about
from keepwise.exceptions import KeepwiseInputError

__all__ = ["ValueAssumptions"]


@dataclass(frozen=True)
class ValueAssumptions:
    """Assumptions of customer profitability, tiers and the whale curve (section ``[value]``)."""

    reporting_currency: str | None = field(
        default=None,
        metadata=about(
            "Currency that totals, tiers and the whale curve are reported in (an ISO 4217 code). Unset: the "
            "one currency of your records (orders, staff rates, concessions, advocacy), said in each "
            "report's notes; records in several currencies need it, or rates in [value] fx for all but one.",
            "convention: set it to the currency your books are kept in; data in one currency needs nothing",
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
    default_margin_rate: Decimal | None = field(
        default=None,
        metadata=about(
            "Gross margin as a share of the price (0.3 = 30%) for order lines with no unit cost of their own "
            "and none from their product: such a line costs unit_price x (1 - rate). Unset: those lines cost "
            "nothing, so the margin shown for them is their revenue, and every report says so.",
            "none: keepwise does not guess a margin; set the average gross margin of your trade to use one",
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

    def __post_init__(self) -> None:
        """Read ``default_margin_rate`` as an exact share between 0 and 1 (TOML gives a float or a string)."""
        rate = self.default_margin_rate
        if rate is None:
            return
        problem = (
            f"{CONFIG_FILE}: value.default_margin_rate must be a share between 0 and 1 such as 0.3, "
            f"not {rate!r}"
        )
        if isinstance(rate, bool):
            raise KeepwiseInputError(problem)
        try:
            exact = Decimal(str(rate))
        except ArithmeticError:
            raise KeepwiseInputError(problem) from None
        if not exact.is_finite() or not 0 <= exact <= 1:
            raise KeepwiseInputError(problem)
        object.__setattr__(self, "default_margin_rate", exact)
