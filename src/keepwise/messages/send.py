r"""Sending the outbox over SMTP, each message exactly once across crashes (within the limit stated below).

Building (:func:`to_mime`, in :mod:`keepwise.messages.mime`, re-exported here)
    ``email.message.EmailMessage`` with a plain-text and an HTML part (quoted-printable UTF-8), a
    ``Message-ID`` derived from the idempotency key, ``X-Keepwise-Kind``, ``Content-Language`` and, on
    marketing messages, ``List-Unsubscribe`` (an HTTPS one-click link) with
    ``List-Unsubscribe-Post: List-Unsubscribe=One-Click`` (RFC 8058), written plainly on the wire.

The protocol (:func:`send_outbox`)
    An SMTP server takes responsibility for a message when it has read the line ``.`` that ends the DATA
    section (RFC 5321 4.1.1.4); a connection that breaks before that line delivers nothing. The sender
    therefore drives the DATA phase itself:

    1. hold the store lock ``outbox`` (one sender at a time; a killed holder's lock is taken over);
    2. reconcile: every message left in ``sending`` by a killed run is recorded ``sent`` with
       ``confirmed = false`` (its final dot had been, or was about to be, written: it is never resent);
    3. for each ``queued`` message: check permission against the consent table *now*; MAIL, RCPT, DATA,
       transmit the whole body *without* the final dot;
    4. commit ``status = 'sending'`` (attempts + 1): the point of no return;
    5. write the final ``.`` and read the reply: 250 commits ``sent`` (``confirmed = true``); 4xx puts the
       message back in the queue to retry with exponential backoff (up to ``max_attempts``, then
       ``failed``); 5xx commits ``failed`` (and a 5xx to RCPT puts the address on the suppression list).

    A kill at any point before step 4 has committed leaves the message ``queued`` and the server with an
    unfinished transaction, which it discards: the restart sends it once. A kill after step 4 leaves it
    ``sending``; the restart records it sent and never resends it.

Limits, honestly
    The commit of step 4 and the write of step 5 cannot be one atomic act. A kill in the microseconds
    between them (after the commit returned, before the kernel took the three bytes ``.\r\n``) loses that
    message: it is recorded ``sent`` but unconfirmed and never arrives. The alternative order (record after
    the reply) would instead risk a duplicate in the longer window of a server round trip plus a commit, so
    keepwise chooses at-most-once for that instant and reports every such message as
    ``sent_unconfirmed`` in ``keepwise messages report`` for a person to check. Likewise a reply lost to a
    broken connection after the dot is recorded sent-unconfirmed, and a server that accepts the dot but
    then loses the message (its own crash) is outside keepwise's sight. Should a message ever be
    transmitted twice, both copies carry the same ``Message-ID``, which receivers that suppress duplicates
    use. Power loss is covered as far as DuckDB's write-ahead log is flushed on commit.
"""

from __future__ import annotations

import heapq
import os
import re
import smtplib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from keepwise.config import Config, MessagesAssumptions, load_config
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.messages import outbox
from keepwise.messages.consent import permission, suppress
from keepwise.messages.mime import MIME_POLICY, list_unsubscribe, to_mime
from keepwise.store.consent_history import ensure_events
from keepwise.store.outbox import reconcile_sending
from keepwise.store.store import Store, as_store

