"""Section ``[messages]``: sending, consent links and automated flows."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from keepwise.config.fields import about

__all__ = ["MessagesAssumptions"]


@dataclass(frozen=True)
class MessagesAssumptions:
    """Sending, consent links and automated flows of :mod:`keepwise.messages` (section ``[messages]``).

    Secrets never sit in this file: ``secret_env`` and ``smtp_password_env`` name environment variables
    (without ``secret_env`` set, the link secret is made and kept by :mod:`keepwise.store.secret`).
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
            "Environment variable that, when set, holds the secret signing confirm and unsubscribe links; "
            "unset, keepwise makes one on first use and keeps it beside the store (<store>.secret, mode "
            "0600) or in it (PostgreSQL). See keepwise.store.secret.",
            "convention: secrets live in the environment or a private file, never in version control",
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
