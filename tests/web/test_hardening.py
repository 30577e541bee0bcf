"""Issue 21's web items through the ASGI app on a real DuckDB file: cross-site requests (item 4), out-of-range
input (item 5), ids with ``/``, the OpenAPI document and the sign-in rate limit (item 11).

Each test failed before its fix: a cross-site ``text/plain`` POST answered 200 and wrote ``decision_log``,
``month=9999-12`` answered 500, ``/api/customers/X%2F1`` answered 404, ``/api/openapi.json`` answered 200
without the token and the sixth wrong sign-in a minute was still checked.
"""

from __future__ import annotations

import json
from dataclasses import replace

import duckdb
import pandas as pd
import pytest

from keepwise.config import Config, WebAssumptions
from keepwise.messages.tokens import issue
from keepwise.store import connect
from keepwise.store.ingest import load_frame

from .conftest import MONTH, SECRET, TOKEN, api_token, cli

EVIL = "http://evil.example"


def _count(url: str, table: str) -> int:
    con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
    try:
        return int(con.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])
    finally:
        con.close()


def _customer_with_incident(url: str) -> tuple[str, str]:
    con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
    try:
        row = con.execute("SELECT customer_id, incident_id FROM incidents ORDER BY opened_at DESC LIMIT 1")
        cid, incident = row.fetchone()
    finally:
        con.close()
    return str(cid), str(incident)


@pytest.fixture
def open_client(store_url, reviews, monkeypatch):
    """The app without a shared token (loopback only), as ``keepwise serve`` runs it on 127.0.0.1, and a
    client sending a rep's API token."""
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    with TestClient(create_app(store_url, Config()), base_url="http://127.0.0.1:8000") as c:
        c.headers["Authorization"] = f"Bearer {api_token(store_url, 'rep')}"
        yield c


# --- item 4: cross-site requests -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL, "Content-Type": "text/plain"},  # the issue's reproduction: a simple cross-site form
        {"Origin": EVIL, "Content-Type": "application/json"},
        {"Referer": f"{EVIL}/page", "Content-Type": "application/json"},
        {"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"},
        {"Origin": "null", "Content-Type": "application/json"},
        {"Origin": "http://127.0.0.1:9999", "Content-Type": "application/json"},  # another port, another site
    ],
)
def test_a_cross_site_post_to_the_open_api_is_refused_and_writes_nothing(open_client, store_url, headers):
    cid, incident = _customer_with_incident(store_url)
    before = _count(store_url, "decision_log"), _count(store_url, "outreach_actions")
    body = json.dumps({"customer_id": cid, "cost": "10", "incident": incident})
    got = open_client.post("/api/concession", content=body, headers=headers)
    assert got.status_code == 403, got.text
    assert set(got.json()) == {"error"} and "another site" in got.json()["error"]
    for step in ("done", "skip"):
        marked = open_client.post(f"/api/outreach/{cid}/{step}", content=json.dumps({"month": MONTH}),
                                  headers=headers)  # fmt: skip
        assert marked.status_code == 403
    assert (_count(store_url, "decision_log"), _count(store_url, "outreach_actions")) == before


def test_the_api_takes_only_json_bodies_so_a_plain_form_cannot_post(open_client, store_url):
    cid, _ = _customer_with_incident(store_url)
    before = _count(store_url, "decision_log")
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None):
        headers = {"Content-Type": kind} if kind else {}
        got = open_client.post("/api/concession", content=json.dumps({"customer_id": cid, "cost": "10"}),
                               headers=headers)  # fmt: skip
        assert got.status_code == 415, kind
        assert got.json() == {"error": "send the request body as JSON (Content-Type: application/json)"}
    assert _count(store_url, "decision_log") == before


def test_a_same_origin_json_post_still_works_with_a_token(open_client, store_url):
    cid, incident = _customer_with_incident(store_url)
    before = _count(store_url, "decision_log")
    body = {"customer_id": cid, "cost": "10", "incident": incident}
    for headers in ({"Origin": "http://127.0.0.1:8000"}, {"Sec-Fetch-Site": "same-origin"}, {}):
        got = open_client.post("/api/concession", json=body, headers=headers)  # {}: curl, a script
        assert got.status_code == 200, got.text
    assert _count(store_url, "decision_log") == before + 3


