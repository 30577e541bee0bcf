"""The data contract: every table keepwise stores, declared once.

Each :class:`Table` lists its columns (name, type, whether a value is required, constraints), its key and the
tables it refers to. Loads validate against this declaration, ``keepwise schema`` prints it, the README
documents it and the store creates its tables from it; nothing else restates it.

Conventions (see DESIGN.md): money is an exact ``DECIMAL(18, 4)`` amount next to an ISO 4217 ``currency``
column; timestamps are ``TIMESTAMPTZ`` (a value without a zone is read as UTC); ids are text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["text", "money", "quantity", "minutes", "timestamp", "boolean", "currency", "real"]

#: SQL type each logical column type is stored as.
SQL_TYPES: dict[ColumnType, str] = {
    "text": "VARCHAR",
    "money": "DECIMAL(18,4)",
    "quantity": "DECIMAL(18,4)",
    "minutes": "DECIMAL(18,4)",
    "timestamp": "TIMESTAMPTZ",
    "boolean": "BOOLEAN",
    "currency": "VARCHAR",
    "real": "DOUBLE",
}

#: Words for each type in error messages and in ``keepwise schema``.
TYPE_WORDS: dict[ColumnType, str] = {
    "text": "text",
    "money": "a decimal amount",
    "quantity": "a number",
    "minutes": "a number of minutes",
    "timestamp": "a date or timestamp (ISO 8601; without a zone it is read as UTC)",
    "boolean": "true or false",
    "currency": "an ISO 4217 currency code",
    "real": "a floating-point number (model estimates)",
}


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``min_value`` rejects values below it (e.g. a negative price); ``allowed`` restricts a text column to a
    set of values; ``references`` names ``(table, column)`` that every non-empty value must exist in.
    """

    name: str
    type: ColumnType
    description: str
    required: bool = False
    min_value: float | None = None
    allowed: tuple[str, ...] | None = None
    references: tuple[str, str] | None = None
    example: str = ""

    @property
    def sql_type(self) -> str:
        """The SQL type the column is stored as."""
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    """One table of the contract: its columns, its key and what it describes."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    loadable: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        """Column names in declaration order."""
        return [c.name for c in self.columns]

    @property
    def depends_on(self) -> set[str]:
        """Tables this one refers to (they must be loaded first)."""
        return {c.references[0] for c in self.columns if c.references and c.references[0] != self.name}

    def create_sql(self, name: str | None = None) -> str:
        """``CREATE TABLE`` statement for this table (no physical key: loads enforce the key)."""
        cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in self.columns)
        return f'CREATE TABLE IF NOT EXISTS "{name or self.name}" ({cols})'


_CUSTOMER_REF = ("customers", "customer_id")

TABLES: tuple[Table, ...] = (
    Table(
        "customers",
        "Who the customers are.",
        (
            Column("customer_id", "text", "Your id for the customer.", required=True, example="C001"),
            Column("name", "text", "Name of the person or business.", example="Ada Nowak"),
            Column("email", "text", "E-mail address for messages.", example="ada@example.com"),
            Column("language", "text", "Language for messages (ISO 639-1, e.g. en, pl).", example="en"),
            Column("acquired_at", "timestamp", "When they became a customer.", example="2024-01-15"),
            Column("acquisition_cost", "money", "What it cost to win them.", min_value=0, example="120.00"),
            Column("currency", "currency", "Currency of acquisition_cost and their orders.", example="USD"),
            Column("channel", "text", "Acquisition channel (a covariate for the models).", example="web"),
            Column("segment", "text", "Segment (a covariate for the models).", example="retail"),
        ),
        key=("customer_id",),
    ),
    Table(
        "products",
        "What the business sells; category is the product range.",
        (
            Column("product_id", "text", "Your id for the product.", required=True, example="P10"),
            Column("name", "text", "Product name.", example="Espresso beans 1 kg"),
            Column("category", "text", "Product range.", required=True, example="coffee"),
            Column("unit_cost", "money", "Standard cost of one unit.", min_value=0, example="9.40"),
            Column("currency", "currency", "Currency of unit_cost.", example="USD"),
        ),
        key=("product_id",),
    ),
    Table(
        "orders",
        "Every order line. Returns are lines with a negative quantity; refunds likewise.",
        (
            Column("order_id", "text", "Order id.", required=True, example="O1001"),
            Column("line_no", "text", "Line within the order.", required=True, example="1"),
            Column(
                "customer_id", "text", "Who ordered.", required=True, references=_CUSTOMER_REF, example="C001"
            ),
            Column("ordered_at", "timestamp", "When.", required=True, example="2024-02-03T10:15:00+01:00"),
            Column("product_id", "text", "What.", example="P10"),
            Column("category", "text", "Product range of the line.", example="coffee"),
            Column("quantity", "quantity", "Units; negative for a return.", required=True, example="2"),
            Column("unit_price", "money", "Price of one unit.", required=True, min_value=0, example="18.50"),
            Column("unit_cost", "money", "Cost of one unit (margin).", min_value=0, example="9.40"),
            Column("currency", "currency", "Currency of the prices.", required=True, example="USD"),
        ),
        key=("order_id", "line_no"),
    ),
    Table(
        "time_logs",
        "Staff time spent on a customer: the cost to serve.",
        (
            Column(
                "customer_id",
                "text",
                "Who was served.",
                required=True,
                references=_CUSTOMER_REF,
                example="C001",
            ),
            Column("staff_id", "text", "Who served them.", required=True, example="S1"),
            Column(
                "started_at",
                "timestamp",
                "When the work started.",
                required=True,
                example="2024-02-05T09:00Z",
            ),
            Column("minutes", "minutes", "How long.", required=True, min_value=0, example="25"),
            Column("activity", "text", "What was done (call, visit, quote, ...).", example="call"),
        ),
        key=("customer_id", "staff_id", "started_at"),
    ),
    Table(
        "staff_rates",
        "What a staff member's time costs, from a date on (time-driven activity-based costing).",
        (
            Column("staff_id", "text", "Staff member.", required=True, example="S1"),
            Column("role", "text", "Role (for reports).", example="account manager"),
            Column(
                "hourly_cost",
                "money",
                "Cost of one hour of capacity.",
                required=True,
                min_value=0,
                example="48.00",
            ),
            Column("currency", "currency", "Currency of hourly_cost.", required=True, example="USD"),
            Column(
                "valid_from", "timestamp", "From when the rate applies.", required=True, example="2024-01-01"
            ),
            Column(
                "practical_minutes_per_month",
                "minutes",
                "Practical capacity (minutes a month available for customer work); unused capacity is "
                "reported, never spread onto customers.",
                min_value=0,
                example="7200",
            ),
        ),
        key=("staff_id", "valid_from"),
    ),
    Table(
        "incidents",
        "Complaints and service failures, and the concessions granted.",
        (
            Column("incident_id", "text", "Incident id.", required=True, example="I77"),
            Column(
                "customer_id",
                "text",
                "Who complained.",
                required=True,
                references=_CUSTOMER_REF,
                example="C001",
            ),
            Column("opened_at", "timestamp", "When it was opened.", required=True, example="2024-03-01"),
            Column("category", "text", "Kind of problem (late, damaged, billing, ...).", example="late"),
            Column("description", "text", "What happened.", example="Delivery a week late"),
            Column(
                "status",
                "text",
                "Where it stands.",
                allowed=("open", "resolved", "closed"),
                example="resolved",
            ),
            Column("concession_amount", "money", "Money granted to fix it.", min_value=0, example="200.00"),
            Column("currency", "currency", "Currency of concession_amount.", example="USD"),
            Column("resolved_at", "timestamp", "When it was resolved.", example="2024-03-04"),
        ),
        key=("incident_id",),
    ),
    Table(
        "exits",
        "Why a customer left.",
        (
            Column(
                "customer_id", "text", "Who left.", required=True, references=_CUSTOMER_REF, example="C001"
            ),
            Column("lost_at", "timestamp", "When.", required=True, example="2024-06-30"),
            Column(
                "reason_code",
                "text",
                "Reason (price, service, moved, closed, competitor, ...).",
                example="price",
            ),
            Column("reason_text", "text", "In their words.", example="Found it cheaper"),
            Column("competitor", "text", "Competitor they went to, if known.", example="BeanCo"),
            Column("wanted_back", "boolean", "Do we want them back?", example="true"),
        ),
        key=("customer_id", "lost_at"),
    ),
    Table(
        "advocacy",
        "Value beyond sales: referrals, case studies, reviews.",
        (
            Column(
                "customer_id",
                "text",
                "The advocate.",
                required=True,
                references=_CUSTOMER_REF,
                example="C001",
            ),
            Column(
                "kind",
                "text",
                "What they did.",
                required=True,
                allowed=("referral", "case_study", "review"),
                example="referral",
            ),
            Column("at", "timestamp", "When.", required=True, example="2024-04-02"),
            Column("referred_customer_id", "text", "The customer they brought (referrals).", example="C003"),
            Column("value", "money", "A fixed value, if you assign one.", min_value=0, example=""),
            Column("currency", "currency", "Currency of value.", example="USD"),
        ),
        key=("customer_id", "kind", "at"),
    ),
    Table(
        "consent",
        "Permission to contact: the only source of it.",
        (
            Column(
                "customer_id",
                "text",
                "Who consented.",
                required=True,
                references=_CUSTOMER_REF,
                example="C001",
            ),
            Column(
                "channel",
                "text",
                "Channel.",
                required=True,
                allowed=("email", "sms", "phone", "post"),
                example="email",
            ),
            Column(
                "purpose",
                "text",
                "What for.",
                required=True,
                allowed=("marketing", "service"),
                example="marketing",
            ),
            Column("granted_at", "timestamp", "When it was granted.", required=True, example="2024-01-15"),
            Column("revoked_at", "timestamp", "When it was revoked, if it was.", example=""),
            Column("source", "text", "Where it was given (web form, call, ...).", example="web form"),
            Column(
                "proof", "text", "Evidence (form id, recording, double opt-in token).", example="form-8812"
            ),
        ),
        key=("customer_id", "channel", "purpose", "granted_at"),
    ),
    Table(
        "consent_events",
        "Consent as a history: every grant and revocation, only ever added (written by keepwise; the consent "
        "table is derived from it).",
        (
            Column("customer_id", "text", "Who.", required=True, example="C001"),
            Column("channel", "text", "Channel.", required=True, example="email"),
            Column("purpose", "text", "What for.", required=True, example="marketing"),
            Column(
                "event", "text", "What happened.", required=True, allowed=("grant", "revoke"), example="grant"
            ),
            Column("at", "timestamp", "When it happened.", required=True, example="2024-01-15"),
            Column(
                "source", "text", "Where it came from (web form, file, unsubscribe link).", example="web form"
            ),
            Column("proof", "text", "Evidence (form id, double opt-in token digest).", example="form-8812"),
            Column("recorded_at", "timestamp", "When keepwise recorded it.", example="2024-01-16T08:00Z"),
        ),
        key=("customer_id", "channel", "purpose", "event", "at"),
        loadable=False,
    ),
    Table(
        "suppressions",
        "Addresses never to be mailed again: hard bounces, complaints (written by keepwise).",
        (
            Column("address", "text", "Address (lower case).", required=True, example="ada@example.com"),
            Column("customer_id", "text", "Customer it belonged to, if known.", example="C001"),
            Column(
                "reason",
                "text",
                "Why.",
                required=True,
                allowed=("hard_bounce", "complaint", "manual"),
                example="hard_bounce",
            ),
            Column("at", "timestamp", "When it was added.", required=True, example="2024-06-02T08:00Z"),
            Column("detail", "text", "Server reply or note.", example="550 5.1.1 no such user"),
        ),
        key=("address",),
        loadable=False,
    ),
    Table(
        "consent_requests",
        "Double opt-in: consents asked for and not yet confirmed (written by keepwise).",
        (
            Column("customer_id", "text", "Who was asked.", required=True, example="C001"),
            Column("channel", "text", "Channel.", required=True, example="email"),
            Column("purpose", "text", "What for.", required=True, example="marketing"),
            Column("requested_at", "timestamp", "When.", required=True, example="2024-06-01T10:00Z"),
            Column("source", "text", "Where it was asked.", example="web form"),
            Column("confirmed_at", "timestamp", "When the link was followed.", example=""),
        ),
        key=("customer_id", "channel", "purpose", "requested_at"),
        loadable=False,
    ),
    Table(
        "message_bodies",
        "The exact MIME text of each outbox message, fixed when it is queued (written by keepwise).",
        (
            Column("message_id", "text", "Outbox message id.", required=True, example="kw-3f2a9c"),
            Column("mime", "text", "The message as sent (RFC 5322).", required=True, example="From: ..."),
        ),
        key=("message_id",),
        loadable=False,
    ),
    Table(
        "locks",
        "Leases that keep two runs of a job from overlapping (written by keepwise).",
        (
            Column("name", "text", "Lock name.", required=True, example="outbox"),
            Column("holder", "text", "host:pid:nonce of the holder.", required=True, example="web1:4711:9f"),
            Column("acquired_at", "timestamp", "When it was taken.", required=True, example="2024-06-02"),
            Column("expires_at", "timestamp", "Lease end.", required=True, example="2024-06-02"),
        ),
        key=("name",),
        loadable=False,
    ),
    Table(
        "wins",
        "Why customers chose the business (asked when they joined), set against why they leave.",
        (
            Column(
                "customer_id", "text", "Who was won.", required=True, references=_CUSTOMER_REF, example="C001"
            ),
            Column("won_at", "timestamp", "When they chose you.", required=True, example="2024-01-15"),
            Column(
                "reason_code",
                "text",
                "Main reason: price, service, quality, range (what you stock), recommendation, location, or "
                "your own code.",
                required=True,
                example="service",
            ),
            Column("reason_text", "text", "In their words.", example="Friendly and quick"),
        ),
        key=("customer_id", "won_at"),
    ),
    Table(
        "winback_attempts",
        "Past win-back attempts on lost customers and whether each came back: keepwise winback learns the "
        "chance of winning back by exit reason from them.",
        (
            Column(
                "customer_id",
                "text",
                "Who was approached.",
                required=True,
                references=_CUSTOMER_REF,
                example="C001",
            ),
            Column("attempted_at", "timestamp", "When.", required=True, example="2024-08-01"),
            Column(
                "reason_code",
                "text",
                "Their exit reason at the time (as in exits.reason_code; empty or unknown if not known).",
                example="price",
            ),
            Column("offer", "text", "What was offered.", example="10% off the next three orders"),
            Column("cost", "money", "What the offer cost.", min_value=0, example="30.00"),
            Column("currency", "currency", "Currency of cost.", example="USD"),
            Column("won_back", "boolean", "Did they buy again?", required=True, example="true"),
        ),
        key=("customer_id", "attempted_at"),
    ),
    Table(
        "decision_log",
        "Every recommendation keepwise made, what the representative did and what followed (written by "
        "keepwise).",
        (
            Column("decision_id", "text", "Decision id.", required=True, example="d-20240301-C001"),
            Column("kind", "text", "What was decided.", required=True, example="concession"),
            Column("customer_id", "text", "Customer.", required=True, example="C001"),
            Column("incident_id", "text", "Incident, if any.", example="I77"),
            Column("decided_at", "timestamp", "When.", required=True, example="2024-03-01T10:00Z"),
            Column("recommendation", "text", "approve, refuse or counter.", required=True, example="approve"),
            Column("asked", "money", "Amount asked for.", example="200.00"),
            Column("recommended", "money", "Amount recommended.", example="200.00"),
            Column(
                "expected_benefit", "money", "Margin the concession was expected to keep.", example="310.00"
            ),
            Column("currency", "currency", "Currency of the amounts.", example="USD"),
            Column("action", "text", "granted, refused or pending.", example="granted"),
            Column("granted", "money", "Amount actually granted.", example="200.00"),
            Column(
                "outcome",
                "text",
                "stayed (ordered), left (an exit) or quiet (neither) within the outcome window; pending.",
                example="stayed",
            ),
            Column("outcome_at", "timestamp", "When the outcome was recorded.", example="2024-05-01"),
            Column("reasons", "text", "The reasons given, one per line.", example="..."),
        ),
        key=("decision_id",),
        loadable=False,
    ),
    Table(
        "experiments",
        "Experiment designs: how each experiment's assignment was drawn (written by keepwise).",
        (
            Column("experiment_id", "text", "Experiment.", required=True, example="vip-2024"),
            Column("arms", "text", "Arms with ratios.", required=True, example="control:1,treatment:1"),
            Column("control", "text", "The control arm.", required=True, example="control"),
            Column("seed", "text", "Seed of the random assignment.", required=True, example="20240501"),
            Column("strata", "text", "Columns assignment was stratified by.", example="profit_decile"),
            Column("population", "text", "Who was in it, in words.", example="top 1200 by trailing profit"),
            Column("created_at", "timestamp", "When it was designed.", required=True, example="2024-05-01"),
        ),
        key=("experiment_id",),
        loadable=False,
    ),
    Table(
        "assignments",
        "Who got which treatment in an experiment (written by keepwise).",
        (
            Column("experiment_id", "text", "Experiment.", required=True, example="vip-2024"),
            Column(
                "customer_id", "text", "Customer.", required=True, references=_CUSTOMER_REF, example="C001"
            ),
            Column("arm", "text", "Arm.", required=True, example="treatment"),
            Column("assigned_at", "timestamp", "When.", required=True, example="2024-05-01"),
        ),
        key=("experiment_id", "customer_id"),
        loadable=False,
    ),
    Table(
        "outbox",
        "Messages, each sent once (written by keepwise).",
        (
            Column("message_id", "text", "Message id.", required=True, example="m-1"),
            Column(
                "idempotency_key",
                "text",
                "Customer, kind and cause.",
                required=True,
                example="C001:winback:2024-06",
            ),
            Column(
                "customer_id", "text", "Recipient.", required=True, references=_CUSTOMER_REF, example="C001"
            ),
            Column("template", "text", "Template used.", required=True, example="winback"),
            Column(
                "status", "text", "queued, sent, failed, suppressed, held_out.", required=True, example="sent"
            ),
            Column("attempts", "quantity", "Send attempts.", example="1"),
            Column("sent_at", "timestamp", "When it was sent.", example="2024-06-02T08:00Z"),
            Column("kind", "text", "Kind of message (X-Keepwise-Kind).", example="winback"),
            Column("cause", "text", "What the message is about (incident, lapse, month).", example="2024-06"),
            Column("recipient", "text", "Address it goes to.", example="ada@example.com"),
            Column("language", "text", "Language it was written in.", example="en"),
            Column("subject", "text", "Subject line.", example="We miss you"),
            Column("queued_at", "timestamp", "When it was queued.", example="2024-06-01T08:00Z"),
            Column("confirmed", "boolean", "Server acceptance seen (not after a crash).", example="true"),
            Column("error", "text", "Last server reply or reason it was not sent.", example=""),
        ),
        key=("message_id",),
        loadable=False,
    ),
    Table(
        "conjoint_studies",
        "Fitted conjoint studies: the coding of the attributes and the model's state (written by keepwise "
        "conjoint estimate --save).",
        (
            Column("study", "text", "Study name.", required=True, example="winback-2024"),
            Column("saved_at", "timestamp", "When it was saved.", required=True, example="2024-06-01T10:00Z"),
            Column(
                "model", "text", "mnl, hb or lc.", required=True, allowed=("mnl", "hb", "lc"), example="mnl"
            ),
            Column("source", "text", "The answers file it was fitted on.", example="answers.csv"),
            Column("currency", "currency", "Currency of the price attribute.", example="USD"),
            Column("n_tasks", "quantity", "Choice tasks.", example="4800"),
            Column("n_respondents", "quantity", "Respondents (hierarchical Bayes).", example="400"),
            Column("log_likelihood", "real", "Log-likelihood at the estimate.", example="-1095.2"),
            Column("coding", "text", "Attributes, levels and coding (JSON).", required=True, example="{}"),
            Column("state", "text", "Covariance, draws, individual part-worths (JSON).", example="{}"),
        ),
        key=("study",),
        loadable=False,
    ),
    Table(
        "conjoint_estimates",
        "Coefficients of each saved conjoint study (population means for hierarchical Bayes; written by "
        "keepwise).",
        (
            Column("study", "text", "Study name.", required=True, example="winback-2024"),
            Column("coefficient", "text", "Model column.", required=True, example="plan[Basic]"),
            Column("position", "quantity", "Order of the column in the model.", example="0"),
            Column("estimate", "real", "Estimate (posterior mean for HB).", required=True, example="-0.8"),
            Column("std_error", "real", "Standard error (posterior sd for HB).", example="0.05"),
        ),
        key=("study", "coefficient"),
        loadable=False,
    ),
    Table(
        "clv",
        "Customer lifetime values, one row per customer, history date and purchase model (written by "
        "keepwise clv; a rerun for the same date and model replaces its rows).",
        (
            Column("customer_id", "text", "Customer.", required=True, references=_CUSTOMER_REF, example="C1"),
            Column("as_of", "timestamp", "Last day of history used.", required=True, example="2024-06-30"),
            Column("model", "text", "Purchase model.", required=True, example="bgnbd"),
            Column("horizon_months", "quantity", "Months valued.", example="12"),
            Column("discount_rate", "real", "Annual discount rate.", example="0.1"),
            Column("p_alive", "real", "Probability the customer is still active.", example="0.83"),
            Column("expected_purchases", "real", "Purchases expected over the horizon.", example="2.4"),
            Column("next_purchase_date", "timestamp", "Next purchase if active.", example="2024-07-20"),
            Column("expected_spend", "money", "Expected spend per purchase.", example="35.20"),
            Column("clv", "money", "Discounted margin over the horizon.", example="24.10"),
            Column("clv_lower", "money", "Lower end of the 95% interval.", example="21.90"),
            Column("clv_upper", "money", "Upper end of the 95% interval.", example="26.40"),
            Column("currency", "currency", "Currency of the amounts.", example="USD"),
            Column("computed_at", "timestamp", "When it was computed.", example="2024-07-01T06:00Z"),
        ),
        key=("as_of", "model", "customer_id"),
        loadable=False,
    ),
    Table(
        "outreach_actions",
        "Each month's service actions and what became of them (written by keepwise outreach; a rerun of a "
        "month replaces its planned rows and never touches those marked done or skipped).",
        (
            Column("month", "text", "Month of the plan, YYYY-MM.", required=True, example="2024-06"),
            Column("customer_id", "text", "Customer.", required=True, example="C001"),
            Column(
                "action",
                "text",
                "What kind of action.",
                required=True,
                allowed=("reprice_or_part_ways", "re_engage", "contact"),
                example="contact",
            ),
            Column("recommendation", "text", "What to do (contact, on_next_inbound...).", example="contact"),
            Column("tier", "text", "Service tier.", example="gold"),
            Column("handled_by", "text", "Who handles it.", example="account manager"),
            Column("channel", "text", "Channel with consent in force (empty: none).", example="email"),
            Column("due_at", "timestamp", "When it is due.", example="2024-07-01T00:00Z"),
            Column("reasons", "text", "The reasons given, one per line.", example="..."),
            Column(
                "status",
                "text",
                "planned, done or skipped.",
                required=True,
                allowed=("planned", "done", "skipped"),
                example="planned",
            ),
            Column("note", "text", "What was done, in words.", example="called, happy"),
            Column("recorded_at", "timestamp", "When the status was recorded.", example="2024-07-02T09:00Z"),
        ),
        key=("month", "customer_id", "action"),
        loadable=False,
    ),
)

SCHEMA: dict[str, Table] = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    """Return the declaration of table ``name``; unknown names raise ``KeepwiseInputError``."""
    from keepwise.exceptions import KeepwiseInputError

    try:
        return SCHEMA[name]
    except KeyError:
        known = ", ".join(t.name for t in TABLES if t.loadable)
        raise KeepwiseInputError(f"unknown table '{name}'; the tables are: {known}") from None


def load_order(names: list[str] | set[str] | None = None) -> list[str]:
    """Tables in dependency order (referenced tables first), restricted to ``names`` if given."""
    wanted = set(names) if names is not None else {t.name for t in TABLES}
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in sorted(SCHEMA[name].depends_on):
            visit(dep)
        ordered.append(name)

    for t in TABLES:
        if t.name in wanted:
            visit(t.name)
    return [n for n in ordered if n in wanted]


def as_dict() -> dict[str, object]:
    """The whole contract as plain data (``keepwise schema --json``)."""
    return {
        t.name: {
            "description": t.description,
            "key": list(t.key),
            "loadable": t.loadable,
            "columns": [
                {
                    "name": c.name,
                    "type": c.sql_type,
                    "required": c.required,
                    "description": c.description,
                    **({"min_value": c.min_value} if c.min_value is not None else {}),
                    **({"allowed": list(c.allowed)} if c.allowed else {}),
                    **({"references": ".".join(c.references)} if c.references else {}),
                }
                for c in t.columns
            ],
        }
        for t in TABLES
    }


def markdown() -> str:
    """The contract as Markdown, one section per loadable table with a small CSV example (for the README)."""
    parts: list[str] = []
    for t in TABLES:
        if not t.loadable:
            continue
        parts.append(f"### {t.name}\n\n{t.description} Key: `{', '.join(t.key)}`.\n")
        parts.append("| column | type | required | meaning |\n|---|---|---|---|")
        for c in t.columns:
            rule = []
            if c.min_value is not None:
                rule.append(f">= {c.min_value:g}")
            if c.allowed:
                rule.append("one of " + ", ".join(c.allowed))
            if c.references:
                rule.append("must exist in " + ".".join(c.references))
            meaning = c.description + (f" ({'; '.join(rule)})" if rule else "")
            parts.append(f"| `{c.name}` | {c.sql_type} | {'yes' if c.required else ''} | {meaning} |")
        header = ",".join(c.name for c in t.columns)
        example = ",".join(_csv_cell(c.example) for c in t.columns)
        parts.append(f"\n```csv\n{header}\n{example}\n```\n")
    return "\n".join(parts)


def _csv_cell(value: str) -> str:
    return f'"{value}"' if "," in value else value
