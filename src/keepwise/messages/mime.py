"""Building a message: RFC 5322 text with both parts, its Message-ID, and the RFC 8058 list headers.

:func:`to_mime` makes the exact text the outbox stores and the sender transmits: an ``EmailMessage``
with a plain-text and an HTML part (quoted-printable UTF-8), a ``Message-ID`` derived from the idempotency
key, ``X-Keepwise-Kind``, ``Content-Language`` and, on marketing messages, ``List-Unsubscribe`` (the HTTPS
one-click link, and a ``mailto:`` when given) with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``,
written as plain ASCII (:class:`_ListHeader`), never RFC 2047-encoded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import policy as email_policy
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime

from keepwise.exceptions import KeepwiseInputError
from keepwise.messages.compose import Composed

__all__ = ["MAX_LINE", "MIME_POLICY", "list_unsubscribe", "to_mime"]


class _ListHeader(UnstructuredHeader, BaseHeader):
    """``List-Unsubscribe`` and ``List-Unsubscribe-Post`` as RFC 2369 / RFC 8058 want them on the wire.

    The default policy folds a header at 78 characters and, when a word (a long HTTPS link) cannot be broken,
    rewrites the whole value as an RFC 2047 encoded word (``=?utf-8?q?=3Chttps=3A//...``), which mailbox
    providers do not decode into a one-click link. These headers are ASCII by construction, so they are
    written as they are: one ``<URI>`` per line, folded only between the URIs of the list.
    """

    max_count = 1

    def fold(self, *, policy: Policy) -> str:
        """The header as is, folded after each comma of the list (never encoded)."""
        items = (
            [part.strip() for part in str(self).split(",")]
            if self.name.lower() == "list-unsubscribe"
            else [str(self).strip()]
        )
        return f"{self.name}: " + ("," + policy.linesep + " ").join(items) + policy.linesep


_HEADERS = HeaderRegistry()
_HEADERS.map_to_type("list-unsubscribe", _ListHeader)
_HEADERS.map_to_type("list-unsubscribe-post", _ListHeader)
#: The default e-mail policy, with the list headers written unencoded (see :class:`_ListHeader`).
MIME_POLICY = email_policy.default.clone(header_factory=_HEADERS)
#: The longest line RFC 5322 allows (2.1.1), without its CRLF.
MAX_LINE = 998


def list_unsubscribe(unsubscribe_url: str, mailto: str | None = None) -> str:
    """The ``List-Unsubscribe`` value: ``<https://...>`` and, when given, ``<mailto:...>`` (RFC 2369, 8058).

    The link must be HTTPS (RFC 8058 one-click), printable ASCII without spaces, commas or angle brackets,
    and short enough for one header line.
    """
    if not unsubscribe_url.startswith("https://"):
        raise KeepwiseInputError("messages.unsubscribe_url must be an https:// address (RFC 8058)")
    uris = [unsubscribe_url] + (
        [mailto if mailto.startswith("mailto:") else f"mailto:{mailto}"] if mailto else []
    )
    for uri in uris:
        if not re.fullmatch(r"[!-~]+", uri) or any(c in uri for c in ",<>"):
            raise KeepwiseInputError(
                "an unsubscribe address must be printable ASCII without spaces, commas or angle brackets "
                f"(encode them as %XX): {uri!r}"
            )
        if len(uri) + len("List-Unsubscribe: <>,") > MAX_LINE:
            raise KeepwiseInputError(
                f"an unsubscribe address longer than {MAX_LINE - 21} characters: {uri[:60]}..."
            )
    return ", ".join(f"<{uri}>" for uri in uris)


def to_mime(
    message: Composed,
    *,
    from_address: str,
    from_name: str,
    unsubscribe_url: str | None,
    at: datetime | None = None,
    unsubscribe_mailto: str | None = None,
) -> str:
    """The message as RFC 5322 text, ready for the outbox.

    Parameters
    ----------
    message:
        The composed message.
    from_address, from_name:
        The sender.
    unsubscribe_url:
        One-click unsubscribe link (HTTPS); given for marketing messages, it adds ``List-Unsubscribe`` and
        ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), both written unencoded.
    at:
        The ``Date`` header (default: now).
    unsubscribe_mailto:
        An address that also unsubscribes by mail, listed after the link (``<mailto:...>``).
    """
    domain = from_address.rpartition("@")[2] or "keepwise.invalid"
    mail = EmailMessage(policy=MIME_POLICY)
    mail["Subject"] = message.subject
    mail["From"] = Address(display_name=from_name, addr_spec=from_address)
    mail["To"] = message.recipient
    mail["Date"] = format_datetime(at or datetime.now(UTC))
    mail["Message-ID"] = f"<{message.message_id}@{domain}>"
    mail["X-Keepwise-Kind"] = message.kind
    if unsubscribe_url is not None:
        mail["List-Unsubscribe"] = list_unsubscribe(unsubscribe_url, unsubscribe_mailto)
        mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mail.set_content(message.text, charset="utf-8", cte="quoted-printable")
    mail.add_alternative(message.html, subtype="html", charset="utf-8", cte="quoted-printable")
    mail["Content-Language"] = message.language  # after the parts: set_content clears Content-* headers
    return mail.as_string()
