"""One-click unsubscribe (RFC 8058) through the endpoint: the link the messages carry revokes consent, and the
next send through a real SMTP server on loopback (aiosmtpd) is refused for that customer only."""

from __future__ import annotations

import socket
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from urllib.parse import urlsplit

import pandas as pd
import pytest
from aiosmtpd.controller import Controller

from keepwise.messages import consent
from keepwise.messages.prepare import prepare, queue
from keepwise.messages.send import SmtpSettings, send_outbox
from keepwise.messages.tokens import issue
from keepwise.store import connect
from keepwise.store.ingest import load_frame

from .conftest import SECRET

CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["C1", "C2"],
        "name": ["Ada Lovelace", "Zofia Nowak"],
        "email": ["ada@example.com", "zofia@example.pl"],
        "language": ["en", "pl"],
        "currency": ["USD", "PLN"],
    }
)
CONSENT = pd.DataFrame(
    {
        "customer_id": ["C1", "C2"],
        "channel": ["email", "email"],
        "purpose": ["marketing", "marketing"],
        "granted_at": ["2024-01-01", "2024-01-01"],
        "source": ["web form", "web form"],
        "proof": ["form-1", "form-2"],
    }
)


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def shop(tmp_path, config, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    url = f"duckdb:///{tmp_path}/shop.duckdb"
    backend = connect(url)
    load_frame(backend, "customers", CUSTOMERS)
    load_frame(backend, "consent", CONSENT.assign(revoked_at=None).astype(object))
    backend.disconnect()
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    cfg = replace(
        config.messages,
        business_name="Kawa & Co",
        from_address="hello@kawa.example",
        send_interval_seconds=Decimal("0"),
    )
    config = replace(config, messages=cfg)
    with TestClient(create_app(url, config)) as client:  # no Authorization header: the link is the proof
        yield url, cfg, client


def test_one_click_post_revokes_and_the_next_send_is_refused(shop):
    url, cfg, client = shop
    backend = connect(url)
    try:
        links = {}
        for cid in ("C1", "C2"):
            message, link = prepare(backend, cfg, "winback", cid, "lapse", {"reason": "price", "offer": None},
                                    secret=SECRET)  # fmt: skip
            assert queue(backend, cfg, message, link)
            links[cid] = link
    finally:
        backend.disconnect()
    target = urlsplit(links["C1"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == "https://shop.example/keepwise/unsubscribe"
    where = f"{target.path}?{target.query}"

    page = client.get(where)  # a person (or a link scanner) opening the link changes nothing
    assert page.status_code == 200
    assert 'id="unsubscribe"' in page.text and "Kawa &amp; Co" in page.text
    backend = connect(url)
    try:
        assert consent.has_consent(backend, "C1", "marketing", datetime.now(UTC))
    finally:
        backend.disconnect()

    done = client.post(
        where,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert done.status_code == 200
    assert "You are unsubscribed" in done.text

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    backend = connect(url)
    try:
        later = datetime.now(UTC) + timedelta(seconds=1)
        assert not consent.has_consent(backend, "C1", "marketing", later)
        assert consent.has_consent(backend, "C2", "marketing", later)
        settings = SmtpSettings.from_config(cfg, f"127.0.0.1:{controller.port}")
        result = send_outbox(backend, settings, clock=lambda: later)
        rows = dict(backend.con.execute("SELECT customer_id, status FROM outbox").fetchall())
        error = backend.con.execute("SELECT error FROM outbox WHERE customer_id = 'C1'").fetchone()[0]
    finally:
        backend.disconnect()
        controller.stop()
    assert result.suppressed == 1
    assert [m["To"].addresses[0].addr_spec for m in inbox.messages] == ["zofia@example.pl"]
    assert rows["C1"] != "sent" and rows["C2"] == "sent"
    assert error == "no marketing consent in force at send time"


def test_the_default_path_and_bad_tokens(shop):
    url, _, client = shop
    token = issue(SECRET, "C2", "unsubscribe")
    assert client.post(f"/unsubscribe?token={token}").status_code == 200  # /unsubscribe always answers
    backend = connect(url)
    try:
        assert not consent.has_consent(backend, "C2", "marketing", datetime.now(UTC) + timedelta(seconds=1))
    finally:
        backend.disconnect()
    forged = issue("another-secret-0123456789", "C1", "unsubscribe")
    refused = client.post(f"/unsubscribe?token={forged}")
    assert refused.status_code == 400
    assert "this unsubscribe link is not valid: it was not issued by keepwise" in refused.text
    confirm = issue(SECRET, "C1", "confirm")
    assert client.post(f"/unsubscribe?token={confirm}").status_code == 400
    old = issue(SECRET, "C1", "unsubscribe", at=datetime.now(UTC) - timedelta(days=61))
    expired = client.get(f"/unsubscribe?token={old}")
    assert expired.status_code == 400 and "expired" in expired.text
    assert client.post("/unsubscribe").status_code == 400
    backend = connect(url)
    try:
        assert consent.has_consent(backend, "C1", "marketing", datetime.now(UTC))  # nothing above touched C1
    finally:
        backend.disconnect()
