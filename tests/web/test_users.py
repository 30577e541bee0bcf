"""Users, sessions and API tokens (issue 18 part 1): ``keepwise users`` / ``tokens`` and the sign-in form.

Each test works on its own copy of the web store, so users it adds or disables do not reach other tests.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from typing import Any

import duckdb
import pytest

from keepwise.config import Config

from .conftest import PASSWORD, SECRET, cli, sign_in_as


@pytest.fixture
def own_store(store_url, reviews, tmp_path) -> str:
    """A copy of the web store (with its team: ada admin, max manager, rey rep)."""
    copy = tmp_path / "own.duckdb"
    shutil.copy(store_url.removeprefix("duckdb:///"), copy)
    return f"duckdb:///{copy}"


@pytest.fixture
def app_of(monkeypatch):
    """``app_of(url)``: the app of a store without the shared token (https ``base_url``: Secure cookies)."""
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    made = []

    def make(url: str, base_url: str = "http://testserver", config: Config | None = None) -> TestClient:
        c = TestClient(create_app(url, config or Config(), loopback_only=False), base_url=base_url)
        made.append(c.__enter__())
        return c

    yield make
    for c in made:
        c.__exit__(None, None, None)


def _rows(url: str, sql: str) -> list[tuple]:
    con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_users_add_prints_a_password_once_and_stores_only_its_argon2_hash(own_store, app_of):
    code, stdout, err = cli("users", "add", "bob", "--role", "rep", "--db", own_store)
    assert code == 0, err
    password = stdout.strip()
    assert len(password) >= 16 and "\n" not in password
    assert "shown once" in err
    stored = _rows(own_store, "SELECT role, active, password_hash FROM users WHERE name = 'bob'")
    assert stored[0][:2] == ("rep", True)
    assert stored[0][2].startswith("$argon2id$") and password not in stored[0][2]
    code, listed, _ = cli("users", "list", "--json", "--db", own_store)
    doc = json.loads(listed)
    assert {u["name"]: u["role"] for u in doc["users"]} == {"ada": "admin", "bob": "rep", "max": "manager",
                                                           "rey": "rep"}  # fmt: skip
    assert password not in listed and "hash" not in listed
    c = app_of(own_store)
    sign_in_as(c, "bob", password)
    assert c.get("/customers/C0001").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["users", "add", "ada", "--role", "rep"], "error: --name: is a user already (got 'ada')"),
        (["users", "add", "eve", "--role", "boss"], "error: --role: must be one of: admin, manager, rep"),
        (["users", "add", "a b", "--role", "rep"], "error: --name: must be 1 to 64 letters"),
        (["users", "disable", "nobody"], "error: --name: is not a user (got 'nobody')"),
        (["users", "disable", "ada"], "error: --name: is the last active admin; add another admin first"),
        (["tokens", "create", "--role", "root", "--name", "x"], "error: --role: must be one of"),
        (
            ["tokens", "revoke", "t-nope"],
            "error: --token: is neither a token id nor the name of a valid token",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(own_store, args, message):
    code, stdout, err = cli(*args, "--db", own_store)
    assert code == 2, err
    assert err.strip().startswith(message) and len(err.strip().splitlines()) == 1
    assert stdout == ""


def test_password_from_stdin_and_a_short_one_is_refused(own_store):
    from typer.testing import CliRunner

    from keepwise.cli import app

    runner = CliRunner()
    args = ["users", "add", "cy", "--role", "manager", "--password-stdin", "--db", own_store]
    got = runner.invoke(app, args, input="long-enough-password\n")
    assert got.exit_code == 0, got.output
    assert got.stdout == ""  # nothing to show: the password was given
    args = ["users", "add", "dy", "--role", "rep", "--password-stdin", "--db", own_store]
    short = runner.invoke(app, args, input="short\n")
    assert short.exit_code != 0
    assert "password: must be at least 10 characters long" in str(short.exception)


def test_the_session_cookie_is_httponly_lax_and_secure_over_https(own_store, app_of):
    for base, secure in (("http://testserver", False), ("https://testserver", True)):
        c = app_of(own_store, base_url=base)
        got = c.post("/login", data={"name": "rey", "password": PASSWORD}, follow_redirects=False)
        assert got.status_code == 303
        cookie = got.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
        assert ("secure" in cookie.split("; ")) is secure
        assert "max-age=604800" in cookie  # kept up to the session's cap, a week; the store's end slides


def test_a_wrong_password_is_401_and_a_disabled_user_or_new_password_ends_the_sessions(own_store, app_of):
    c = app_of(own_store)
    wrong = c.post("/login", data={"name": "rey", "password": "not-the-password"}, follow_redirects=False)
    assert wrong.status_code == 401 and "That name and password do not match." in wrong.text
    unknown = c.post("/login", data={"name": "nobody", "password": PASSWORD}, follow_redirects=False)
    assert unknown.status_code == 401 and "That name and password do not match." in unknown.text
    sign_in_as(c, "rey")
    assert c.get("/outreach", follow_redirects=False).status_code == 200
    code, new_password, err = cli("users", "reset-password", "rey", "--db", own_store)
    assert code == 0, err
    c.app.state.keepwise.recent.forget()  # what another process changed is seen within RECHECK_SECONDS
    assert c.get("/outreach", follow_redirects=False).status_code == 303  # signed out
    again = c.post("/login", data={"name": "rey", "password": PASSWORD}, follow_redirects=False)
    assert again.status_code == 401  # the old password no longer works
    sign_in_as(c, "rey", new_password.strip())
    assert c.get("/outreach", follow_redirects=False).status_code == 200
    assert cli("users", "disable", "rey", "--db", own_store)[0] == 0
    c.app.state.keepwise.recent.forget()
    assert c.get("/outreach", follow_redirects=False).status_code == 303
    refused = c.post("/login", data={"name": "rey", "password": new_password.strip()}, follow_redirects=False)
    assert refused.status_code == 401
    assert cli("users", "enable", "rey", "--db", own_store)[0] == 0
    sign_in_as(c, "rey", new_password.strip())


def test_a_session_ends_when_it_expires(own_store, app_of):
    c = app_of(own_store)
    sign_in_as(c, "max")
    assert c.get("/activity", follow_redirects=False).status_code == 200
    con = duckdb.connect(own_store.removeprefix("duckdb:///"))
    try:
        con.execute("UPDATE sessions SET expires_at = now() - INTERVAL 1 MINUTE WHERE user_name = 'max'")
    finally:
        con.close()
    c.app.state.keepwise.recent.forget()
    assert c.get("/activity", follow_redirects=False).headers["location"] == "/login?next=/activity"


def _session_times(url: str, name: str) -> tuple[Any, Any]:
    con = duckdb.connect(url.removeprefix("duckdb:///"))
    try:
        con.execute("SET TimeZone = 'UTC'")
        row = con.execute(
            "SELECT created_at, expires_at FROM sessions WHERE user_name = ?", [name]
        ).fetchone()
    finally:
        con.close()
    assert row is not None
    return row[0], row[1]


def _set_session(url: str, name: str, began: str, ends: str) -> None:
    con = duckdb.connect(url.removeprefix("duckdb:///"))
    try:
        con.execute(
            f"UPDATE sessions SET created_at = now() + INTERVAL '{began}', "
            f"expires_at = now() + INTERVAL '{ends}' WHERE user_name = ?",
            [name],
        )
    finally:
        con.close()


def test_activity_slides_a_session_up_to_its_cap(own_store, app_of):
    from datetime import UTC, datetime, timedelta

    c = app_of(own_store)
    sign_in_as(c, "max")
    began, ends = _session_times(own_store, "max")
    assert timedelta(hours=11.9) < ends - began <= timedelta(hours=12)  # [web] session_hours = 12
    assert c.get("/activity", follow_redirects=False).status_code == 200
    assert _session_times(own_store, "max")[1] == ends  # just signed in: not due to move yet
    # signed in three days ago, active throughout: 30 minutes left, a request gives it 12 hours again
    _set_session(own_store, "max", "-3 days", "30 minutes")
    c.app.state.keepwise.recent.forget()
    assert c.get("/activity", follow_redirects=False).status_code == 200
    now = datetime.now(UTC)
    ends = _session_times(own_store, "max")[1]
    assert timedelta(hours=11.9) < ends - now <= timedelta(hours=12)
    # a week less an hour ago: activity moves the end to the cap (an hour from now), not 12 hours on
    _set_session(own_store, "max", "-167 hours", "10 minutes")
    c.app.state.keepwise.recent.forget()
    assert c.get("/activity", follow_redirects=False).status_code == 200
    began, ends = _session_times(own_store, "max")
    assert ends - began == timedelta(hours=168)
    # past the cap (or idle past the end) the password is asked for again
    _set_session(own_store, "max", "-169 hours", "-1 hour")
    c.app.state.keepwise.recent.forget()
    assert c.get("/activity", follow_redirects=False).headers["location"] == "/login?next=/activity"


def test_extend_session_moves_the_end_only_by_a_step(own_store, monkeypatch):
    from datetime import timedelta

    from keepwise.store import connect, sessions, team

    store = connect(own_store)
    try:
        raw = team.open_session(store, "max", 12)
        assert sessions.extend_session(store, raw, 12) is None  # it would move by under an hour
        assert sessions.extend_session(store, "not-a-session", 12) is None
        later = team._now() + timedelta(hours=2)
        monkeypatch.setattr(team, "_now", lambda: later)
        assert sessions.extend_session(store, raw, 12) == later + timedelta(hours=12)
        assert team.session_member(store, raw) is not None
        monkeypatch.setattr(team, "_now", lambda: later + timedelta(hours=13))  # idle past the end
        assert sessions.extend_session(store, raw, 12) is None
        assert team.session_member(store, raw) is None
    finally:
        store.disconnect()


def test_sign_out_ends_the_session_in_the_store(own_store, app_of):
    c = app_of(own_store)
    sign_in_as(c, "max")
    cookie = c.cookies["keepwise_session"]
    assert c.post("/logout", follow_redirects=False).headers["location"] == "/login"
    c.cookies.set("keepwise_session", cookie)  # a copy of the cookie kept by someone
    assert c.get("/activity", follow_redirects=False).status_code == 303


def test_forms_need_the_session_csrf_token_but_bearer_requests_do_not(own_store, app_of):
    from keepwise.web.csrf import csrf_token

    c = app_of(own_store)
    sign_in_as(c, "ada")
    token = c.headers.pop("X-CSRF-Token")
    form = {"name": "zed", "role": "rep"}
    refused = c.post("/users/add", data=form)
    assert refused.status_code == 403 and "reload the page" in refused.text
    forged = c.post("/users/add", data={**form, "csrf_token": csrf_token("another-session")})
    assert forged.status_code == 403
    page = c.get("/users")
    assert f'name="csrf_token" value="{token}"' in page.text  # every form of the page carries it
    added = c.post("/users/add", data={**form, "csrf_token": token})
    assert added.status_code == 200 and 'id="shown-password"' in added.text
    assert _rows(own_store, "SELECT role FROM users WHERE name = 'zed'") == [("rep",)]
    # the API with a Bearer token needs no CSRF token
    code, secret, err = cli("tokens", "create", "--role", "rep", "--name", "script", "--db", own_store)
    assert code == 0, err
    api = app_of(own_store)
    got = api.post("/api/concession", json={"customer_id": "C0001", "cost": "5"},
                   headers={"Authorization": f"Bearer {secret.strip()}"})  # fmt: skip
    assert got.status_code == 200, got.text


def test_tokens_carry_their_role_are_stored_as_hashes_and_can_be_revoked(own_store, app_of):
    code, secret, err = cli("tokens", "create", "--role", "manager", "--name", "nightly", "--db", own_store)
    assert code == 0, err
    secret = secret.strip()
    assert secret.startswith("kw_") and len(secret) > 40
    stored = _rows(own_store, "SELECT token_id, role, token_hash FROM api_tokens WHERE name = 'nightly'")
    assert stored[0][1] == "manager" and secret not in stored[0][2] and len(stored[0][2]) == 64
    c = app_of(own_store)
    bearer = {"Authorization": f"Bearer {secret}"}
    assert c.get("/api/v1/activity", headers=bearer).status_code == 200  # a manager's
    users = c.get("/api/v1/users", headers=bearer)
    assert users.status_code == 403 and set(users.json()) == {"error"}  # an admin's
    listed = json.loads(cli("tokens", "list", "--json", "--db", own_store)[1])
    assert [t["name"] for t in listed["tokens"]].count("nightly") == 1 and secret not in json.dumps(listed)
    assert cli("tokens", "revoke", "nightly", "--db", own_store)[0] == 0
    c.app.state.keepwise.recent.forget()
    revoked = c.get("/api/v1/activity", headers=bearer)
    assert revoked.status_code == 401 and revoked.json() == {"error": "the access token is not valid"}


def test_the_shared_token_still_works_as_an_admin_api_token(own_store, app_of):
    from keepwise.config import WebAssumptions

    from .conftest import TOKEN

    c = app_of(own_store, config=replace(Config(), web=replace(WebAssumptions(), token=TOKEN)))
    got = c.get("/api/v1/users", headers={"Authorization": f"Bearer {TOKEN}"})
    assert got.status_code == 200
    assert {u["name"] for u in got.json()["users"]} == {"ada", "max", "rey"}


def test_wrong_passwords_for_one_name_are_limited_across_addresses(own_store, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app
    from keepwise.web.ratelimit import NAME_TRIES

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    app = create_app(own_store, Config(), loopback_only=False)
    for i in range(NAME_TRIES):  # two tries from each address: under the per-address limit
        with TestClient(app, client=(f"10.0.0.{i // 2}", 1000)) as c:
            assert c.post("/login", data={"name": "rey", "password": "guess-{i}-guess"}).status_code == 401
    with TestClient(app, client=("10.0.1.1", 1000)) as fresh:
        limited = fresh.post("/login", data={"name": "rey", "password": PASSWORD}, follow_redirects=False)
        assert limited.status_code == 429 and 0 < int(limited.headers["retry-after"]) <= 60
        assert "keepwise_session" not in fresh.cookies
        other = fresh.post("/login", data={"name": "max", "password": PASSWORD}, follow_redirects=False)
        assert other.status_code == 303  # other names are not affected


def test_the_users_and_tokens_pages_are_an_admins(own_store, app_of):
    for name, status in (("rey", 403), ("max", 403), ("ada", 200)):
        c = app_of(own_store)
        sign_in_as(c, name)
        for path in ("/users", "/tokens"):
            assert c.get(path).status_code == status, (name, path)
    made = c.post("/tokens/create", data={"name": "export", "role": "manager"})
    shown = made.text.split('id="shown-token">')[1].split("<")[0]
    assert made.status_code == 200 and shown.startswith("kw_")
    assert (
        app_of(own_store).get("/api/v1/activity", headers={"Authorization": f"Bearer {shown}"}).status_code
        == 200
    )
    reset = c.post("/users/reset", data={"name": "max"})
    new_password = reset.text.split('id="shown-password">')[1].split("<")[0]
    from fastapi.testclient import TestClient

    other = TestClient(c.app)  # the same server, so its sessions end at once
    sign_in_as(other, "max", new_password)
    disabled = c.post("/users/disable", data={"name": "max"})
    assert 'id="user-max"' in disabled.text and "disabled" in disabled.text.split('id="user-max"')[1][:300]
    assert other.get("/activity", follow_redirects=False).status_code == 303  # signed out at once
    last = c.post("/users/disable", data={"name": "ada"})
    assert last.status_code == 400 and "last active admin" in last.text
