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

__all__ = ["CONFIG_FILE", "Config", "MessagesAssumptions", "ValueAssumptions", "about", "load_config", "used"]

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
class Config:
    """Every section of ``keepwise.toml``; ``path`` is the file read (``None``: defaults only)."""

    value: ValueAssumptions = field(default_factory=ValueAssumptions)
    messages: MessagesAssumptions = field(default_factory=MessagesAssumptions)
    path: Path | None = None
    set_in_file: frozenset[str] = frozenset()


_SECTIONS: dict[str, type] = {"messages": MessagesAssumptions, "value": ValueAssumptions}


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
