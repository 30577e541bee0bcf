"""Unsubscribe links work on a fresh store with no KEEPWISE_SECRET (issue 19, part 4).

The flows sign links with a secret keepwise makes on first use and keeps beside the store (DuckDB file,
``<store>.secret``, mode 0600) or in it (``kw_secret``: PostgreSQL, and DuckDB in memory, which tests the
same code here). A real SMTP server on loopback (aiosmtpd) takes the mail; the link in it goes to the web
endpoint in-process.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.config import load_config
from keepwise.exceptions import KeepwiseInputError
from keepwise.messages import consent
from keepwise.messages.tokens import issue, verify
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.secret import TABLE, secret_file, signing_secret

SRC = str(Path(__file__).parents[2] / "src")

CUSTOMERS = pd.DataFrame(
    {"customer_id": ["C1"], "name": ["Ada Lovelace"], "email": ["ada@example.com"], "language": ["en"]}
)
CONSENT = pd.DataFrame(
    {
        "customer_id": ["C1"],
        "channel": ["email"],
        "purpose": ["marketing"],
        "granted_at": ["2023-01-01"],
        "revoked_at": [None],
        "source": ["web form"],
        "proof": ["form-1"],
    }
)
# every 10 days, then nothing for 106 days: due for the win-back flow today (links are dated today, so the
# endpoint, which checks their age against the real clock, takes them)
LAST = pd.Timestamp.now(tz="UTC").normalize() - pd.Timedelta(days=106)
ORDERS = pd.DataFrame(
    {
        "order_id": [f"O{k}" for k in range(6)],
        "line_no": "1",
        "customer_id": "C1",
        "ordered_at": [(LAST - pd.Timedelta(days=10 * k)).isoformat() for k in range(6)],
        "quantity": "1",
        "unit_price": "50.00",
        "currency": "USD",
    }
)
DAY = timedelta(days=1)
SETTINGS = """
[messages]
send_interval_seconds = 0
unsubscribe_url = "https://shop.example/keepwise/unsubscribe"

[messages.flows.winback]
holdout_share = 0

[messages.flows.thanks]
enabled = false
"""


class Inbox:
    """An aiosmtpd handler that keeps every message."""

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
def inbox():
    handler = Inbox()
    controller = Controller(handler, hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield handler, controller.port
    finally:
        controller.stop()


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh store file with one customer due for a win-back message; no KEEPWISE_SECRET anywhere."""
    monkeypatch.delenv("KEEPWISE_SECRET", raising=False)
    monkeypatch.setenv("KEEPWISE_WEB_TOKEN", "a-web-token-of-a-real-deployment")  # served beyond loopback
    (tmp_path / "keepwise.toml").write_text(SETTINGS)  # the working directory (tests/operations/conftest.py)
    url = f"duckdb:///{tmp_path}/shop.duckdb"
    store = connect(url)
    for name, frame in [("customers", CUSTOMERS), ("consent", CONSENT.astype(object)), ("orders", ORDERS)]:
        load_frame(store, name, frame)
    store.disconnect()
    return url


def _flows_run(url: str, port: int) -> None:
    result = CliRunner().invoke(app, ["flows", "run", "--smtp", f"127.0.0.1:{port}", "--json", "--db", url])
    assert result.exit_code == 0, result.output


def _link(message) -> str:
    header = str(message["List-Unsubscribe"]).strip()
    assert header.startswith("<https://shop.example/keepwise/unsubscribe?token=") and header.endswith(">")
    return header[1:-1]