def test_cross_site_is_refused_with_a_token_too(client, store_url):
    cid, _ = _customer_with_incident(store_url)
    got = client.post("/api/concession", json={"customer_id": cid, "cost": "10"}, headers={"Origin": EVIL})
    assert got.status_code == 403


def test_forms_refuse_another_site_but_one_click_unsubscribe_still_works_from_a_mail_provider(open_client):
    login = open_client.post("/login", data={"token": "x"}, headers={"Origin": EVIL}, follow_redirects=False)
    assert login.status_code == 403
    page = open_client.post("/concession", data={"customer_id": "C1", "cost": "1"}, headers={"Origin": EVIL})
    assert page.status_code == 403 and "another site" in page.text
    # RFC 8058: the mailbox provider's server POSTs from its own origin; the signed token is the proof
    token = issue(SECRET, "NOBODY", "unsubscribe")
    one_click = open_client.post(
        f"/unsubscribe?token={token}",
        content=b"List-Unsubscribe=One-Click",
        headers={
            "Origin": "https://mail.provider.example",
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    assert one_click.status_code == 200 and "unsubscribed" in one_click.text


# --- item 5: out-of-range input ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/profit", "/api/winback", "/api/outreach", "/api/wins"])
@pytest.mark.parametrize("month", ["9999-12", "0001-01", "1899-12", "2201-01"])
def test_a_month_out_of_range_is_a_400_naming_the_field(client, path, month):
    got = client.get(path, params={"month": month})
    assert got.status_code == 400, got.text
    assert got.json() == {
        "error": f"month: '{month}' is out of range; a month runs from 1900-01 to 2200-12",
        "field": "month",
    }


@pytest.mark.parametrize("path", ["/profit", "/winback", "/outreach", "/wins"])
def test_a_month_out_of_range_on_a_page_is_a_400_page(client, path):
    from .test_pages import sign_in

    client.headers.pop("Authorization")
    sign_in(client)
    got = client.get(path, params={"month": "9999-12"})
    assert got.status_code == 400
    assert "is out of range; a month runs from 1900-01 to 2200-12" in got.text


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"months": "1000000000"}, "months"),
        ({"months": "0"}, None),  # the stage's own words, as the CLI says them
        ({"months": "99999999999999999999999"}, "months"),
        ({"months": "1e3"}, "months"),
        ({"top": "1000000000000"}, "top"),
    ],
)
def test_counts_out_of_range_are_a_400(client, params, field):
    path = "/api/wins" if "months" in params else "/api/winback"
    got = client.get(path, params=params)
    assert got.status_code == 400, got.text
    assert got.json().get("field") == field


@pytest.mark.parametrize("cost", ["1e400", "99999999999999999999", "1e3", "NaN", "0.123456", 1e300, True])
def test_a_concession_cost_out_of_range_is_a_400_and_logs_nothing(client, store_url, cost):
    cid, _ = _customer_with_incident(store_url)
    before = _count(store_url, "decision_log")
    got = client.post("/api/concession", json={"customer_id": cid, "cost": cost})
    assert got.status_code == 400, got.text
    assert got.json()["field"] == "cost"
    assert _count(store_url, "decision_log") == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["profit", "--month", "9999-12"], "'9999-12' is out of range; a month runs from 1900-01 to 2200-12"),
        (["winback", "--month", "9999-12"], "is out of range"),
        (["outreach", "--month", "0001-01", "--no-save"], "is out of range"),
        (["wins", "--month", "9999-12"], "is out of range"),
        (["wins", "--months", "1000000000"], "--months: must be"),
        (["concession", "C1", "--cost", "1e400", "--no-log"], "--cost: must be an amount"),
        (["concession", "C1", "--cost", "99999999999999999999", "--no-log"], "--cost: must be"),
    ],
)
def test_the_cli_says_the_same_in_one_line_with_exit_2(store_url, args, message):
    code, _, err = cli(*args, "--db", store_url)
    assert code == 2, err
    assert message in err and len(err.strip().splitlines()) == 1


