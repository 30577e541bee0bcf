"""Every route of the app: who may reach it (issue 18), and bad and cross-site input (issue 21).

Issue 18: without a login every route answers 401 (API) or a redirect to /login (pages), but ``GET /health``,
the sign-in form and the one-click unsubscribe (signed by its own token); and each role reaches exactly what
the route's guard says (:class:`keepwise.web.access.Guard`), which must agree with the tables below of the
pages a rep may open and of the admin's pages. Routes added by any router are found in ``app.routes``.

Issue 21: every route, sent out-of-range, malformed and cross-site input: no 5xx, and no write.

The routes come from ``app.routes``, so a route added later is walked too. Each gets every path parameter
as ids with ``/``, NUL, a month out of range and an over-long id; every query parameter any route reads as
months out of range (``9999-12``, ``0001-01``), garbage and huge numbers; and, for the methods that change
something, malformed JSON and form bodies and *well-formed* requests sent from another site
(``Origin: http://evil.example``, ``Content-Type: text/plain``), which must be refused too. The store is
hashed before and after (every row of every table, as ``tests/store/loads_kit.py`` hashes it): nothing the
walk sends may change it. The walk runs against an app with the shared token (signed in with it) and one
without (signed in as an admin by name and password); the team's own tables (sessions, audit trail) are
left out of the hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import duckdb
import pytest

from keepwise.config import Config, WebAssumptions

from .conftest import MONTH, SECRET, TOKEN, USERS, api_token, routes_of, sign_in_as

EVIL = "http://evil.example"

#: Values for a path parameter: an id with '/', with NUL, months out of range, an id too long for the store.
PATH_VALUES = ["X/1", "a\x00b", "9999-12", "0001-01", "2025-13", "../../etc/passwd", "C" * 300]

#: Query strings, each with every parameter a route reads set to something it must refuse or survive.
QUERIES: list[dict[str, str]] = [
    {"month": "9999-12"},
    {"month": "0001-01"},
    {"month": "garbage\x00", "view": "week"},
    {"month": "", "view": "lifetime"},
    {"months": "1000000000", "top": "1000000000000"},
    {"months": "99999999999999999999999", "top": "-1", "view": "x" * 1000},
    {"months": "1e400", "top": "1e3"},
    {
        "study": "x/../\x00",
        "id": "X/1",
        "customer_id": "%00",
        "incident": "\x1b[2J",
        "next": "//evil.example/",
    },
    {"token": "forged", "id": "C" * 300},
    {"page": "99999999999999999999", "per_page": "-5"},
    {"page": "1000000", "per_page": "1000"},  # a page far past the last: empty, never an error
    {"page": "1e3", "per_page": "0x10"},
]


def _digest(url: str) -> str:
    """Every row of every table of the store, hashed (order-independent)."""
    con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
    try:
        h = hashlib.sha256()
        tables = con.execute(
            "SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) "
            "FROM duckdb_columns() WHERE NOT internal AND table_name NOT IN ('sessions', 'audit_log') "
            "GROUP BY table_name ORDER BY table_name"
        ).fetchall()
        for name, columns in tables:
            count, total = con.execute(f'SELECT COUNT(*), SUM(HASH(t)::HUGEINT) FROM "{name}" t').fetchone()
            h.update(f"{name}({columns}): {count} {total}\n".encode())
        return h.hexdigest()
    finally:
        con.close()


def _a_customer(url: str) -> str:
    con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
    try:
        return str(con.execute("SELECT customer_id FROM incidents ORDER BY opened_at LIMIT 1").fetchone()[0])
    finally:
        con.close()


def _urls(route_path: str) -> list[str]:
    """The route's path with each parameter set to each of :data:`PATH_VALUES` (URL-encoded)."""
    names = re.findall(r"{([^}:]+)(?::[^}]+)?}", route_path)
    if not names:
        return [route_path]
    urls = []
    for value in PATH_VALUES:
        path = route_path
        for name in names:
            path = re.sub(r"{" + name + r"(?::[^}]+)?}", quote(value, safe=""), path)
        urls.append(path)
    return urls


