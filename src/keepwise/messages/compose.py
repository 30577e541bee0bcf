"""Composition: a kind, a customer and the facts of the case in; a subject, a plain-text and an HTML part out.

Templates are Jinja2 files named ``KIND.LANG.PART.j2`` (PART is ``subject``, ``txt`` or ``html``) in
``keepwise/messages/templates``; a business overrides any of them by putting a file of the same name in the
folder ``[messages] templates_dir`` names. ``StrictUndefined`` makes a missing field an error, never a blank;
the HTML part is autoescaped (the subject and plain-text part are not HTML, so they are not escaped).

The remedy, the extra gesture and the win-back offer are plain inputs (:class:`Grant`): the decisions
package chooses them, composition only words them.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import jinja2

from keepwise.exceptions import KeepwiseInputError

__all__ = [
    "KINDS",
    "LANGUAGES",
    "MARKETING_KINDS",
    "Composed",
    "Grant",
    "Kind",
    "compose",
    "environment",
    "format_day",
    "format_money",
    "message_id_for",
]

Kind = Literal["adjustment", "winback", "goodbye", "thanks", "reengagement", "confirm", "reprice", "partways"]
#: Every kind of message, as the ``X-Keepwise-Kind`` header names it.
KINDS: tuple[str, ...] = (
    "adjustment",
    "winback",
    "goodbye",
    "thanks",
    "reengagement",
    "confirm",
    "reprice",
    "partways",
)
#: Kinds that need a marketing consent at send time (the rest are service messages).
MARKETING_KINDS: frozenset[str] = frozenset({"winback", "thanks", "reengagement"})
#: Languages with bundled templates; anything else falls back to English.
LANGUAGES: tuple[str, ...] = ("en", "pl")
GrantKind = Literal["refund", "credit", "discount", "voucher", "replacement", "free_shipping", "other"]

TEMPLATES = Path(__file__).parent / "templates"

#: Fields each kind's templates need, besides ``customer_name``, ``business_name`` and ``unsubscribe_url``.
NEEDS: dict[str, tuple[str, ...]] = {
    "adjustment": ("incident", "remedy", "gesture"),
    "winback": ("reason", "offer"),
    "goodbye": (),
    "thanks": ("customer_since", "offer"),
    "reengagement": ("last_order_at", "offer"),
    "confirm": ("confirm_url", "expires_at"),
    "reprice": ("increase_percent", "effective_on", "months"),  # increase_percent None: terms to agree
    "partways": ("last_day", "months"),
}


@dataclass(frozen=True)
class Grant:
    """Something the business gives: a remedy, an extra gesture or an offer.

    Parameters
    ----------
    kind:
        ``refund``, ``credit``, ``discount``, ``voucher``, ``replacement``, ``free_shipping`` or ``other``
        (worded by ``note``).
    amount, currency:
        The money, for refunds, credits, vouchers and fixed discounts.
    percent:
        A percentage discount instead of an amount.
    code:
        A voucher or discount code to quote.
    valid_until:
        Last day an offer can be used.
    note:
        Wording for ``other``, in the customer's language.
    """

    kind: GrantKind
    amount: Decimal | None = None
    currency: str | None = None
    percent: int | None = None
    code: str | None = None
    valid_until: date | None = None
    note: str | None = None

    def __post_init__(self) -> None:
        """Check that the grant can be worded."""
        money_kinds = {"refund", "credit", "voucher"}
        if self.kind in money_kinds and (self.amount is None or not self.currency):
            raise KeepwiseInputError(f"a {self.kind} needs an amount and a currency")
        if self.kind == "discount" and self.percent is None and (self.amount is None or not self.currency):
            raise KeepwiseInputError("a discount needs a percent, or an amount and a currency")
        if self.kind == "other" and not self.note:
            raise KeepwiseInputError("a grant of kind 'other' needs a note that words it")

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {k: (str(v) if isinstance(v, Decimal | date) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Composed:
    """A message ready for the outbox: who, what, why, and the three rendered parts."""

    kind: str
    customer_id: str
    recipient: str
    language: str
    cause: str
    subject: str
    text: str
    html: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def idempotency_key(self) -> str:
        """``customer:kind:cause``: one message per customer, kind and cause, ever."""
        return f"{self.customer_id}:{self.kind}:{self.cause}"

    @property
    def message_id(self) -> str:
        """The outbox id derived from the idempotency key (see :func:`message_id_for`)."""
        return message_id_for(self.idempotency_key)

    @property
    def marketing(self) -> bool:
        """Whether the message needs a marketing consent."""
        return self.kind in MARKETING_KINDS

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return {
            "message_id": self.message_id,
            "idempotency_key": self.idempotency_key,
            "kind": self.kind,
            "customer_id": self.customer_id,
            "recipient": self.recipient,
            "language": self.language,
            "cause": self.cause,
            "marketing": self.marketing,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "facts": self.facts,
        }


def message_id_for(idempotency_key: str) -> str:
    """A stable message id from the idempotency key (the same key always gives the same id).

    The SMTP ``Message-ID`` header is built from it, so a message that is ever transmitted twice carries the
    same ``Message-ID`` both times and receivers that suppress duplicates by it see one message.
    """
    return "kw-" + hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]


def format_money(amount: Decimal | int | str, language: str) -> str:
    """An amount with two decimals: ``1,234.50`` in English, ``1 234,50`` in Polish (no currency)."""
    text = f"{Decimal(str(amount)).quantize(Decimal('0.01')):,.2f}"
    if language == "pl":
        return text.replace(",", "\u00a0").replace(".", ",")
    return text


_MONTHS_EN = "January February March April May June July August September October November December".split()


def format_day(value: date | datetime | str, language: str) -> str:
    """A day as people write it: ``3 March 2024`` in English, ``3.03.2024`` in Polish."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if language == "pl":
        return f"{value.day}.{value.month:02d}.{value.year}"
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"


