"""Building a message: RFC 5322 text with both parts, its Message-ID, and the RFC 8058 list headers.

:func:`to_mime` makes the exact text the outbox stores and the sender transmits: an ``EmailMessage``
with a plain-text and an HTML part (quoted-printable UTF-8), a ``Message-ID`` derived from the idempotency
key, ``X-Keepwise-Kind``, ``Content-Language`` and, on marketing messages, ``List-Unsubscribe`` (the HTTPS
one-click link, and a ``mailto:`` when given) with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``,
written as plain ASCII (:class:`_ListHeader`), never RFC 2047-encoded.
"""

from __future__ import annotations

import random
import re
import sys
from datetime import UTC, datetime
from email import policy as email_policy
from email import quoprimime
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import Policy
from email.utils import format_datetime
from functools import lru_cache
from typing import Any

from keepwise.exceptions import KeepwiseInputError
from keepwise.messages.compose import Composed

__all__ = ["MAX_LINE", "MIME_POLICY", "email_package_mime", "list_unsubscribe", "to_mime"]


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

    Written directly (:func:`_written`), a dozen times faster than building an ``EmailMessage`` and
    flattening it, with the same text the e-mail package gives (:func:`email_package_mime`, which tests
    compare it with; the MIME boundary is random in both). Header values with line breaks take the
    e-mail package's path, which refuses them.

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
    at = at or datetime.now(UTC)
    values = (message.subject, message.recipient, from_name, from_address, message.kind, message.language)
    if any("\n" in v or "\r" in v for v in values):
        sender = {"from_address": from_address, "from_name": from_name}
        return email_package_mime(
            message, **sender, unsubscribe_url=unsubscribe_url, at=at, unsubscribe_mailto=unsubscribe_mailto
        )
    return _written(message, from_address, from_name, unsubscribe_url, at, unsubscribe_mailto)


def email_package_mime(
    message: Composed,
    *,
    from_address: str,
    from_name: str,
    unsubscribe_url: str | None,
    at: datetime | None = None,
    unsubscribe_mailto: str | None = None,
) -> str:
    """:func:`to_mime` built with ``email.message.EmailMessage`` (the reference the written text matches)."""
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


#: Line width of the default policy (``email.policy.default.max_line_length``).
_WIDTH = 78
#: Width of the random number in a MIME boundary, as ``email.generator`` draws it.
_BOUNDARY_WIDTH = len(repr(sys.maxsize - 1))
#: Printable ASCII words separated by single spaces: a header value the e-mail package writes unchanged.
_PLAIN = re.compile(r"[!-~]+( [!-~]+)*")
_ADDRESS = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+")
_TEXT_PART = 'Content-Type: text/plain; charset="utf-8"\nContent-Transfer-Encoding: quoted-printable\n\n'
_HTML_PART = (
    'Content-Type: text/html; charset="utf-8"\nContent-Transfer-Encoding: quoted-printable\n'
    "MIME-Version: 1.0\n\n"
)


def _folded(name: str, value: Any) -> str:
    """The header as the e-mail package writes it (parsed, RFC 2047-encoded where needed, folded)."""
    return str(MIME_POLICY.header_factory(name, value).fold(policy=MIME_POLICY))


def _header(name: str, value: str) -> str:
    """A short plain ASCII header as it is; anything else folded by the e-mail package."""
    if len(name) + 2 + len(value) <= _WIDTH and _PLAIN.fullmatch(value) and "=?" not in value:
        return f"{name}: {value}\n"
    return _folded(name, value)


@lru_cache(maxsize=64)
def _sender(name: str, address: str) -> str:
    return _folded("From", Address(display_name=name, addr_spec=address))


def _quoted_printable(text: str) -> str:
    """The body of a text part as ``email.contentmanager`` encodes it (UTF-8, quoted-printable, 78 wide)."""
    body = b"\n".join(text.encode("utf-8").splitlines()) + b"\n"
    return str(quoprimime.body_encode(body.decode("latin-1"), _WIDTH))


def _written(
    message: Composed,
    from_address: str,
    from_name: str,
    unsubscribe_url: str | None,
    at: datetime,
    unsubscribe_mailto: str | None,
) -> str:
    """The text of :func:`email_package_mime` written directly: its headers in its order, both parts."""
    domain = from_address.rpartition("@")[2] or "keepwise.invalid"
    to = message.recipient
    head = [
        _header("Subject", message.subject),
        _sender(from_name, from_address),
        f"To: {to}\n" if _ADDRESS.fullmatch(to) and len(to) < 70 else _folded("To", to),
        _header("Date", format_datetime(at)),
        _header("Message-ID", f"<{message.message_id}@{domain}>"),
        _header("X-Keepwise-Kind", message.kind),
    ]
    if unsubscribe_url is not None:  # what _ListHeader.fold writes: one <URI> a line, never encoded
        uris = [part.strip() for part in list_unsubscribe(unsubscribe_url, unsubscribe_mailto).split(",")]
        head.append("List-Unsubscribe: " + ",\n ".join(uris) + "\n")
        head.append("List-Unsubscribe-Post: List-Unsubscribe=One-Click\n")
    plain = _TEXT_PART + _quoted_printable(message.text)
    html = _HTML_PART + _quoted_printable(message.html)
    while True:  # email.generator's boundary: random, and absent from the parts
        boundary = "=" * 15 + f"{random.randrange(sys.maxsize):0{_BOUNDARY_WIDTH}d}" + "=="
        if f"--{boundary}" not in plain and f"--{boundary}" not in html:
            break
    head.append("MIME-Version: 1.0\n")
    head.append(f'Content-Type: multipart/alternative;\n boundary="{boundary}"\n')
    head.append(_header("Content-Language", message.language))
    return "".join([*head, "\n", f"--{boundary}\n", plain, f"\n--{boundary}\n", html, f"\n--{boundary}--\n"])