__all__ = [
    "MIME_POLICY",
    "SendResult",
    "SmtpSettings",
    "SmtpUnreachable",
    "list_unsubscribe",
    "parse_hostport",
    "run",
    "send_outbox",
    "to_mime",
]


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send; built from ``[messages]`` with :meth:`from_config`."""

    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    username: str = ""
    password: str = ""
    from_address: str = "hello@example.com"
    interval: float = 0.2
    max_attempts: int = 5
    backoff: float = 30.0
    timeout: float = 30.0
    service_days: int = 30
    lock_ttl: timedelta = timedelta(minutes=15)

    @classmethod
    def from_config(cls, cfg: MessagesAssumptions, smtp: str | None = None) -> SmtpSettings:
        """Settings from the config section; ``smtp`` (``HOST:PORT``) replaces the configured server."""
        host, port = parse_hostport(smtp) if smtp else (cfg.smtp_host, int(cfg.smtp_port))
        if int(cfg.max_attempts) < 1:
            raise KeepwiseInputError("messages.max_attempts must be at least 1")
        if cfg.send_interval_seconds < 0 or cfg.backoff_seconds < 0:
            raise KeepwiseInputError(
                "messages.send_interval_seconds and backoff_seconds must not be negative"
            )
        password = os.environ.get(cfg.smtp_password_env, "") if cfg.smtp_username else ""
        if cfg.smtp_username and not password:
            raise KeepwiseInputError(
                f"set {cfg.smtp_password_env} to the SMTP password of {cfg.smtp_username}"
            )
        return cls(
            host=host,
            port=port,
            starttls=bool(cfg.smtp_starttls),
            username=cfg.smtp_username,
            password=password,
            from_address=cfg.from_address,
            interval=float(cfg.send_interval_seconds),
            max_attempts=int(cfg.max_attempts),
            backoff=float(cfg.backoff_seconds),
            service_days=int(cfg.service_days),
            lock_ttl=timedelta(minutes=int(cfg.lock_minutes)),
        )


def parse_hostport(value: str) -> tuple[str, int]:
    """``HOST:PORT`` into its parts; anything else is an input error."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BadInput("smtp", "must be HOST:PORT, e.g. 127.0.0.1:2525", value)
    return host.strip("[]"), int(port)


@dataclass
class SendResult:
    """What one run of the sender did."""

    sent: int = 0
    failed: int = 0
    suppressed: int = 0
    retried: int = 0
    reconciled: int = 0
    details: list[dict[str, Any]] = field(default_factory=list)
    #: Inputs the store lacks that matter to sending (``Note.to_json()`` objects), e.g. no consent at all.
    notes: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return dict(self.__dict__)


class _Temporary(Exception):
    """A 4xx reply or a broken connection before the final dot: try again later."""


class _Unopened(Exception):
    """No session could be opened (connection refused, unknown host, time-out, refused greeting or TLS)."""


class _Permanent(Exception):
    """A 5xx reply: record the message as failed."""

    def __init__(self, reply: str, stage: str):
        super().__init__(reply)
        self.stage = stage


class _Unconfirmed(Exception):
    """The final dot was written but no reply was read."""


class SmtpUnreachable(KeepwiseInputError):
    """No SMTP session could be opened: the run stops at once and leaves the rest of the queue queued.

    Retrying message by message against a server that refuses connections only burns the backoff (minutes
    per message); the setting or the server needs fixing first, then ``keepwise messages send`` again.
    """


