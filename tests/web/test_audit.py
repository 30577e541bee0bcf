"""The audit trail (issue 18 part 2): every change made in the dashboard, the API or with ``keepwise users`` /
``tokens`` is stored with who and when, and shown on the Activity page and at ``/api/v1/activity``."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from keepwise.config import Config

from .conftest import PASSWORD, SECRET, api_token, cli, sign_in_as


@pytest.fixture
def app(store_url, reviews, tmp_path, monkeypatch):
    """The app of a copy of the web store (its own audit trail), without the shared token."""
    from keepwise.web import create_app

    copy = tmp_path / "audit.duckdb"
    shutil.copy(store_url.removeprefix("duckdb:///"), copy)
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    return create_app(f"duckdb:///{copy}", Config(), loopback_only=False)


def _url(app) -> str:
    return str(app.state.keepwise.db)


def _events(url: str) -> list[tuple]:
    con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
    try:
        return con.execute(
            "SELECT user_name, role, action, summary, status FROM audit_log ORDER BY happened_at, event_id"
        ).fetchall()
    finally:
        con.close()


def _incident_customer(url: str) -> str:
    con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
    try:
        return str(con.execute("SELECT customer_id FROM incidents ORDER BY opened_at LIMIT 1").fetchone()[0])
    finally:
        con.close()


def test_sign_ins_changes_and_sign_outs_are_recorded_with_the_user(app):
    from fastapi.testclient import TestClient

    url = _url(app)
    before = len(_events(url))
    customer = _incident_customer(url)
    with TestClient(app) as c:
        assert c.post("/login", data={"name": "rey", "password": "wrong-password"}).status_code == 401
        sign_in_as(c, "rey")
        asked = c.post("/concession", data={"customer_id": customer, "cost": "40", "password": "oops-secret"})
        assert asked.status_code == 200
        assert c.post("/concession", data={"customer_id": customer, "cost": "lots"}).status_code == 400
        c.post("/logout")
    token = api_token(url, "manager", name="crm")
    with TestClient(app) as machine:
        got = machine.post("/api/concession", json={"customer_id": customer, "cost": "12.50"},
                           headers={"Authorization": f"Bearer {token}"})  # fmt: skip
        assert got.status_code == 200
    events = _events(url)[before:]
    assert events[0] == ("rey", "", "sign-in", "", "failed")
    assert events[1] == ("rey", "rep", "sign-in", "", "ok")
    assert events[2] == ("rey", "rep", "POST /concession", f"customer_id={customer} cost=40", "200")
    assert events[3] == ("rey", "rep", "sign-out", "", "ok")  # the refused form (400) is not an action
    assert events[4][:3] == ("conftest", "", "tokens.create")
    assert events[5] == ("token:crm", "manager", "POST /api/concession", f"customer_id={customer} cost=12.50",
                         "200")  # fmt: skip
    assert len(events) == 6
    assert not any("oops-secret" in str(e) or PASSWORD in str(e) for e in _events(url))


def test_user_and_token_changes_from_the_cli_and_the_users_page_are_recorded(app):
    from fastapi.testclient import TestClient

    url = _url(app)
    before = len(_events(url))
    assert cli("users", "add", "newbie", "--role", "rep", "--db", url)[0] == 0
    assert cli("users", "disable", "newbie", "--db", url)[0] == 0
    with TestClient(app) as c:
        sign_in_as(c, "ada")
        assert c.post("/users/enable", data={"name": "newbie"}).status_code == 200
        assert c.post("/users/reset", data={"name": "newbie"}).status_code == 200
    actions = [(e[0].split(":")[0], e[2], e[3]) for e in _events(url)[before:]]
    assert actions == [
        ("cli", "users.add", "newbie as rep"),
        ("cli", "users.disable", "newbie"),
        ("ada", "sign-in", ""),
        ("ada", "users.enable", "newbie"),
        ("ada", "users.reset-password", "newbie"),
    ]  # each change once: the page's POST is not recorded again by the middleware


def test_the_activity_page_and_api_show_the_trail_newest_first_a_page_at_a_time(app):
    from fastapi.testclient import TestClient

    url = _url(app)
    for i in range(3):
        assert cli("users", "add", f"temp{i}", "--role", "rep", "--db", url)[0] == 0
    with TestClient(app) as c:
        sign_in_as(c, "max")
        page = c.get("/activity", params={"per_page": 2})
        assert page.status_code == 200
        table = page.text.split('id="activity-table"')[1].split("</table>")[0]
        assert table.count("<tr>") == 1 + 2
        assert "sign-in" in table  # max's own sign-in is the newest
        assert 'rel="next"' in page.text
        token = api_token(url, "manager", name="reader")
        c.headers["Authorization"] = f"Bearer {token}"
        first = c.get("/api/v1/activity", params={"per_page": 2}).json()
        total = first["pagination"]["total"]
        assert total == len(_events(url)) and len(first["events"]) == 2
        assert first["events"][0]["action"] == "tokens.create"
        everything = []
        link: str | None = "/api/v1/activity?per_page=2"
        while link:
            body = c.get(link).json()
            everything += body["events"]
            link = body["pagination"]["next"]
        assert len(everything) == total
        stamps = [e["at"] for e in everything]
        assert stamps == sorted(stamps, reverse=True)
        mine = c.get("/api/v1/activity", params={"user": "max"}).json()
        assert {e["user"] for e in mine["events"]} == {"max"}
        assert json.dumps(everything).count("temp") >= 3


def test_a_rep_does_not_see_the_activity(app):
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        sign_in_as(c, "rey")
        assert c.get("/activity").status_code == 403
        token = api_token(_url(app), "rep", name="rep-script")
        got = c.get("/api/v1/activity", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 403 and set(got.json()) == {"error"}
