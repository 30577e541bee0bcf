"""Sending through a real aiosmtpd server on loopback and reading back what arrived."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from keepwise.messages import consent, outbox
from keepwise.messages.compose import Grant
from keepwise.messages.prepare import incident_facts, prepare, queue
from keepwise.messages.send import SmtpSettings, send_outbox
from keepwise.messages.tokens import issue
from keepwise.store.connection import duckdb_connection

from .conftest import NOW, SECRET


def settings(cfg, port, **kw):
    return replace(SmtpSettings.from_config(cfg, f"127.0.0.1:{port}"), **kw)


def queue_adjustment(store, cfg, incident, gesture=None):
    customer, facts = incident_facts(store, incident, gesture=gesture)
    message, link = prepare(store, cfg, "adjustment", customer, incident, facts, secret=SECRET, at=NOW)
    return queue(store, cfg, message, link, at=NOW), message


def queue_winback(store, cfg, customer, offer):
    facts = {"reason": "price", "offer": offer}
    message, link = prepare(store, cfg, "winback", customer, "lapse-2024-05", facts, secret=SECRET, at=NOW)
    return queue(store, cfg, message, link, at=NOW), message


def statuses(store):
    rows = (
        duckdb_connection(store)
        .execute("SELECT customer_id, kind, status, attempts, error FROM outbox")
        .fetchall()
    )
    return {(r[0], r[1]): (r[2], int(r[3]), r[4]) for r in rows}


def test_headers_parts_language_and_figures_arrive(business, cfg, smtp):
    handler, port = smtp
    gesture = Grant("voucher", Decimal("50"), "PLN", code="PRZEPRASZAMY")
    queue_adjustment(business, cfg, "I2", gesture)  # Polish customer, open incident, 1 234,50 PLN
    queue_winback(business, cfg, "C1", Grant("discount", percent=15, valid_until=date(2024, 7, 31)))
    result = send_outbox(business, settings(cfg, port), clock=lambda: NOW)
    assert result.sent == 2 and result.failed == 0
    by_kind = {str(m["X-Keepwise-Kind"]): m for m in handler.messages}
    assert set(by_kind) == {"adjustment", "winback"}

    pl = by_kind["adjustment"]
    assert pl["To"] == "zofia@example.pl" and pl["Content-Language"] == "pl"
    assert pl["Message-ID"].startswith("<kw-") and pl["Message-ID"].endswith("@kawa.example>")
    assert pl["List-Unsubscribe"] is None  # service mail: no marketing link
    text = pl.get_body(("plain",)).get_content()
    html = pl.get_body(("html",)).get_content()
    assert "zwrot" not in text  # the incident's concession is worded as a credit
    assert "1\u00a0234,50 PLN do wykorzystania" in text and "1\u00a0234,50 PLN" in html
    assert "bon o wartości 50,00 PLN (kod PRZEPRASZAMY)" in text
    assert "Zamówienie dotarło uszkodzone." in text and "To był nasz błąd" in html
    assert "Kawa &amp; Co" in html and "Kawa & Co" in text
    assert text.index("przyznaliśmy") < text.index("nasz błąd") < text.index("Czy możemy zrobić coś jeszcze")

    en = by_kind["winback"]
    assert (
        en["Content-Language"] == "en"
        and en["Subject"] == "Ada Lovelace, 15% off your next order is waiting for you"
    )
    unsubscribe = en["List-Unsubscribe"]
    assert unsubscribe.startswith(
        "<https://example.com/keepwise/unsubscribe?token="
    ) and unsubscribe.endswith(">")
    assert en["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = en.get_body(("plain",)).get_content()
    assert "our prices were too high" in text and "15% off your next order, valid until 31 July 2024" in text
    assert unsubscribe[1:-1] in text and unsubscribe[1:-1] in en.get_body(("html",)).get_content()
    assert {s[0] for s in statuses(business).values()} == {"sent"}


def test_queueing_twice_and_sending_twice_delivers_once(business, cfg, smtp):
    handler, port = smtp
    assert queue_adjustment(business, cfg, "I1")[0] is True
    assert queue_adjustment(business, cfg, "I1")[0] is False
    send_outbox(business, settings(cfg, port), clock=lambda: NOW)
    send_outbox(business, settings(cfg, port), clock=lambda: NOW)
    assert len(handler.messages) == 1
    assert "a credit of 200.00 USD" in handler.messages[0].get_body(("plain",)).get_content()


def test_4xx_is_retried_and_5xx_is_recorded_as_failed(business, cfg, smtp):
    handler, port = smtp
    handler.replies = ["451 4.3.0 try again later", "451 4.3.0 still busy"]
    queue_adjustment(business, cfg, "I1")
    result = send_outbox(business, settings(cfg, port), clock=lambda: NOW)
    assert result.retried == 2 and result.sent == 1
    assert statuses(business)[("C1", "adjustment")][:2] == ("sent", 3)

    handler.replies = ["550 5.7.1 message refused"]
    queue_adjustment(business, cfg, "I2")
    result = send_outbox(business, settings(cfg, port), clock=lambda: NOW)
    assert result.failed == 1 and result.sent == 0
    status, attempts, error = statuses(business)[("C2", "adjustment")]
    assert (status, attempts) == ("failed", 1) and error.startswith("550 5.7.1")
    assert len(handler.messages) == 1


def test_4xx_until_the_last_attempt_fails_without_crashing(business, cfg, smtp):
    handler, port = smtp
    handler.replies = ["421 4.7.0 too many"] * 3
    queue_adjustment(business, cfg, "I1")
    result = send_outbox(business, settings(cfg, port), clock=lambda: NOW)
    assert result.failed == 1 and handler.messages == []
    assert statuses(business)[("C1", "adjustment")][:2] == ("failed", 3)
    assert outbox.report(business)["by_status"]["failed"] == 1


def test_a_hard_bounce_suppresses_the_address(business, cfg, smtp):
    handler, port = smtp
    handler.rcpt_replies["ada@example.com"] = "550 5.1.1 no such user"
    queue_adjustment(business, cfg, "I1")
    send_outbox(business, settings(cfg, port), clock=lambda: NOW)
    assert consent.is_suppressed(business, "Ada@Example.com")
    handler.rcpt_replies.clear()
    queue_winback(business, cfg, "C1", None)
    result = send_outbox(business, settings(cfg, port), clock=lambda: NOW)
    assert result.suppressed == 1 and handler.messages == []
    assert "suppression list" in statuses(business)[("C1", "winback")][2]


def test_revocation_between_queueing_and_sending_is_honoured(business, cfg, smtp):
    handler, port = smtp
    queue_winback(business, cfg, "C1", None)
    token = issue(SECRET, "C1", "unsubscribe", at=NOW)
    assert consent.unsubscribe(business, SECRET, token, max_age=timedelta(days=60), at=NOW) == 1
    result = send_outbox(business, settings(cfg, port), clock=lambda: NOW + timedelta(seconds=1))
    assert result.suppressed == 1 and handler.messages == []
    assert statuses(business)[("C1", "winback")][2] == "no marketing consent in force at send time"


def test_marketing_without_consent_is_suppressed_and_service_without_open_incident_needs_consent(
    business, cfg, smtp
):
    handler, port = smtp
    queue_winback(business, cfg, "C3", None)  # C3 revoked marketing on 2024-01-01
    queue_adjustment(business, cfg, "I3")  # C3 has no service consent but the incident is open
    result = send_outbox(business, settings(cfg, port), clock=lambda: NOW)
    assert (result.sent, result.suppressed) == (1, 1)
    assert [str(m["X-Keepwise-Kind"]) for m in handler.messages] == ["adjustment"]


def _refusing_port() -> int:
    """A loopback port nothing listens on (bound, then closed): connecting to it is refused at once."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_stops_the_run_at_once_and_keeps_the_queue(business, cfg, smtp):
    """Connection refused: one error naming the server, no retries or backoff, every message still queued."""
    import pytest

    from keepwise.exceptions import KeepwiseInputError

    queue_adjustment(business, cfg, "I1")
    queue_adjustment(business, cfg, "I2")
    before = statuses(business)
    waits: list[float] = []
    port = _refusing_port()
    with pytest.raises(KeepwiseInputError) as caught:
        send_outbox(business, settings(cfg, port, backoff=60.0), clock=lambda: NOW, sleep=waits.append)
    message = str(caught.value)
    assert f"cannot reach the SMTP server 127.0.0.1:{port}" in message
    assert "left 2 message(s) queued" in message and "\n" not in message
    assert waits == [] and statuses(business) == before  # nothing retried, nothing marked
    handler, good = smtp  # the same queue goes out once the server is there
    result = send_outbox(business, settings(cfg, good), clock=lambda: NOW)
    assert result.sent == 2 and len(handler.messages) == 2
