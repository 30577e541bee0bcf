"""The contract's record tables: what a business loads, and the messaging tables keepwise writes beside them.

Customers, products, orders, time, staff rates, incidents, exits, advocacy and consent; then suppressions,
consent requests, message bodies and locks.
"""

from __future__ import annotations

from keepwise.store.schema.columns import Column, Table

_CUSTOMER_REF = ("customers", "customer_id")

RECORD_TABLES: tuple[Table, ...] = (
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
        products=(("quantity", "unit_price"), ("quantity", "unit_cost")),
        one_currency_per=("customer_id", "currency"),
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
        "Permission to contact, as it stands: derived from every grant and revocation (kept in "
        "consent_events); a load adds events and never undoes a revocation with an older grant.",
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
)
