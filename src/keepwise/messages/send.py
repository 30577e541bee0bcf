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
    3. take the ``queued`` messages a batch at a time (:func:`batch_size`: ``batch`` messages, at most about
       a second of sending at the throttle): renew the lock, check the whole batch's permission against
       the consent history *now* (one query per table), record the refused ones ``suppressed`` (one
       statement);
    4. for each allowed message, over the one SMTP session the run keeps open (:mod:`keepwise.messages.smtp`;
       MAIL, RCPT and DATA in one write when the server offers PIPELINING): transmit the whole body
       *without* the final dot;
    5. commit ``status = 'sending'`` (attempts + 1): the point of no return, one statement per message;
    6. write the final ``.`` and read the reply: 250 joins the batch's accepted messages, recorded ``sent``
       (``confirmed = true``) in one statement when the batch ends; 4xx puts the message back in the queue
       at once to retry with exponential backoff (up to ``max_attempts``, then ``failed``); 5xx commits
       ``failed`` at once (and a 5xx to RCPT puts the address on the suppression list).

    A kill at any point before step 5 has committed leaves the message ``queued`` and the server with an
    unfinished transaction, which it discards: the restart sends it once. A kill after step 5 leaves it
    ``sending`` (also when the server had accepted it and the batch's record was not yet written); the
    restart records it sent and never resends it.

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
    use. Power loss is covered as far as DuckDB's write-ahead log is flushed on commit. A kill after the
    server accepted messages of a batch but before the batch's ``sent`` record reports those messages as
    sent-unconfirmed although they arrived (at most one batch). Permission is checked at the start of each
    batch, so a consent withdrawn while a batch is being sent stops messages from the next batch on.
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from keepwise.config import Config, MessagesAssumptions, load_config
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.messages import outbox
from keepwise.messages.consent import Asking, permissions, suppress
from keepwise.messages.mime import MIME_POLICY, list_unsubscribe, to_mime
from keepwise.messages.smtp import Permanent, Session, Temporary, Unconfirmed, Unopened, transmit
from keepwise.store.consent_history import ensure_events
from keepwise.store.outbox import reconcile_sending
from keepwise.store.store import Store, as_store

__all__ = [
    "MIME_POLICY",
    "SendResult",
    "SmtpSettings",
    "SmtpUnreachable",
    "batch_size",
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
    #: Messages per batch (one permission check and one status update each; see :func:`batch_size`).
    batch: int = 100
    #: Pipeline MAIL, RCPT and DATA when the server offers PIPELINING (RFC 2920).
    pipelining: bool = True

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


class SmtpUnreachable(KeepwiseInputError):
    """No SMTP session could be opened: the run stops at once and leaves the rest of the queue queued.

    Retrying message by message against a server that refuses connections only burns the backoff (minutes
    per message); the setting or the server needs fixing first, then ``keepwise messages send`` again.
    """


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
        SMTP server, throttle, retries, batch size.
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
        run = _Run(store, settings, now, sleep, say, result)
        # (due time, order, row): messages that got a 4xx come back after their backoff.
        todo: list[tuple[float, int, outbox.OutboxRow]] = [(0.0, i, r) for i, r in enumerate(rows)]
        heapq.heapify(todo)
        try:
            while todo:
                batch = run.next_batch(todo)
                lock.renew()
                run.send_batch(batch, todo)
        finally:
            run.session.quit()
    return result


def batch_size(settings: SmtpSettings) -> int:
    """Messages per batch: ``settings.batch``, and no more than about a second of sending at the throttle.

    Permission is checked for a whole batch at its start, so a batch is kept short in time: a customer who
    withdraws consent while a batch is under way is not written to from the next batch on.
    """
    if settings.interval <= 0:
        return max(1, settings.batch)
    return max(1, min(settings.batch, int(1 / settings.interval)))


class _Run:
    """One run of the sender: the SMTP session, the throttle and the batch's outcomes not yet recorded."""

    def __init__(
        self,
        store: Store,
        settings: SmtpSettings,
        now: Callable[[], datetime],
        sleep: Callable[[float], None],
        say: Callable[[str], None],
        result: SendResult,
    ):
        self.store, self.settings, self.now, self.sleep, self.say = store, settings, now, sleep, say
        self.result = result
        self.session = Session(settings, pipelining=settings.pipelining)
        self.size = batch_size(settings)
        self.last_start: float | None = None

    def next_batch(
        self, todo: list[tuple[float, int, outbox.OutboxRow]]
    ) -> list[tuple[int, outbox.OutboxRow]]:
        """The next batch: the first message (after waiting for its backoff) and those due with it."""
        due, order, row = heapq.heappop(todo)
        wait = due - time.monotonic()
        if wait > 0:
            self.session.quit()
            self.sleep(wait)
        batch = [(order, row)]
        while todo and len(batch) < self.size and todo[0][0] <= time.monotonic():
            _due, order, row = heapq.heappop(todo)
            batch.append((order, row))
        return batch

    def send_batch(
        self, batch: list[tuple[int, outbox.OutboxRow]], todo: list[tuple[float, int, outbox.OutboxRow]]
    ) -> None:
        """Check the batch's permission in one go, record the refusals at once, send the rest."""
        asking = [Asking(r.customer_id, r.recipient, r.kind, r.cause) for _o, r in batch]
        verdicts = permissions(self.store, asking, at=self.now(), service_days=self.settings.service_days)
        refused = [(row, v) for (_o, row), v in zip(batch, verdicts, strict=True) if not v.allowed]
        outbox.set_statuses(self.store, "suppressed", [{"message_id": r.message_id, "error": v.reason}
                                                       for r, v in refused])  # fmt: skip
        for row, verdict in refused:
            self.result.suppressed += 1
            self.result.details.append(
                {"message_id": row.message_id, "status": "suppressed", "why": verdict.reason}
            )
            self.say(f"{row.message_id} {row.kind} to {row.customer_id}: not sent ({verdict.reason})")
        sent: list[dict[str, Any]] = []  # accepted by the server; recorded for the batch in one statement
        try:
            left = sum(v.allowed for v in verdicts)
            for (order, row), verdict in zip(batch, verdicts, strict=True):
                if verdict.allowed:
                    left -= 1
                    self.send_one(order, row, sent, todo, left)
        finally:
            outbox.set_statuses(self.store, "sent", sent)

    def send_one(
        self,
        order: int,
        row: outbox.OutboxRow,
        sent: list[dict[str, Any]],
        todo: list[tuple[float, int, outbox.OutboxRow]],
        left: int,
    ) -> None:
        """One message: claim, final dot, and its outcome (a confirmed send joins ``sent``)."""
        settings, result, store = self.settings, self.result, self.store
        if self.last_start is not None:
            gap = settings.interval - (time.monotonic() - self.last_start)
            if gap > 0:
                self.sleep(gap)
        self.last_start = time.monotonic()
        attempt = row.attempts + 1

        def claim() -> None:
            outbox.set_status(store, row.message_id, "sending", attempts=attempt)

        try:
            reply = transmit(self.session, settings.from_address, row.recipient, row.mime, claim)
        except Unopened as exc:  # nothing of this message was sent: it stays queued as it was
            done = f"sent {result.sent} and " if result.sent else ""
            raise SmtpUnreachable(
                f"cannot reach the SMTP server {exc}: {done}left {1 + left + len(todo):,} message(s) queued; "
                "check [messages] smtp (or --smtp) and run keepwise messages send again"
            ) from None
        except Temporary as exc:
            retry = attempt < settings.max_attempts
            outbox.set_status(
                store, row.message_id, "queued" if retry else "failed", attempts=attempt, error=str(exc)
            )
            if retry:
                result.retried += 1
                delay = settings.backoff * 2 ** (attempt - 1)
                nxt = outbox.OutboxRow(**{**row.__dict__, "attempts": attempt})
                heapq.heappush(todo, (time.monotonic() + delay, order, nxt))
                self.say(f"{row.message_id}: {exc}; retry {attempt + 1} in {delay:g} s")
            else:
                result.failed += 1
                result.details.append({"message_id": row.message_id, "status": "failed", "why": str(exc)})
                self.say(f"{row.message_id}: failed after {attempt} attempts: {exc}")
            return
        except Permanent as exc:
            outbox.set_status(store, row.message_id, "failed", attempts=attempt, error=str(exc))
            if exc.stage == "RCPT":
                suppress(store, row.recipient, "hard_bounce", customer_id=row.customer_id, detail=str(exc))
            result.failed += 1
            result.details.append({"message_id": row.message_id, "status": "failed", "why": str(exc)})
            self.say(f"{row.message_id}: refused: {exc}")
            return
        except Unconfirmed as exc:
            outbox.set_status(
                store, row.message_id, "sent", confirmed=False, sent_at=self.now(), error=str(exc)
            )
            result.sent += 1
            result.details.append({"message_id": row.message_id, "status": "sent", "why": str(exc)})
            return
        sent.append(
            {"message_id": row.message_id, "confirmed": True, "sent_at": self.now(), "attempts": attempt,
             "error": reply}
        )  # fmt: skip
        result.sent += 1
        result.details.append({"message_id": row.message_id, "status": "sent", "why": reply})
        self.say(f"{row.message_id} {row.kind} to {row.customer_id}: sent")


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