def _bodies(customer: str) -> list[dict[str, Any]]:
    """Request bodies for the methods that change something: malformed, out of range, or cross-site."""
    good = {"customer_id": customer, "cost": "10", "month": MONTH, "action": "contact"}
    return [
        {"json": {"customer_id": "X/1", "cost": "1e400", "incident": "\x00", "month": "9999-12", "note": 5}},
        {"json": {"customer_id": customer, "cost": "99999999999999999999", "month": "0001-01"}},
        {"json": {"customer_id": customer, "cost": True, "month": "2025-13", "note": "\x00" * 3}},
        {"json": ["not", "an", "object"]},
        {"content": b"\xff\xfe{not json", "headers": {"Content-Type": "application/json"}},
        {"data": {"customer_id": customer, "cost": "1e400", "month": "9999-12", "token": "forged"}},
        # well-formed requests that would write, sent by another site's page: refused
        {"content": json.dumps(good).encode(), "headers": {"Origin": EVIL, "Content-Type": "text/plain"}},
        {"json": good, "headers": {"Origin": EVIL}},
        {"data": good, "headers": {"Origin": EVIL}},
        {"json": good, "headers": {"Sec-Fetch-Site": "cross-site"}},
        {"data": {**good, "token": TOKEN}, "headers": {"Referer": f"{EVIL}/form"}},
    ]


def _walk(app: Any, base_url: str, signed_in: bool, customer: str) -> list[tuple[str, str, int]]:
    """Send every route its adversarial requests; the (method, url, status) of each answer."""
    from fastapi.testclient import TestClient

    seen: list[tuple[str, str, int]] = []
    with (
        TestClient(app, base_url=base_url, raise_server_exceptions=False) as c,
        TestClient(app, base_url=base_url, raise_server_exceptions=False, client=("10.9.9.9", 1)) as login,
    ):
        if signed_in:
            c.headers["Authorization"] = f"Bearer {TOKEN}"
            assert c.post("/login", data={"token": TOKEN}, follow_redirects=False).status_code == 303
        else:  # signed in as the admin by name and password; the forms send the session's CSRF token
            sign_in_as(c, "ada")
        for route_path, methods in routes_of(app):
            for method in sorted(methods - {"HEAD"}):
                if not signed_in and route_path == "/logout":
                    continue  # signing out would end the walk's session
                # wrong sign-ins go through their own address, so the rate limit does not stop the walk
                client = login if route_path == "/login" and method == "POST" else c
                for url in _urls(route_path):
                    if method == "GET":
                        variants: list[dict[str, Any]] = [{"params": q} for q in QUERIES]
                    else:
                        variants = _bodies(customer)
                    if url != _urls(route_path)[0]:  # other path values: one plain request each
                        variants = variants[:1]
                    for kwargs in variants:
                        got = client.request(method, url, follow_redirects=False, **kwargs)
                        seen.append((method, url, got.status_code))
    return seen


@pytest.mark.parametrize("access", ["token", "session"])
def test_every_route_survives_bad_and_cross_site_input_without_a_5xx_or_a_write(
    store_url, reviews, monkeypatch, access
):
    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    token = TOKEN if access == "token" else ""
    config = replace(Config(), web=replace(WebAssumptions(), token=token))
    app = create_app(store_url, config)
    customer = _a_customer(store_url)
    before = _digest(store_url)
    base = "http://testserver" if access == "token" else "http://127.0.0.1:8000"
    seen = _walk(app, base, access == "token", customer)
    failures = [s for s in seen if s[2] >= 500]
    assert not failures, f"{len(failures)} of {len(seen)} answers were 5xx: {failures[:10]}"
    assert _digest(store_url) == before, "a request of the walk changed the store"
    walked = {(method, path) for method, path, _ in seen}
    routes = routes_of(app)
    assert len(routes) > 30
    for route_path, methods in routes:  # every route was sent something
        for method in methods - {"HEAD"}:
            if access == "session" and route_path == "/logout":
                continue
            assert (method, _urls(route_path)[0]) in walked, route_path
    refused = [s for s in seen if s[0] == "POST" and s[2] in (403, 415)]
    assert len(refused) > 25  # the cross-site requests and the bodies not declared JSON


# --- issue 18: who reaches what ---------------------------------------------------------------------------

#: Routes that answer without a login (any method): the health check, the sign-in form (and its stylesheet)
#: and signing out.
PUBLIC = {"/health", "/login", "/logout", "/static/keepwise.css"}
#: The pages a rep may open (everything else needs a manager or an admin).
REP_PAGES = {
    "/customers",
    "/customers/{customer_id:path}",
    "/concession",
    "/concession/record",
    "/outreach",
    "/outreach/{customer_id:path}/{status}",
    "/static/plotly.min.js",
}
#: The pages only an admin may open.
ADMIN_PAGES = {"/users", "/users/{action}", "/tokens", "/tokens/{action}", "/settings"}
#: A value for each path parameter that a route accepts the shape of (the walk sends no body: nothing writes).
PARAMS = {"customer_id": "C0001", "month": MONTH, "status": "done", "action": "add", "study": "s1", "id": "x"}


