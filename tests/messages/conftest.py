"""A real SMTP server on loopback (aiosmtpd) and a small business in a real DuckDB store."""

from __future__ import annotations

import socket
import threading
from dataclasses import replace
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from keepwise.config import MessagesAssumptions
from keepwise.store.ingest import load_frame

SECRET = "test-secret-0123456789abcdef"
NOW = datetime(2024, 6, 15, 12, 0, tzinfo=UTC)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Recorder:
    """An aiosmtpd handler that keeps every message it accepts; ``replies`` scripts refusals in order."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # each accepted message's bytes as they came over the wire
        self.replies: list[str] = []
        self.rcpt_replies: dict[str, str] = {}
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            if self.replies:
                return self.replies.pop(0)
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
            self.raw.append(bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def ids(self) -> list[str]:
        with self.lock:
            return [str(m["Message-ID"]) for m in self.messages]


@pytest.fixture
def smtp():
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture
def cfg() -> MessagesAssumptions:
    return replace(
        MessagesAssumptions(),
        business_name="Kawa & Co",
        from_address="hello@kawa.example",
        send_interval_seconds=__import__("decimal").Decimal("0"),
        backoff_seconds=__import__("decimal").Decimal("0.01"),
        max_attempts=3,
    )


@pytest.fixture
def secret(monkeypatch) -> str:
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    return SECRET


CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["C1", "C2", "C3", "C4"],
        "name": ["Ada Lovelace", "Zofia Nowak", "Bob Stone", "Ewa Kowalska"],
        "email": ["ada@example.com", "zofia@example.pl", "bob@example.com", "ewa@example.pl"],
        "language": ["en", "pl", "en", "pl"],
        "acquired_at": ["2022-03-01", "2021-05-10", "2023-01-01", "2020-02-02"],
        "currency": ["USD", "PLN", "USD", "PLN"],
    }
)
CONSENT = pd.DataFrame(
    {
        "customer_id": ["C1", "C2", "C3", "C1", "C2", "C4"],
        "channel": ["email"] * 6,
        "purpose": ["marketing", "marketing", "marketing", "service", "service", "service"],
        "granted_at": ["2023-01-01", "2023-01-01", "2023-01-01", "2023-01-01", "2023-01-01", "2023-01-01"],
        "revoked_at": [None, None, "2024-01-01", None, None, None],
        "source": ["web form"] * 6,
        "proof": ["form-1", "form-2", "form-3", "form-4", "form-5", "form-6"],
    }
)
INCIDENTS = pd.DataFrame(
    {
        "incident_id": ["I1", "I2", "I3"],
        "customer_id": ["C1", "C2", "C3"],
        "opened_at": ["2024-06-01", "2024-06-03", "2024-06-05"],
        "category": ["late", "damaged", "billing"],
        "description": ["Delivery a week late", "Broken grinder", "Charged twice"],
        "status": ["resolved", "open", "open"],
        "concession_amount": ["200.00", "1234.50", "35.00"],
        "currency": ["USD", "PLN", "USD"],
        "resolved_at": ["2024-06-04", None, None],
    }
)
EXITS = pd.DataFrame(
    {
        "customer_id": ["C2"],
        "lost_at": ["2024-05-01"],
        "reason_code": ["price"],
        "reason_text": ["Too dear"],
        "competitor": [None],
        "wanted_back": ["true"],
    }
)


@pytest.fixture
def business(store):
    for name, frame in [
        ("customers", CUSTOMERS),
        ("consent", CONSENT),
        ("incidents", INCIDENTS),
        ("exits", EXITS),
    ]:
        load_frame(store, name, frame.astype(object).where(frame.notna(), None))
    return store


@pytest.fixture(scope="module")
def cfg_plain():
    """Settings and an SMTP server that live across hypothesis examples (module scope)."""
    from decimal import Decimal

    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    cfg = replace(
        MessagesAssumptions(),
        business_name="Kawa & Co",
        from_address="hello@kawa.example",
        send_interval_seconds=Decimal("0"),
        backoff_seconds=Decimal("0.01"),
    )
    try:
        yield cfg, handler, controller.port
    finally:
        controller.stop()
