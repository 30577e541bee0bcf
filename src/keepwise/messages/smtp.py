r"""One SMTP session that sends many messages, each in a transaction whose final dot the caller releases.

:class:`Session` opens a connection on demand (EHLO, STARTTLS, login), keeps it for the whole run and reopens
it after an error. Small writes go out at once (``TCP_NODELAY``): the final ``.`` of a message is three bytes
written right after the body, which Nagle's algorithm would otherwise hold until the body's
acknowledgement (tens of milliseconds per message on loopback).

:func:`transmit` drives one transaction: MAIL, RCPT, DATA (in one write when the server offers
``PIPELINING``, RFC 2920 3.1: the envelope commands go together and DATA ends the group; otherwise one at a
time), the dot-stuffed body *without* its final dot, then the caller's ``point_of_no_return`` (the claim,
committed), then ``.`` and the reply. The exceptions say what became of the message:
:class:`Temporary` (4xx, or a connection lost before the dot: nothing was delivered), :class:`Permanent`
(5xx, with the stage that refused), :class:`Unconfirmed` (the dot was written, no reply read) and
:class:`Unopened` (no session could be opened at all).
"""

from __future__ import annotations

import re
import smtplib
import socket
from collections.abc import Callable
from typing import Protocol

from keepwise.exceptions import KeepwiseInputError

__all__ = [
    "Permanent",
    "Session",
    "Temporary",
    "Unconfirmed",
    "Unopened",
    "dot_stuffed",
    "reply_text",
    "transmit",
]


class Settings(Protocol):
    """What a session needs of :class:`keepwise.messages.send.SmtpSettings`."""

    @property
    def host(self) -> str: ...
    @property
    def port(self) -> int: ...
    @property
    def starttls(self) -> bool: ...
    @property
    def username(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def timeout(self) -> float: ...


class Temporary(Exception):
    """A 4xx reply or a broken connection before the final dot: try again later."""


class Unopened(Exception):
    """No session could be opened (connection refused, unknown host, time-out, refused greeting or TLS)."""


class Permanent(Exception):
    """A 5xx reply: record the message as failed."""

    def __init__(self, reply: str, stage: str):
        super().__init__(reply)
        self.stage = stage


class Unconfirmed(Exception):
    """The final dot was written but no reply was read."""


def reply_text(code: int, text: bytes | str) -> str:
    """A server reply as one line: ``250 OK``."""
    text = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(text.split())}"


def _check(code: int, text: bytes, stage: str) -> None:
    if 400 <= code < 500:
        raise Temporary(reply_text(code, text))
    if code >= 500:
        raise Permanent(reply_text(code, text), stage)


def dot_stuffed(mime: str) -> bytes:
    """The DATA payload without its final dot: CRLF line ends, leading dots doubled, ending in CRLF."""
    data = re.sub(r"\r\n|\r|\n", "\r\n", mime)
    data = re.sub(r"(?m)^\.", "..", data)
    if not data.endswith("\r\n"):
        data += "\r\n"
    return data.encode("utf-8")


class Session:
    """One SMTP session, opened on demand, kept across messages and reopened after an error."""

    def __init__(self, settings: Settings, *, pipelining: bool = True):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None
        #: Use PIPELINING when the server offers it.
        self.allow_pipelining = pipelining
        #: Whether the open session pipelines its envelope commands.
        self.pipelining = False
        #: Sessions opened so far (a dropped connection is reopened for the next message).
        self.opened = 0

    def get(self) -> smtplib.SMTP:
        """The open session, opening it first if needed (raises :class:`Unopened` when it cannot)."""
        if self.smtp is None:
            s = self.settings
            try:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if smtp.sock is not None:
                    smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                smtp.ehlo()
                if s.starttls:
                    smtp.starttls()
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, s.password)
            except smtplib.SMTPAuthenticationError as exc:
                raise KeepwiseInputError(
                    f"SMTP login refused: {reply_text(exc.smtp_code, exc.smtp_error)}"
                ) from None
            except (OSError, smtplib.SMTPException) as exc:
                raise Unopened(f"{s.host}:{s.port} ({exc})") from None
            self.smtp = smtp
            self.pipelining = self.allow_pipelining and smtp.has_extn("pipelining")
            self.opened += 1
        return self.smtp

    def drop(self) -> None:
        """Close the connection without a goodbye (after an error)."""
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None

    def quit(self) -> None:
        """Say goodbye and close (end of the run, or before a long wait)."""
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.smtp = None


def _envelope(session: Session, smtp: smtplib.SMTP, sender: str, recipient: str) -> None:
    """MAIL, RCPT and DATA up to the server's 354 (pipelined when the session may)."""
    if not session.pipelining:
        code, text = smtp.mail(sender)
        _check(code, text, "MAIL")
        code, text = smtp.rcpt(recipient)
        _check(code, text, "RCPT")
        smtp.putcmd("data")
        code, text = smtp.getreply()
        if code != 354:
            _check(code, text, "DATA")
            raise Temporary(reply_text(code, text))
        return
    mail_from, rcpt_to = smtplib.quoteaddr(sender), smtplib.quoteaddr(recipient)
    smtp.send(f"mail FROM:{mail_from}\r\nrcpt TO:{rcpt_to}\r\ndata\r\n".encode())
    replies = [smtp.getreply() for _ in range(3)]
    (mail, mail_text), (rcpt, rcpt_text), (data, data_text) = replies
    if data == 354 and (mail >= 400 or rcpt >= 400):
        session.drop()  # the server opened DATA though the envelope failed: abandon the transaction
    _check(mail, mail_text, "MAIL")
    _check(rcpt, rcpt_text, "RCPT")
    if data != 354:
        _check(data, data_text, "DATA")
        raise Temporary(reply_text(data, data_text))


def transmit(
    session: Session, sender: str, recipient: str, mime: str, point_of_no_return: Callable[[], None]
) -> str:
    """One SMTP transaction; calls ``point_of_no_return`` just before the final dot; returns the reply."""
    smtp = session.get()
    try:
        _envelope(session, smtp, sender, recipient)
        smtp.send(dot_stuffed(mime))
    except (Temporary, Permanent):
        if session.smtp is not None:
            try:
                smtp.rset()
            except (OSError, smtplib.SMTPException):
                session.drop()
        raise
    except (OSError, smtplib.SMTPException) as exc:
        session.drop()
        raise Temporary(f"connection lost before the end of the message: {exc}") from None
    point_of_no_return()
    try:
        smtp.send(b".\r\n")
        code, text = smtp.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        session.drop()
        raise Unconfirmed(f"no reply after the end of the message: {exc}") from None
    _check(code, text, "end of DATA")
    return reply_text(code, text)