def _reply(code: int, text: bytes | str) -> str:
    text = text.decode(errors="replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(text.split())}"


def _check(code: int, text: bytes, stage: str) -> None:
    if 400 <= code < 500:
        raise _Temporary(_reply(code, text))
    if code >= 500:
        raise _Permanent(_reply(code, text), stage)


def _dot_stuffed(mime: str) -> bytes:
    """The DATA payload without its final dot: CRLF line ends, leading dots doubled, ending in CRLF."""
    data = re.sub(r"\r\n|\r|\n", "\r\n", mime)
    data = re.sub(r"(?m)^\.", "..", data)
    if not data.endswith("\r\n"):
        data += "\r\n"
    return data.encode("utf-8")


class _Connection:
    """One SMTP session, opened on demand and reopened after an error."""

    def __init__(self, settings: SmtpSettings):
        self.settings = settings
        self.smtp: smtplib.SMTP | None = None

    def get(self) -> smtplib.SMTP:
        if self.smtp is None:
            s = self.settings
            try:
                smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                smtp.ehlo()
                if s.starttls:
                    smtp.starttls()
                    smtp.ehlo()
                if s.username:
                    smtp.login(s.username, s.password)
            except smtplib.SMTPAuthenticationError as exc:
                raise KeepwiseInputError(
                    f"SMTP login refused: {_reply(exc.smtp_code, exc.smtp_error)}"
                ) from None
            except (OSError, smtplib.SMTPException) as exc:
                raise _Unopened(f"{s.host}:{s.port} ({exc})") from None
            self.smtp = smtp
        return self.smtp

    def drop(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.close()
            finally:
                self.smtp = None

    def quit(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self.smtp = None


def _transmit(
    conn: _Connection, row: outbox.OutboxRow, from_address: str, point_of_no_return: Callable[[], None]
) -> str:
    """One SMTP transaction for ``row``; calls ``point_of_no_return`` just before the final dot."""
    smtp = conn.get()
    try:
        code, text = smtp.mail(from_address)
        _check(code, text, "MAIL")
        code, text = smtp.rcpt(row.recipient)
        _check(code, text, "RCPT")
        smtp.putcmd("data")
        code, text = smtp.getreply()
        if code != 354:
            _check(code, text, "DATA")
            raise _Temporary(_reply(code, text))
        smtp.send(_dot_stuffed(row.mime))
    except (_Temporary, _Permanent):
        try:
            smtp.rset()
        except (OSError, smtplib.SMTPException):
            conn.drop()
        raise
    except (OSError, smtplib.SMTPException) as exc:
        conn.drop()
        raise _Temporary(f"connection lost before the end of the message: {exc}") from None
    point_of_no_return()
    try:
        smtp.send(b".\r\n")
        code, text = smtp.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        conn.drop()
        raise _Unconfirmed(f"no reply after the end of the message: {exc}") from None
    _check(code, text, "end of DATA")
    return _reply(code, text)


def send_outbox(
    store: Store,
    settings: SmtpSettings,
    *,
    clock: Callable[[], datetime] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] | None = None,
    limit: int | None = None,
) -> SendResult:
    """Send every queued message once, holding the store lock (see the module docstring for the protocol).

    Parameters
    ----------
    store:
        The store (DuckDB or PostgreSQL: the protocol needs transactions).
    settings:
        SMTP server, throttle, retries.
    clock:
        The time permission is checked at and statuses are stamped with (default: now, UTC).
    sleep:
        How to wait (throttle and backoff).
    log:
        Receives one line per message.
    limit:
        Send at most this many messages in this run.

    Returns
    -------
    SendResult
        Counts and one entry per message handled.
    """
    store = as_store(store)
    now = clock or (lambda: datetime.now(UTC))
    say = log or (lambda _line: None)
    outbox.ensure_columns(store)
    result = SendResult()
    with outbox.store_lock(store, "outbox", settings.lock_ttl) as lock:
        ensure_events(store)  # a store whose consent predates the history gets its events first
        result.reconciled = reconcile_sending(store, now())
        if result.reconciled:
            say(f"{result.reconciled} message(s) from an interrupted run recorded as sent (unconfirmed)")
        rows = outbox.queued(store)
        if limit is not None:
            rows = rows[:limit]
        conn = _Connection(settings)
        # (due time, order, row): messages that got a 4xx come back after their backoff.
        todo: list[tuple[float, int, outbox.OutboxRow]] = [(0.0, i, r) for i, r in enumerate(rows)]
        heapq.heapify(todo)
        last_start: float | None = None
        try:
            while todo:
                due, order, row = heapq.heappop(todo)
                wait = due - time.monotonic()
                if wait > 0:
                    conn.quit()
                    sleep(wait)
                if last_start is not None:
                    gap = settings.interval - (time.monotonic() - last_start)
                    if gap > 0:
                        sleep(gap)
                lock.renew()
                verdict = permission(
                    store,
                    customer_id=row.customer_id,
                    recipient=row.recipient,
                    kind=row.kind,
                    cause=row.cause,
                    at=now(),
                    service_days=settings.service_days,
                )
                if not verdict.allowed:
                    outbox.set_status(store, row.message_id, "suppressed", error=verdict.reason)
                    result.suppressed += 1
                    result.details.append(
                        {"message_id": row.message_id, "status": "suppressed", "why": verdict.reason}
                    )
                    say(f"{row.message_id} {row.kind} to {row.customer_id}: not sent ({verdict.reason})")
                    continue
                last_start = time.monotonic()
                attempt = row.attempts + 1

                def mark_sending(message_id: str = row.message_id, n: int = attempt) -> None:
                    outbox.set_status(store, message_id, "sending", attempts=n)

                try:
                    reply = _transmit(conn, row, settings.from_address, mark_sending)
                except _Unopened as exc:  # nothing of this message was sent: it stays queued as it was
                    left = 1 + len(todo)
                    done = f"sent {result.sent} and " if result.sent else ""
                    raise SmtpUnreachable(
                        f"cannot reach the SMTP server {exc}: {done}left {left:,} message(s) queued; check "
                        "[messages] smtp (or --smtp) and run keepwise messages send again"
                    ) from None
                except _Temporary as exc:
                    retry = attempt < settings.max_attempts
                    outbox.set_status(
                        store,
                        row.message_id,
                        "queued" if retry else "failed",
                        attempts=attempt,
                        error=str(exc),
                    )
                    if retry:
                        result.retried += 1
                        delay = settings.backoff * 2 ** (attempt - 1)
                        nxt = outbox.OutboxRow(**{**row.__dict__, "attempts": attempt})
                        heapq.heappush(todo, (time.monotonic() + delay, order, nxt))
                        say(f"{row.message_id}: {exc}; retry {attempt + 1} in {delay:g} s")
                    else:
                        result.failed += 1
                        result.details.append(
                            {"message_id": row.message_id, "status": "failed", "why": str(exc)}
                        )
                        say(f"{row.message_id}: failed after {attempt} attempts: {exc}")
                    continue
                except _Permanent as exc:
                    outbox.set_status(store, row.message_id, "failed", attempts=attempt, error=str(exc))
                    if exc.stage == "RCPT":
                        suppress(
                            store,
                            row.recipient,
                            "hard_bounce",
                            customer_id=row.customer_id,
                            detail=str(exc),
                        )
                    result.failed += 1
                    result.details.append({"message_id": row.message_id, "status": "failed", "why": str(exc)})
                    say(f"{row.message_id}: refused: {exc}")
                    continue
                except _Unconfirmed as exc:
                    outbox.set_status(
                        store, row.message_id, "sent", confirmed=False, sent_at=now(), error=str(exc)
                    )
                    result.sent += 1
                    result.details.append({"message_id": row.message_id, "status": "sent", "why": str(exc)})
                    continue
                outbox.set_status(
                    store,
                    row.message_id,
                    "sent",
                    confirmed=True,
                    sent_at=now(),
                    attempts=attempt,
                    error=reply,
                )
                result.sent += 1
                result.details.append({"message_id": row.message_id, "status": "sent", "why": reply})
                say(f"{row.message_id} {row.kind} to {row.customer_id}: sent")
        finally:
            conn.quit()
    return result


def run(
    store: Store,
    *,
    config: Config | None = None,
    smtp: str | None = None,
    limit: int | None = None,
    log: Callable[[str], None] | None = None,
    clock: Callable[[], datetime] | None = None,
) -> SendResult:
    """Send the outbox with the ``[messages]`` settings: the sending half of the messages stage.

    Parameters
    ----------
    store:
        The store (DuckDB or PostgreSQL).
    config:
        The configuration (default: ``keepwise.toml``).
    smtp:
        ``HOST:PORT`` replacing the configured server.
    limit:
        Send at most this many messages in this run.
    log:
        Receives one line per message.
    clock:
        The time permission is checked at (default: now, UTC).

    Raises
    ------
    keepwise.messages.outbox.LockBusy
        Another run holds the outbox lock; this one did nothing.
    """
    from keepwise.store.inventory import inventory

    settings = SmtpSettings.from_config((config or load_config()).messages, smtp)
    store = as_store(store)
    result = send_outbox(store, settings, log=log, limit=limit, clock=clock)
    result.notes = [n.to_json() for n in inventory(store).notes("consent")]
    return result
