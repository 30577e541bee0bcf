"""The contract's decision and result tables: win reasons, win-back attempts, and what the stages write.

The stages' tables: decision log, experiments, assignments, outbox, conjoint studies, CLV, outreach actions.
"""

from __future__ import annotations

from keepwise.store.schema.columns import Column, Table

_CUSTOMER_REF = ("customers", "customer_id")

RESULT_TABLES: tuple[Table, ...] = (
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
