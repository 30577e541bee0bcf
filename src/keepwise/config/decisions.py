"""Section ``[decisions]``: concessions, win-back and service levels."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from keepwise.config.fields import DISCOUNT_RATE, about, shared

__all__ = ["DecisionAssumptions"]


@dataclass(frozen=True)
class DecisionAssumptions:
    """Figures behind concessions, win-back and service levels (section ``[decisions]``).

    Money is in the reporting currency. Where the business's own history can estimate a figure (the effect of
    a concession, the win-back rate), :mod:`keepwise.decisions` estimates it and says so; these figures are
    the fall-back and the prior.
    """

    people_told: int = field(
        default=9,
        metadata=about(
            "People an unhappy customer who leaves tells about it.",
            "TARP for the US Office of Consumer Affairs, 'Consumer Complaint Handling in America' (1979, "
            "update 1986), commonly quoted as 9-15 people; keepwise takes the low end",
        ),
    )
    trust_in_friend: float = field(
        default=0.83,
        metadata=about(
            "Share of those told who trust a friend's word.",
            "Nielsen, 'Global Trust in Advertising' (2015): 83% trust recommendations from people they know",
        ),
    )
    told_conversion: float = field(
        default=0.02,
        metadata=about(
            "Share of those told (and trusting it) who would otherwise have become customers.",
            "conservative assumption: set it from your own referral conversion rate",
        ),
    )
    replacement_cost: Decimal | None = field(
        default=None,
        metadata=about(
            "Cost to acquire a replacement customer; empty: the average acquisition_cost in the store, or "
            "replacement_cost_fallback when none is recorded.",
            "measured from your own records when they have it",
        ),
    )
    replacement_cost_fallback: Decimal = field(
        default=Decimal("50.00"),
        metadata=about(
            "Cost to acquire a customer when the store records none.",
            "assumption: a small-business figure; set it to your own cost per new customer",
        ),
    )
    concession_odds_ratio: float = field(
        default=0.5,
        metadata=about(
            "Default effect of a concession: it multiplies the odds of leaving after a problem by this "
            "(0.5 = halves them), used when the business's own incidents are too few to estimate it.",
            "TARP (1986) as quoted by Hart, Heskett and Sasser, 'The Profitable Art of Service Recovery', "
            "HBR July-August 1990: complainants whose problem is put right return far more often; "
            "keepwise takes a conservative halving of the odds",
        ),
    )
    leave_after_incident: float = field(
        default=0.2,
        metadata=about(
            "Default chance that a customer leaves after a problem that is not put right, used when history "
            "is thin.",
            "assumption: set it from your own incidents",
        ),
    )
    min_incidents: int = field(
        default=150,
        metadata=about(
            "Past incidents with a known outcome needed to estimate the effect from your own history "
            "(at least 20 of them with a concession and 20 without).",
            "convention: enough events for a logistic regression with a handful of terms",
        ),
    )
    horizon_months: int = field(
        default=36,
        metadata=about(
            "Months of future margin that keeping a customer is worth.",
            "convention: three years, as in Gupta, Lehmann and Stuart, 'Valuing Customers', JMR 2004",
        ),
    )
    #: ``[clv] discount_rate``, for the future margin of a customer kept (set it there)
    discount_rate: float = field(default=DISCOUNT_RATE, init=False, metadata=shared("clv.discount_rate"))
    counter_min_share: float = field(
        default=0.25,
        metadata=about(
            "Counter-offer only when the largest concession that pays is at least this share of the amount "
            "asked for; below it, refuse.",
            "convention: a counter-offer much smaller than the ask reads as an insult",
        ),
    )
    outcome_window_days: int = field(
        default=90,
        metadata=about(
            "Days after a concession decision in which an order means the customer stayed and a recorded "
            "exit means they left (keepwise concessions report).",
            "convention: a quarter, long enough for most customers to order again",
        ),
    )
    winback_low: float = field(
        default=0.20,
        metadata=about(
            "Low end of the chance of winning back a lost customer.",
            "Griffin and Lowenstein, 'Customer Winback' (2001): 20-40% for lost customers against 5-20% "
            "for new prospects (also in Farris et al., 'Marketing Metrics')",
        ),
    )
    winback_high: float = field(
        default=0.40,
        metadata=about(
            "High end of the chance of winning back a lost customer.", "Griffin and Lowenstein 2001"
        ),
    )
    prospect_low: float = field(
        default=0.05,
        metadata=about(
            "Low end of the chance of selling to a stranger (for comparison).", "Griffin and Lowenstein 2001"
        ),
    )
    prospect_high: float = field(
        default=0.20,
        metadata=about("High end of the chance of selling to a stranger.", "Griffin and Lowenstein 2001"),
    )
    winback_prior_weight: int = field(
        default=20,
        metadata=about(
            "Weight of the prior in attempts: your own past win-back attempts count against this many.",
            "convention: the prior gives way once you have a few dozen attempts per exit reason",
        ),
    )
    winback_months: int = field(
        default=12,
        metadata=about(
            "Months of margin a won-back customer is expected to bring (at their past monthly margin).",
            "conservative: one year, since a returning customer may leave again",
        ),
    )
    contact_cost: Decimal = field(
        default=Decimal("5.00"),
        metadata=about("Cost of one win-back contact (staff time, postage).", "assumption: a short call"),
    )
    offers: dict[str, str] = field(
        default_factory=lambda: {
            "price": "10% off the next three orders",
            "competitor": "price match on the next order and a call from the account manager",
            "service": "a personal apology and free delivery for three months",
            "quality": "a free replacement of the last product and a quality follow-up call",
            "no_need": "a reminder of new products with 5% off",
            "unknown": "a friendly check-in call and 5% off the next order",
        },
        metadata=about(
            "Win-back offer by exit reason when no conjoint study exists.",
            "convention: answer the reason they gave",
        ),
    )
    offer_costs: dict[str, Decimal] = field(
        default_factory=lambda: {
            "price": Decimal("30.00"),
            "competitor": Decimal("25.00"),
            "service": Decimal("20.00"),
            "quality": Decimal("35.00"),
            "no_need": Decimal("10.00"),
            "unknown": Decimal("10.00"),
        },
        metadata=about("Expected cost of each offer in [decisions.offers].", "assumption: set your own"),
    )
    winback_not_candidates: list[str] = field(
        default_factory=lambda: ["moved", "moved_away", "closed", "closed_down"],
        metadata=about(
            "Exit reasons that rule a lost customer out of win-back: they are listed, never ranked.",
            "Griffin and Lowenstein 2001: someone who moved away or closed down cannot come back, whatever "
            "the offer",
        ),
    )
    service_contact_days: dict[str, int] = field(
        default_factory=lambda: {"platinum": 30, "gold": 60, "iron": 120, "lead": 365},
        metadata=about(
            "Proactive contact every this many days, by tier (lead: reduced, never zero).",
            "Zeithaml, Rust and Lemon, 'The Customer Pyramid', California Management Review 43(4), 2001: "
            "serve each tier at the level its profit supports; monthly, bimonthly, quarterly-plus and yearly "
            "is a convention, set your own",
        ),
    )
    service_response_hours: dict[str, int] = field(
        default_factory=lambda: {"platinum": 4, "gold": 8, "iron": 24, "lead": 72},
        metadata=about(
            "Target time to answer a customer, in hours, by tier.",
            "Zeithaml, Rust and Lemon 2001 (differentiated service levels); the hours are a convention: "
            "same half-day, same day, next day, three days",
        ),
    )
    service_handler: dict[str, str] = field(
        default_factory=lambda: {
            "platinum": "named account manager",
            "gold": "account manager",
            "iron": "support team",
            "lead": "support team, self-service first",
        },
        metadata=about(
            "Who handles each tier.",
            "Zeithaml, Rust and Lemon 2001: the most profitable customers get dedicated people",
        ),
    )
    unprofitable_periods: int = field(
        default=2,
        metadata=about(
            "A customer with a negative profit in each of this many consecutive periods (the latest ending "
            "with the month), who still buys, gets 'reprice or part ways'.",
            "convention: two quarters in a row rule out one bad quarter (Zeithaml, Rust and Lemon 2001: lead "
            "customers are repriced or let go)",
        ),
    )
    unprofitable_period_months: int = field(
        default=3,
        metadata=about(
            "Length of each of those periods in months.",
            "convention: quarters smooth out months with staff time and no order",
        ),
    )
    reprice_min_loss: Decimal = field(
        default=Decimal("100.00"),
        metadata=about(
            "...and only when the loss over those periods is at least this much (reporting currency).",
            "convention: a smaller loss is not worth a repricing conversation; set it to what one costs you",
        ),
    )
    reprice_max_increase: float = field(
        default=0.25,
        metadata=about(
            "Recommend 'reprice' when prices this much higher (or less) on their orders would break even; "
            "beyond it, 'part ways' gracefully.",
            "assumption: a price rise above a quarter is rarely accepted; set your own",
        ),
    )
    dormant_days: int = field(
        default=120,
        metadata=about(
            "Days without an order after which a customer counts as unresponsive; one who then orders, "
            "complains or shows a warning sign is flagged for re-engagement.",
            "convention: about four months, shorter than the review's 180 days for lost",
        ),
    )
    strengths: list[str] = field(
        default_factory=list,
        metadata=about(
            "Reasons you declare as your strengths (e.g. ['quality', 'service']), set against why customers "
            "choose and leave you (the wins and exits tables).",
            "your own declaration; empty: keepwise only reports the shares",
        ),
    )