def environment(templates_dir: str | Path | None = None) -> jinja2.Environment:
    """The Jinja2 environment: overrides first (if a folder is given), then the bundled templates.

    One environment per folder for the life of the process, so each template is compiled once, not once per
    message; Jinja2 still notices a template file changed on disk (``auto_reload``) and compiles it again.
    """
    if templates_dir:
        folder = Path(templates_dir)
        if not folder.is_dir():
            raise KeepwiseInputError(f"templates folder '{folder}' does not exist ([messages] templates_dir)")
        return _environment(str(folder.resolve()))
    return _environment(None)


@functools.lru_cache(maxsize=16)
def _environment(folder: str | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if folder is not None:
        loaders.append(jinja2.FileSystemLoader(folder))
    loaders.append(jinja2.FileSystemLoader(TEMPLATES))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["money"] = format_money
    env.filters["day"] = format_day
    return env


def language_of(language: str | None, env: jinja2.Environment, kind: str) -> str:
    """The customer's language if there are templates for it, else English."""
    lang = (language or "en").strip().lower()[:2]
    try:
        env.get_template(f"{kind}.{lang}.txt.j2")
    except jinja2.TemplateNotFound:
        return "en"
    return lang


def compose(
    kind: str,
    *,
    customer_id: str,
    recipient: str,
    customer_name: str,
    language: str | None,
    cause: str,
    facts: dict[str, Any],
    business_name: str,
    unsubscribe_url: str | None = None,
    templates_dir: str | Path | None = None,
) -> Composed:
    """Render one message in the customer's language.

    Parameters
    ----------
    kind:
        One of :data:`KINDS`.
    customer_id, recipient, customer_name, language:
        Who it goes to; ``language`` picks the templates (falls back to English).
    cause:
        What the message is about (incident id, lapse date, year): part of the idempotency key.
    facts:
        The fields the kind needs (:data:`NEEDS`); a missing one is an error naming it.
    business_name:
        Who signs the message.
    unsubscribe_url:
        The one-click unsubscribe link (marketing messages); ``None`` leaves the footer out.
    templates_dir:
        Folder of templates that override the bundled ones.

    Returns
    -------
    Composed
        Subject, plain text and HTML, with the facts they were written from.
    """
    if kind not in KINDS:
        raise KeepwiseInputError(f"unknown message kind '{kind}'; the kinds are: {', '.join(KINDS)}")
    missing = [name for name in NEEDS[kind] if name not in facts]
    if missing:
        raise KeepwiseInputError(f"a {kind} message needs {', '.join(missing)}")
    if kind in MARKETING_KINDS and unsubscribe_url is None:
        raise KeepwiseInputError(f"a {kind} message is marketing and needs an unsubscribe link")
    env = environment(templates_dir)
    lang = language_of(language, env, kind)
    context = {
        **facts,
        "customer_name": customer_name,
        "business_name": business_name,
        "unsubscribe_url": unsubscribe_url,
        "language": lang,
    }
    try:
        subject = env.get_template(f"{kind}.{lang}.subject.j2").render(context)
        context["subject"] = " ".join(subject.split())
        text = env.get_template(f"{kind}.{lang}.txt.j2").render(context)
        html = env.get_template(f"{kind}.{lang}.html.j2").render(context)
    except jinja2.UndefinedError as exc:
        raise KeepwiseInputError(f"template {kind}.{lang}: {exc.message}") from None
    except jinja2.TemplateError as exc:
        raise KeepwiseInputError(f"template {kind}.{lang}: {exc}") from None
    return Composed(
        kind=kind,
        customer_id=customer_id,
        recipient=recipient,
        language=lang,
        cause=cause,
        subject=context["subject"],
        text=_tidy(text),
        html=html,
        facts={k: (v.as_dict() if isinstance(v, Grant) else v) for k, v in facts.items()},
    )


def _tidy(text: str) -> str:
    """Collapse runs of blank lines left by conditional blocks."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        if line.strip() or (lines and lines[-1].strip()):
            lines.append(line.rstrip())
    return "\n".join(lines).strip() + "\n"
