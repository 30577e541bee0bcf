"""Consent is a history: grants and revocations are events, loads add events and never erase them.

Issue 21, item 1: after ``keepwise messages unsubscribe TOKEN``, loading the same consent file again reported
"1 updated", set ``revoked_at`` back to NULL and the next ``messages send`` mailed that customer.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keepwise import cli
from keepwise.exceptions import LoadError
from keepwise.messages import consent
from keepwise.messages.prepare import prepare, queue
from keepwise.messages.send import SmtpSettings, send_outbox
from keepwise.messages.tokens import issue
from keepwise.store import connect
from keepwise.store.ingest import load_file

from .conftest import NOW, SECRET

CUSTOMERS_CSV = "customer_id,name,email,language\nC1,Ada,ada@example.com,en\nC2,Zofia,zofia@example.pl,pl\n"
CONSENT_CSV = (
    "customer_id,channel,purpose,granted_at,revoked_at,source,proof\n"
    "C1,email,marketing,2024-01-01,,web form,form-1\n"
    "C2,email,marketing,2024-01-01,,web form,form-2\n"
)
UNSUBSCRIBED = NOW - timedelta(days=1)


def _load(url: str, *args: str) -> list[dict]:
    result = CliRunner().invoke(cli.app, ["load", *args, "--db", url, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _at(day: str) -> datetime:
    return datetime.fromisoformat(day).replace(tzinfo=UTC)


@pytest.fixture
def shop(tmp_path: Path, monkeypatch) -> tuple[str, Path]:
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    url = f"duckdb:///{tmp_path}/shop.duckdb"
    (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV)
    (tmp_path / "consent.csv").write_text(CONSENT_CSV)
    _load(url, "customers", str(tmp_path / "customers.csv"))
    _load(url, "consent", str(tmp_path / "consent.csv"))
    return url, tmp_path


def _unsubscribe(url: str, customer: str, at: datetime) -> None:
    token = issue(SECRET, customer, "unsubscribe", at=at)
    store = connect(url)
    try:
        assert consent.unsubscribe(store, SECRET, token, max_age=timedelta(days=60), at=at) == 1
    finally:
        store.disconnect()


def test_reloading_the_consent_file_after_an_unsubscribe_changes_nothing_and_sends_nothing(shop, cfg, smtp):
    url, folder = shop
    token = issue(SECRET, "C1", "unsubscribe")
    done = CliRunner().invoke(cli.app, ["messages", "unsubscribe", token, "--db", url, "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout) == {"revoked": 1}

    (again,) = _load(url, "consent", str(folder / "consent.csv"))  # the same file as before
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, 2)

    handler, port = smtp
    later = datetime.now(UTC) + timedelta(seconds=1)
    store = connect(url)
    try:
        assert not consent.has_consent(store, "C1", "marketing", later)
        assert consent.has_consent(store, "C2", "marketing", later)
        (revoked_at,) = store.read("consent", where={"customer_id": "C1"}, columns=["revoked_at"])[
            "revoked_at"
        ]
        assert revoked_at is not None  # the standing state still shows the revocation
        for cid in ("C1", "C2"):
            message, link = prepare(store, cfg, "winback", cid, "lapse", {"reason": None, "offer": None},
                                    secret=SECRET, at=later)  # fmt: skip
            queue(store, cfg, message, link, at=later)
        result = send_outbox(store, SmtpSettings.from_config(cfg, f"127.0.0.1:{port}"), clock=lambda: later)
    finally:
        store.disconnect()
    assert [m["To"].addresses[0].addr_spec for m in handler.messages] == ["zofia@example.pl"]
    assert (result.sent, result.suppressed) == (1, 1)


def test_a_revocation_is_undone_only_by_a_grant_dated_after_it(shop):
    url, folder = shop
    _unsubscribe(url, "C1", UNSUBSCRIBED)
    # a file that "forgets" the revocation, with an older grant and the same grant: nothing changes
    (folder / "older.csv").write_text(
        "customer_id,channel,purpose,granted_at,source,proof\n"
        "C1,email,marketing,2024-01-01,web form,form-1\n"
        "C1,email,marketing,2024-03-01,shop till,paper form\n"
    )
    (res,) = _load(url, "consent", str(folder / "older.csv"))
    assert (res["new"], res["updated"], res["unchanged"]) == (1, 0, 1)
    store = connect(url)
    try:
        for day in ("2023-12-31", "2024-01-01", "2024-02-15", "2024-03-01", "2024-06-13", "2024-06-14"):
            expected = _at("2024-01-01") <= _at(day) < UNSUBSCRIBED
            assert consent.has_consent(store, "C1", "marketing", _at(day)) is expected, day
        assert not consent.has_consent(store, "C1", "marketing", NOW)
        assert not consent.has_consent(store, "C1", "marketing", NOW + timedelta(days=365))
    finally:
        store.disconnect()

    # a grant dated after the revocation (a new form) gives consent again from that moment on
    (folder / "newer.csv").write_text(
        "customer_id,channel,purpose,granted_at,source,proof\nC1,email,marketing,2024-06-20,web form,form-9\n"
    )
    (res,) = _load(url, "consent", str(folder / "newer.csv"))
    assert (res["new"], res["updated"], res["unchanged"]) == (1, 0, 0)
    store = connect(url)
    try:
        assert not consent.has_consent(store, "C1", "marketing", _at("2024-06-19"))
        assert consent.has_consent(store, "C1", "marketing", _at("2024-06-20"))
        assert consent.has_consent(store, "C1", "marketing", _at("2025-01-01"))
        assert consent.has_consent(store, "C1", "marketing", _at("2024-02-01"))  # the past stays the past
        events = store.read("consent_events", where={"customer_id": "C1"}, order_by=["at"])
    finally:
        store.disconnect()
    assert [
        (e, str(t.date()), s) for e, t, s in events[["event", "at", "source"]].itertuples(index=False)
    ] == [
        ("grant", "2024-01-01", "web form"),
        ("grant", "2024-03-01", "shop till"),
        ("revoke", "2024-06-14", "unsubscribe link"),
        ("grant", "2024-06-20", "web form"),
    ]


def test_a_file_revocation_is_kept_when_a_later_file_leaves_revoked_at_empty(shop):
    url, folder = shop
    (folder / "revoked.csv").write_text(
        "customer_id,channel,purpose,granted_at,revoked_at\nC2,email,marketing,2024-01-01,2024-05-01\n"
    )
    (res,) = _load(url, "consent", str(folder / "revoked.csv"))
    assert (res["new"], res["updated"], res["unchanged"]) == (0, 1, 0)  # one new event: the revocation
    (res,) = _load(url, "consent", str(folder / "consent.csv"))  # the first file, revoked_at empty
    assert (res["new"], res["updated"], res["unchanged"]) == (0, 0, 2)
    store = connect(url)
    try:
        assert consent.has_consent(store, "C2", "marketing", _at("2024-04-30"))
        assert not consent.has_consent(store, "C2", "marketing", _at("2024-05-01"))  # revoked exactly then
        assert not consent.has_consent(store, "C2", "marketing", NOW)
        rows = store.read("consent", where={"customer_id": "C2"}, columns=["granted_at", "revoked_at"])
    finally:
        store.disconnect()
    assert [(str(g.date()), str(r.date())) for g, r in rows.itertuples(index=False)] == [
        ("2024-01-01", "2024-05-01")
    ]


def test_a_revocation_dated_before_its_grant_is_refused(shop):
    url, folder = shop
    (folder / "bad.csv").write_text(
        "customer_id,channel,purpose,granted_at,revoked_at\n"
        "C1,email,marketing,2024-01-01,\n"
        "C2,email,marketing,2024-03-01,2024-02-01\n"
    )
    store = connect(url)
    try:
        with pytest.raises(LoadError, match=r"bad.csv, row 3, column 'revoked_at': is before granted_at"):
            load_file(store, "consent", folder / "bad.csv")
        assert store.count("consent_events") == 2  # nothing loaded
    finally:
        store.disconnect()


def test_a_double_opt_in_confirmation_after_an_unsubscribe_grants_again(shop):
    url, _folder = shop
    _unsubscribe(url, "C1", UNSUBSCRIBED)
    store = connect(url)
    try:
        consent.request(store, "C1", source="web form", at=NOW)
        token = issue(SECRET, "C1", "confirm", at=NOW)
        consent.confirm(store, SECRET, token, max_age=timedelta(days=7), at=NOW + timedelta(hours=1))
        assert not consent.has_consent(store, "C1", "marketing", NOW)
        assert consent.has_consent(store, "C1", "marketing", NOW + timedelta(hours=1))
        assert consent.has_consent(store, "C1", "marketing", _at("2024-03-01"))
        assert not consent.has_consent(store, "C1", "marketing", UNSUBSCRIBED)
    finally:
        store.disconnect()


def test_a_store_whose_consent_predates_the_history_gets_its_events_once(db_url):
    import pandas as pd

    from keepwise.store.consent_history import ensure_events

    store = connect(db_url)
    try:
        store.append("customers", pd.DataFrame({"customer_id": ["C1"], "name": ["Ada"]}))
        old = {
            "customer_id": ["C1"],
            "channel": ["email"],
            "purpose": ["marketing"],
            "granted_at": [_at("2024-01-01")],
            "revoked_at": [_at("2024-05-01")],
            "source": ["web form"],
            "proof": ["form-1"],
        }
        store.append("consent", pd.DataFrame(old))  # as an older keepwise left it: rows, no events
        assert not consent.has_consent(store, "C1", "marketing", _at("2024-02-01"))  # no events: no sending
        assert ensure_events(store) == 2
        assert ensure_events(store) == 0  # once
        assert consent.has_consent(store, "C1", "marketing", _at("2024-02-01"))
        assert not consent.has_consent(store, "C1", "marketing", _at("2024-05-01"))
        assert store.count("consent") == 1
    finally:
        store.disconnect()