def _post(client: TestClient, link: str):
    target = urlsplit(link)
    return client.post(
        f"{target.path}?{target.query}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def _subscribed(url: str) -> bool:
    store = connect(url, read_only=True)
    try:
        return consent.has_consent(store, "C1", "marketing", datetime.now(UTC))
    finally:
        store.disconnect()


def _secret_in_another_process(url: str) -> str:
    code = (
        "import sys; from keepwise.store import connect; from keepwise.store.secret import signing_secret; "
        "s = connect(sys.argv[1], read_only=True); print(signing_secret(s)); s.disconnect()"
    )
    env = {k: v for k, v in os.environ.items() if k != "KEEPWISE_SECRET"} | {"PYTHONPATH": SRC}
    done = subprocess.run(
        [sys.executable, "-c", code, url], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def test_the_link_in_a_sent_mail_unsubscribes_on_a_fresh_store_without_a_secret_set(shop, inbox):
    from keepwise.web import create_app

    handler, port = inbox
    path = Path(shop.removeprefix("duckdb:///") + ".secret")
    assert not path.exists()
    _flows_run(shop, port)
    assert [str(m["X-Keepwise-Kind"]) for m in handler.messages] == ["winback"]
    link = _link(handler.messages[0])

    assert path.exists() and stat.S_IMODE(path.stat().st_mode) == 0o600
    secret = path.read_text().strip()
    assert len(secret) >= 43  # token_urlsafe(32): 32 random bytes in base64
    claims = verify(secret, urlsplit(link).query.removeprefix("token="), "unsubscribe", max_age=DAY)
    assert claims.customer_id == "C1"
    assert _secret_in_another_process(shop) == secret  # a second process (the server, cron) agrees

    assert _subscribed(shop)
    with TestClient(create_app(shop, load_config())) as client:  # the endpoint, with no secret in its env
        page = client.get(urlsplit(link).path + "?" + urlsplit(link).query)
        assert page.status_code == 200, page.text
        done = _post(client, link)
    assert done.status_code == 200 and "You are unsubscribed" in done.text
    assert not _subscribed(shop)


def test_keepwise_secret_overrides_the_stored_secret(shop, inbox, monkeypatch):
    from keepwise.web import create_app

    handler, port = inbox
    store = connect(shop)
    stored = signing_secret(store)  # made now, as a first flows run would
    store.disconnect()
    monkeypatch.setenv("KEEPWISE_SECRET", "an-operator-chosen-secret-0123456789")  # rotated by hand
    _flows_run(shop, port)
    link = _link(handler.messages[0])
    token = urlsplit(link).query.removeprefix("token=")
    chosen = "an-operator-chosen-secret-0123456789"
    assert verify(chosen, token, "unsubscribe", max_age=DAY).customer_id == "C1"
    with pytest.raises(KeepwiseInputError):
        verify(stored, token, "unsubscribe", max_age=DAY)

    with TestClient(create_app(shop, load_config())) as client:
        old = _post(client, link.replace(token, issue(stored, "C1", "unsubscribe")))  # signed by the file's
        assert old.status_code == 400 and _subscribed(shop)
        assert _post(client, link).status_code == 200
    assert not _subscribed(shop)


def test_processes_racing_to_make_the_secret_agree_on_one(shop):
    code = (
        "import sys; from keepwise.store import connect; from keepwise.store.secret import signing_secret; "
        "s = connect(sys.argv[1], read_only=True); print(signing_secret(s)); s.disconnect()"
    )
    env = {k: v for k, v in os.environ.items() if k != "KEEPWISE_SECRET"} | {"PYTHONPATH": SRC}
    racers = [
        subprocess.Popen([sys.executable, "-c", code, shop], stdout=subprocess.PIPE, text=True, env=env)
        for _ in range(4)
    ]
    found = {p.communicate(timeout=120)[0].strip() for p in racers}
    assert all(p.returncode == 0 for p in racers)
    path = Path(shop.removeprefix("duckdb:///") + ".secret")
    assert found == {path.read_text().strip()}
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_link_reaching_a_store_without_a_secret_is_refused_and_makes_none(shop):
    from keepwise.web import create_app

    with TestClient(create_app(shop, load_config())) as client:
        forged = issue("some-other-secret-0123456789", "C1", "unsubscribe")
        answer = _post(client, f"https://shop.example/keepwise/unsubscribe?token={forged}")
    assert answer.status_code == 400
    assert not Path(shop.removeprefix("duckdb:///") + ".secret").exists() and _subscribed(shop)


def test_a_store_that_is_not_a_file_keeps_its_secret_in_a_table(monkeypatch):
    """The PostgreSQL path (the ``kw_secret`` row), run on DuckDB in memory."""
    monkeypatch.delenv("KEEPWISE_SECRET", raising=False)
    store = connect("duckdb://:memory:")
    try:
        assert secret_file(store) is None
        with pytest.raises(KeepwiseInputError, match="no signing secret in the store yet"):
            signing_secret(store, create=False)
        first = signing_secret(store)
        assert len(first) >= 43 and store.count(TABLE) == 1
        assert signing_secret(store) == first == signing_secret(store, create=False)
        monkeypatch.setenv("KEEPWISE_SECRET", "x" * 20)
        assert signing_secret(store) == "x" * 20
        monkeypatch.setenv("KEEPWISE_SECRET", "short")
        with pytest.raises(KeepwiseInputError, match="KEEPWISE_SECRET is shorter than 16 characters"):
            signing_secret(store)
    finally:
        store.disconnect()


def test_the_link_secret_has_one_home():
    """Every signer and checker of links takes its secret from ``signing_secret``, not the environment."""
    src = Path(__file__).parents[2] / "src" / "keepwise"
    readers = sorted(
        str(path.relative_to(src))
        for path in src.rglob("*.py")
        if "secret_from_env(" in path.read_text(encoding="utf-8") and path.name != "tokens.py"
    )
    assert readers == [], f"use keepwise.store.secret.signing_secret(store, cfg.secret_env) in {readers}"