def test_an_internal_failure_is_logged_and_answered_in_the_one_shape(tmp_path, config, monkeypatch, caplog):
    from fastapi.testclient import TestClient

    import keepwise.web.stored as stored_documents
    from keepwise.web import create_app

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(stored_documents, "profit_page", broken)  # what /api/profit reads
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    url = f"duckdb:///{tmp_path}/empty.duckdb"
    connect(url).disconnect()
    with TestClient(create_app(url, config), raise_server_exceptions=False) as c:
        got = c.get("/api/profit", headers={"Authorization": f"Bearer {TOKEN}"})
    assert got.status_code == 500
    assert got.json() == {"error": "internal error: RuntimeError: disk on fire (please report it)"}
    assert "Traceback" not in got.text
    assert any(r.name == "keepwise.web" and r.exc_info for r in caplog.records)


# --- item 11: ids with '/', the OpenAPI document, the sign-in rate limit -----------------------------------


@pytest.fixture
def slash_store(tmp_path) -> str:
    url = f"duckdb:///{tmp_path}/slash.duckdb"
    backend = connect(url)
    customers = pd.DataFrame(
        {"customer_id": ["X/1", "Y"], "name": ["Slash", "Plain"], "currency": ["USD"] * 2}
    )
    load_frame(backend, "customers", customers)
    backend.disconnect()
    return url


def test_a_customer_id_with_a_slash_is_reachable(slash_store, config, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    with TestClient(create_app(slash_store, config)) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        got = c.get("/api/customers/X%2F1")
        assert got.status_code == 200, got.text
        assert got.json()["customer_id"] == "X/1"
        assert c.get("/api/customers/X/1").json()["customer_id"] == "X/1"
        assert c.get("/api/customers/X%2F2").status_code == 404
        c.headers.pop("Authorization")
        c.post("/login", data={"token": TOKEN})
        page = c.get("/customers/X%2F1")
        assert page.status_code == 200 and "Slash" in page.text


def test_the_openapi_document_needs_the_token(client):
    assert client.get("/api/openapi.json").status_code == 200
    client.headers.pop("Authorization")
    refused = client.get("/api/openapi.json")
    assert refused.status_code == 401 and set(refused.json()) == {"error"}
    assert client.get("/docs").status_code in (303, 404)
    assert client.get("/redoc").status_code in (303, 404)


def test_sign_in_allows_five_tries_a_minute_per_address(store_url, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    config = replace(Config(), web=replace(WebAssumptions(), token=TOKEN))
    app = create_app(store_url, config)
    with TestClient(app) as c:
        for _ in range(5):
            assert c.post("/login", data={"token": "wrong-token-0123456789"}).status_code == 401
        sixth = c.post("/login", data={"token": TOKEN}, follow_redirects=False)
        assert sixth.status_code == 429
        assert 0 < int(sixth.headers["retry-after"]) <= 60
        assert "keepwise_session" not in c.cookies
        wrong_bearer = [
            c.get("/api/status", headers={"Authorization": "Bearer " + "x" * 20}) for _ in range(2)
        ]
        assert wrong_bearer[-1].status_code == 429  # the API's token counts against the same address
    with TestClient(app, client=("10.0.0.9", 5000)) as other:
        assert other.post("/login", data={"token": TOKEN}, follow_redirects=False).status_code == 303


def test_a_date_the_request_pushes_off_the_calendar_is_a_400(tmp_path, config, monkeypatch):
    from fastapi.testclient import TestClient

    import keepwise.web.stored as stored_documents
    from keepwise.web import create_app

    def too_far(*args, **kwargs):
        raise OverflowError("date value out of range")

    monkeypatch.setattr(stored_documents, "profit_page", too_far)  # what /api/profit reads
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    url = f"duckdb:///{tmp_path}/empty.duckdb"
    connect(url).disconnect()
    with TestClient(create_app(url, config), raise_server_exceptions=False) as c:
        got = c.get("/api/profit", headers={"Authorization": f"Bearer {TOKEN}"})
    assert got.status_code == 400
    assert got.json() == {
        "error": "a date computed from the request is out of range (date value out of range); use dates from "
        "1900 to 2200"
    }
