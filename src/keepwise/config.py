"""Assumptions a business may not know, in one place: ``keepwise.toml`` in the working directory.

Each section of the file is a frozen dataclass here; each field declares its default, what it means and where
the default comes from (a paper, a convention, or "conservative: counts nothing you have not valued"). A
report that uses a section lists the figures it used with :func:`used`, so the reader sees every assumption
and whether it came from the file or from the default.

Adding a section for another part of keepwise: write a dataclass whose fields use :func:`assumption`, add it
as a field of :class:`Config` and to ``_SECTIONS``. Nothing else changes.

Example ``keepwise.toml``::

    [value]
    reporting_currency = "USD"
    referral_value = "first_year_margin"   # or a fixed amount, e.g. "150.00"
    case_study_value = "500.00"
    review_value = "20.00"
    platinum_share = 0.05
    gold_share = 0.15
    lead_below_profit = "0"

    [value.fx]          # 1 unit of the currency is worth this much of the reporting currency
    EUR = "1.08"
    PLN = "0.25"
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from keepwise.exceptions import KeepwiseInputError

__all__ = [
    "CONFIG_FILE",
    "Config",
    "DecisionAssumptions",
    "ExperimentAssumptions",
    "MessagesAssumptions",
    "ReviewAssumptions",
    "ValueAssumptions",
    "WebAssumptions",
    "about",
    "load_config",
    "used",
]

#: The file :func:`load_config` reads from the working directory.
CONFIG_FILE = "keepwise.toml"


def about(doc: str, source: str) -> dict[str, str]:
    """Field metadata of one configurable figure: ``field(default=..., metadata=about(doc, source))``.

    Parameters
    ----------
    doc:
        What the figure means, in words a manager can read.
    source:
        Where the default comes from.
    """
    return {"doc": doc, "source": source}


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
            "Years of margin counted as the simple lifetime value of a lost customer ($1,000 a month for "
            "twenty years is $240,000).",
            "the loyalty arithmetic of Reichheld, 'The Loyalty Effect' (1996); shown beside a discounted "
            "figure, never alone",
        ),
    )
    discount_rate: Decimal = field(
        default=Decimal("0.10"),
        metadata=about(
            "Annual discount rate of the discounted lifetime value lost.", "convention: 10% a year"
        ),
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


@dataclass(frozen=True)
class MessagesAssumptions:
    """Sending, consent links and automated flows of :mod:`keepwise.messages` (section ``[messages]``).

    Secrets never sit in this file: ``secret_env`` and ``smtp_password_env`` name environment variables.
    Flows are sub-tables, e.g. ``[messages.flows.winback]`` with ``enabled``, ``holdout_share`` and the
    flow's own figures (see :mod:`keepwise.messages.flows` for each flow's keys and defaults).
    """

    business_name: str = field(
        default="Our shop",
        metadata=about("Name the messages are signed with.", "convention: set it to your trading name"),
    )
    from_address: str = field(
        default="hello@example.com",
        metadata=about("Sender address (From) of every message.", "convention: set it to your address"),
    )
    smtp_host: str = field(
        default="localhost",
        metadata=about("SMTP server that relays the messages.", "convention: a local relay on port 25"),
    )
    smtp_port: int = field(
        default=25, metadata=about("Port of the SMTP server.", "RFC 5321 (25); 587 with STARTTLS")
    )
    smtp_starttls: bool = field(
        default=False,
        metadata=about("Upgrade the connection with STARTTLS before sending.", "RFC 3207; on for port 587"),
    )
    smtp_username: str = field(
        default="", metadata=about("SMTP login; empty: no authentication.", "convention: none")
    )
    smtp_password_env: str = field(
        default="KEEPWISE_SMTP_PASSWORD",
        metadata=about(
            "Environment variable holding the SMTP password (never the password itself).",
            "convention: secrets live in the environment, not in files under version control",
        ),
    )
    send_interval_seconds: Decimal = field(
        default=Decimal("0.2"),
        metadata=about(
            "Throttle: the least time between two messages (0.2 = at most 5 messages a second).",
            "conservative: small relays and new sending domains accept a few messages a second",
        ),
    )
    max_attempts: int = field(
        default=5,
        metadata=about(
            "Attempts per message on temporary (4xx) failures before it is recorded as failed.",
            "RFC 5321 4.5.4.1 (retry temporary failures); five attempts is a common relay default",
        ),
    )
    backoff_seconds: Decimal = field(
        default=Decimal("30"),
        metadata=about(
            "Wait before the first retry; each further retry waits twice as long.",
            "RFC 5321 4.5.4.1 suggests at least 30 minutes between queue runs; within one run keepwise "
            "backs off exponentially from this figure",
        ),
    )
    secret_env: str = field(
        default="KEEPWISE_SECRET",
        metadata=about(
            "Environment variable holding the secret that signs confirm and unsubscribe links.",
            "convention: secrets live in the environment, not in files under version control",
        ),
    )
    unsubscribe_days: int = field(
        default=60,
        metadata=about(
            "Days an unsubscribe link keeps working.",
            "convention: longer than a message stays in an inbox before it is acted on",
        ),
    )
    confirm_days: int = field(
        default=7,
        metadata=about("Days a double opt-in confirmation link keeps working.", "convention: one week"),
    )
    unsubscribe_url: str = field(
        default="https://example.com/keepwise/unsubscribe",
        metadata=about(
            "HTTPS address that takes a one-click unsubscribe (POST) with ?token=...",
            "RFC 8058: List-Unsubscribe must carry an HTTPS URI for one-click unsubscribe",
        ),
    )
    confirm_url: str = field(
        default="https://example.com/keepwise/confirm",
        metadata=about("HTTPS address that confirms a new consent with ?token=...", "convention"),
    )
    templates_dir: str = field(
        default="",
        metadata=about(
            "Folder whose templates override the bundled ones (same file names); empty: bundled only.",
            "convention",
        ),
    )
    service_days: int = field(
        default=30,
        metadata=about(
            "Days after an incident is resolved that a service message about it needs no consent.",
            "GDPR art. 6(1)(b): messages needed to put right a contract need no marketing consent",
        ),
    )
    lock_minutes: int = field(
        default=15,
        metadata=about(
            "A send or flow run holding the store lock longer than this without renewing it is presumed "
            "dead and its lock is taken over.",
            "convention: longer than a run between two renewals",
        ),
    )
    flows: dict[str, dict[str, Any]] = field(
        default_factory=dict,
        metadata=about(
            "Automated flows by name (winback, incident_followup, at_risk, thanks): settings that replace "
            "the defaults of keepwise.messages.flows.",
            "defaults documented in keepwise.messages.flows",
        ),
    )


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
    discount_rate: float = field(
        default=0.10,
        metadata=about("Annual discount rate of future margin.", "convention: 10% a year"),
    )
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


@dataclass(frozen=True)
class ExperimentAssumptions:
    """Defaults of experiment design and analysis (section ``[experiments]``)."""

    alpha: float = field(
        default=0.05,
        metadata=about(
            "Significance level: 1 - the confidence level of every interval (0.05 gives 95% intervals).",
            "convention (Fisher 1925); Kohavi, Tang and Xu, "
            "'Trustworthy Online Controlled Experiments', 2020",
        ),
    )
    power: float = field(
        default=0.8,
        metadata=about(
            "Probability of detecting the minimum detectable effect that a design is sized for.",
            "Cohen, 'Statistical Power Analysis for the Behavioral Sciences', 2nd ed., 1988: "
            "0.8 by convention",
        ),
    )
    srm_threshold: float = field(
        default=0.001,
        metadata=about(
            "p-value of the sample-ratio chi-square test below which keepwise warns that the split "
            "is broken.",
            "Fabijan et al., 'Diagnosing Sample Ratio Mismatch in Online Controlled Experiments', KDD 2019 "
            "(they use 0.0005; 0.001 is a common choice)",
        ),
    )


@dataclass(frozen=True)
class WebAssumptions:
    """The dashboard and its API, ``keepwise serve`` (section ``[web]``).

    The access token is better kept in the environment variable ``KEEPWISE_WEB_TOKEN``, which wins over the
    file; ``keepwise serve`` refuses to listen beyond this machine (a non-loopback host) without a token.
    """

    token: str = field(
        default="",
        metadata=about(
            "Access token of the dashboard and the API (at least 16 characters); empty: no sign-in, allowed "
            "only on 127.0.0.1. KEEPWISE_WEB_TOKEN overrides it.",
            "convention: secrets live in the environment, not in files under version control",
        ),
    )
    session_hours: int = field(
        default=12,
        metadata=about(
            "Hours a dashboard sign-in lasts before the token is asked for again.",
            "convention: one working day",
        ),
    )


@dataclass(frozen=True)
class Config:
    """Every section of ``keepwise.toml``; ``path`` is the file read (``None``: defaults only)."""

    value: ValueAssumptions = field(default_factory=ValueAssumptions)
    messages: MessagesAssumptions = field(default_factory=MessagesAssumptions)
    decisions: DecisionAssumptions = field(default_factory=DecisionAssumptions)
    experiments: ExperimentAssumptions = field(default_factory=ExperimentAssumptions)
    review: ReviewAssumptions = field(default_factory=ReviewAssumptions)
    web: WebAssumptions = field(default_factory=WebAssumptions)
    path: Path | None = None
    set_in_file: frozenset[str] = frozenset()


_SECTIONS: dict[str, type] = {
    "decisions": DecisionAssumptions,
    "experiments": ExperimentAssumptions,
    "messages": MessagesAssumptions,
    "review": ReviewAssumptions,
    "value": ValueAssumptions,
    "web": WebAssumptions,
}


def load_config(path: str | Path | None = None) -> Config:
    """Read ``keepwise.toml`` (default: from the working directory) into a :class:`Config`.

    A missing file gives the documented defaults. Unknown keys and values of the wrong kind are errors that
    name the key, so a typo never silently falls back to a default.

    Parameters
    ----------
    path:
        The file to read; ``None`` reads ``keepwise.toml`` in the working directory if it exists.
    """
    file = Path(path) if path is not None else Path.cwd() / CONFIG_FILE
    if not file.exists():
        if path is not None:
            raise KeepwiseInputError(f"config file '{file}' does not exist")
        return Config()
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise KeepwiseInputError(f"{file}: not valid TOML: {exc}") from None
    sections: dict[str, Any] = {}
    set_keys: set[str] = set()
    for name, values in raw.items():
        if name not in _SECTIONS:
            raise KeepwiseInputError(f"{file}: unknown section [{name}]; known: {', '.join(_SECTIONS)}")
        cls = _SECTIONS[name]
        known = {f.name: f for f in dataclasses.fields(cls)}
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in known:
                raise KeepwiseInputError(
                    f"{file}: unknown key '{key}' in [{name}]; known: {', '.join(known)}"
                )
            kwargs[key] = _coerce(file, f"{name}.{key}", _default_of(known[key]), value)
            set_keys.add(f"{name}.{key}")
        sections[name] = cls(**kwargs)
    value = sections.get("value")
    if value is not None and value.platinum_share + value.gold_share > 1:
        raise KeepwiseInputError(f"{file}: value.platinum_share + value.gold_share must not exceed 1")
    return Config(**sections, path=file, set_in_file=frozenset(set_keys))


def _default_of(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default


#: Keys that are positive multiples (of a customer's usual gap), not shares between 0 and 1.
_MULTIPLES = frozenset(
    {"review.inactivity_gaps", "review.overdue_min_excess", "review.dropped_category_min_excess"}
)


def _coerce(file: Path, key: str, default: Any, value: Any) -> Any:
    """Turn a TOML value into the type of the field's default (money as exact Decimal, never float)."""
    if key == "value.referral_value":
        if value == "first_year_margin":
            return None
        return _decimal(file, key, value)
    if key == "value.fx":
        if not isinstance(value, dict):
            raise KeepwiseInputError(f"{file}: [{key}] must be a table of CURRENCY = rate")
        rates = {str(k).upper(): _decimal(file, f"{key}.{k}", v) for k, v in value.items()}
        for k, rate in rates.items():
            if rate <= 0:
                raise KeepwiseInputError(f"{file}: {key}.{k} must be a positive rate, not {rate}")
        return rates
    if key == "value.reporting_currency":
        if not isinstance(value, str) or len(value) != 3:
            raise KeepwiseInputError(f'{file}: {key} must be an ISO 4217 code such as "USD"')
        return value.upper()
    if isinstance(default, Decimal):
        return _decimal(file, key, value)
    if key in _MULTIPLES:
        if not isinstance(value, int | float) or isinstance(value, bool) or not value > 0:
            raise KeepwiseInputError(f"{file}: {key} must be a positive number, not {value!r}")
        return float(value)
    if isinstance(default, int) and not isinstance(default, bool):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise KeepwiseInputError(f"{file}: {key} must be a whole number, 0 or more, not {value!r}")
        return value
    if isinstance(default, float):
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise KeepwiseInputError(f"{file}: {key} must be a share between 0 and 1, not {value!r}")
        return float(value)
    return value