def _guarded(app: Any) -> list[tuple[str, set[str], Any]]:
    """Every route as (path, methods, the role its guards need or None), included routers' too."""
    from keepwise.web.access import Guard

    def needed(dependant: Any) -> Any:
        roles = []
        for dep in dependant.dependencies:
            if isinstance(dep.call, Guard):
                roles.append(dep.call.role)
            inner = needed(dep)
            if inner is not None:
                roles.append(inner)
        return max(roles, key=lambda r: r.rank) if roles else None

    found: list[tuple[str, set[str], Any]] = []

    def walk(entries: Any) -> None:
        for entry in entries:
            if hasattr(entry, "effective_candidates"):
                walk(entry.effective_candidates())
            elif getattr(entry, "methods", None) and hasattr(entry, "dependant"):
                found.append((entry.path, set(entry.methods) - {"HEAD"}, needed(entry.dependant)))

    walk(app.routes)
    return found


def _url(path: str) -> str:
    for name, value in PARAMS.items():
        path = re.sub(r"{" + name + r"(?::[^}]+)?}", quote(value, safe=""), path)
    return re.sub(r"{[^}]+}", "x", path)


def _is_api(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


@pytest.fixture
def team_app(store_url, reviews, monkeypatch):
    """The app without a shared token (as ``keepwise serve`` runs it on a store with users)."""
    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    return create_app(store_url, Config(), loopback_only=False)


def test_every_route_needs_a_login_but_health_the_login_form_and_unsubscribe(team_app):
    from fastapi.testclient import TestClient

    from keepwise.web.unsubscribe import paths

    public = PUBLIC | set(paths(Config().messages.unsubscribe_url))
    routes = _guarded(team_app)
    assert len(routes) > 30
    unguarded = sorted(path for path, _, role in routes if role is None and path not in public)
    assert not unguarded, f"routes without a guard (page_guard / api_guard): {unguarded}"
    with TestClient(team_app, raise_server_exceptions=False) as anonymous:
        for path, methods, _ in routes:
            for method in sorted(methods):
                got = anonymous.request(method, _url(path), follow_redirects=False)
                where = f"{method} {path}"
                if path in public:  # answered (a sign-in without a password is a 401 of the form)
                    assert got.status_code < 500, where
                elif _is_api(path):
                    assert got.status_code == 401, where
                    assert set(got.json()) == {"error"}, where
                else:
                    assert got.status_code == 303, where
                    assert got.headers["location"].startswith("/login?next="), where
        health = anonymous.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "ok"
        assert anonymous.get("/login").status_code == 200


def test_each_role_reaches_exactly_what_the_guards_say(team_app, store_url):
    from fastapi.testclient import TestClient

    from keepwise.web.access import Role

    routes = [r for r in _guarded(team_app) if r[2] is not None]
    with TestClient(team_app, raise_server_exceptions=False) as c:
        for name, role_name in USERS.items():
            role = Role(role_name)
            c.cookies.clear()
            c.headers.pop("X-CSRF-Token", None)
            sign_in_as(c, name)
            token = api_token(store_url, role_name, name=f"walk-{role_name}")
            for path, methods, needed in routes:
                for method in sorted(methods):
                    # the API with the role's token, pages with the role's session; no body, so nothing writes
                    headers = {"Authorization": f"Bearer {token}"} if _is_api(path) else {}
                    got = c.request(method, _url(path), headers=headers, follow_redirects=False)
                    where = f"{role_name}: {method} {path} (needs {needed.value})"
                    if role.reaches(needed):
                        assert got.status_code not in (401, 403), (where, got.text[:300])
                        assert not got.headers.get("location", "").startswith("/login"), where
                    else:
                        assert got.status_code == 403, (where, got.status_code)
                        if _is_api(path):
                            assert set(got.json()) == {"error"}, where


def test_the_guards_agree_with_the_table_of_the_pages_each_role_opens(team_app):
    from keepwise.web.access import Role

    pages = [(path, role) for path, _, role in _guarded(team_app) if role is not None and not _is_api(path)]
    wrong = sorted(
        f"{path} needs {role.value}"
        for path, role in pages
        if (role is Role.REP) != (path in REP_PAGES) or (role is Role.ADMIN) != (path in ADMIN_PAGES)
    )
    assert not wrong, f"guards that disagree with REP_PAGES / ADMIN_PAGES: {wrong}"