def _decimal(file: Path, key: str, value: Any) -> Decimal:
    """An exact decimal from a TOML string or number (write money as a string to keep it exact)."""
    if isinstance(value, bool):
        raise KeepwiseInputError(f"{file}: {key} must be an amount, not {value!r}")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise KeepwiseInputError(f'{file}: {key} must be an amount such as "150.00", not {value!r}') from None


def used(config: Config, section: str) -> list[dict[str, Any]]:
    """The assumptions of ``section`` as a report shows them: name, value, where it came from, meaning.

    Parameters
    ----------
    config:
        The configuration the report was computed with.
    section:
        A section name such as ``"value"``.

    Returns
    -------
    list of dict
        One entry per figure with ``name``, ``value`` (money as a string), ``from`` (``keepwise.toml`` or
        ``default``), ``source`` (of the default) and ``meaning``.
    """
    obj = getattr(config, section)
    rows: list[dict[str, Any]] = []
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name == "referral_value" and value is None:
            value = "first_year_margin"
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, dict):
            value = {k: str(v) for k, v in value.items()}
        rows.append(
            {
                "name": f"{section}.{f.name}",
                "value": value,
                "from": CONFIG_FILE if f"{section}.{f.name}" in config.set_in_file else "default",
                "source": f.metadata["source"],
                "meaning": f.metadata["doc"],
            }
        )
    return rows
