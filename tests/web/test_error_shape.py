"""Every API error has one shape, ``{"error": "one line"}`` plus ``"field"`` when one input is at fault.

As datasette's tests/test_error_shape.py: one helper asserts the shape, and it is applied to every error path
of every route under ``/api`` (the test walks ``app.routes`` and fails for a route without a case here).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from keepwise.store import connect

from .conftest import MONTH, TOKEN, routes_of


def assert_error_shape(response: Any, status: int, field: str | None = None) -> dict[str, str]:
    """The response is an API error of ``status``: JSON ``{"error": one line[, "field": name]}``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict) and set(body) <= {"error", "field"}, body
    assert isinstance(body["error"], str) and body["error"].strip() and "\n" not in body["error"]
    assert "Traceback" not in body["error"]
    if field is None:
        assert "field" not in body, body
    else:
        assert body.get("field") == field and body["error"].startswith(f"{field}: "), body
    return body


#: (method, route path, URL, keyword arguments of the request, status, field): every error path reachable
#: with a store that holds two reviews and no conjoint study.
CASES: list[tuple[str, str, str, dict[str, Any], int, str | None]] = [
    ("GET", "/api/review", "/api/nothing-here", {}, 404, None),
    ("POST", "/api/status", "/api/status", {}, 405, None),
    ("GET", "/api/review/{month:path}", "/api/review/2024-03", {}, 404, None),
    ("GET", "/api/review/{month:path}", "/api/review/2025-13", {}, 400, None),
    ("GET", "/api/profit", "/api/profit", {"params": {"view": "week"}}, 400, "view"),
    ("GET", "/api/profit", "/api/profit", {"params": {"month": "2025-13"}}, 400, None),
    ("GET", "/api/customers/{customer_id:path}", "/api/customers/NOPE", {}, 404, None),
    ("POST", "/api/concession", "/api/concession", {"content": b"cost=10"}, 415, None),
    (
        "POST",
        "/api/concession",
        "/api/concession",
        {"json": {"customer_id": "C0001", "cost": "1e400"}},
        400,
        "cost",
    ),
    ("POST", "/api/concession", "/api/concession", {"json": "cost=10"}, 400, None),
    (
        "POST",
        "/api/concession",
        "/api/concession",
        {"json": {}, "headers": {"Origin": "http://evil.example"}},
        403,
        None,
    ),
    ("GET", "/api/profit", "/api/profit", {"params": {"month": "9999-12"}}, 400, "month"),
    ("POST", "/api/concession", "/api/concession", {"json": {"cost": "10"}}, 400, "customer_id"),
    ("POST", "/api/concession", "/api/concession", {"json": {"customer_id": "C0001"}}, 400, "cost"),
    ("POST", "/api/concession", "/api/concession", {"json": {"customer_id": "NOPE", "cost": "1"}}, 404, None),
    (
        "POST",
        "/api/concession/record",
        "/api/concession/record",
        {"json": {"action": "granted"}},
        400,
        "decision_id",
    ),
    (
        "POST",
        "/api/concession/record",
        "/api/concession/record",
        {"json": {"decision_id": "D-1", "action": "maybe"}},
        400,
        "action",
    ),
    ("GET", "/api/winback", "/api/winback", {"params": {"top": -1}}, 400, "top"),
    ("GET", "/api/winback", "/api/winback", {"params": {"top": "all"}}, 400, "top"),
    ("GET", "/api/winback", "/api/winback", {"params": {"month": "2025-13"}}, 400, None),
    ("GET", "/api/conjoint", "/api/conjoint", {}, 404, None),
    ("GET", "/api/outreach", "/api/outreach", {"params": {"top": -1}}, 400, "top"),
    ("GET", "/api/outreach", "/api/outreach", {"params": {"month": "2025-13"}}, 400, None),
    (
        "POST",
        "/api/outreach/{customer_id:path}/done",
        "/api/outreach/NOBODY/done",
        {"json": {}},
        400,
        "month",
    ),
    ("POST", "/api/outreach/{customer_id:path}/done", "/api/outreach/NOBODY/done", {"json": []}, 400, None),
    (
        "POST",
        "/api/outreach/{customer_id:path}/done",
        "/api/outreach/NOBODY/done",
        {"json": {"month": MONTH, "action": "re_engage"}},
        400,
        None,
    ),
    (
        "POST",
        "/api/outreach/{customer_id:path}/skip",
        "/api/outreach/NOBODY/skip",
        {"json": {"month": MONTH, "note": 5}},
        400,
        "note",
    ),
    ("GET", "/api/wins", "/api/wins", {"params": {"months": 0}}, 400, None),
    ("GET", "/api/wins", "/api/wins", {"params": {"months": "twelve"}}, 400, "months"),
    ("GET", "/api/wins", "/api/wins", {"params": {"months": "1000000000"}}, 400, "months"),
    (
        "GET",
        "/api/openapi.json",
        "/api/openapi.json",
        {"headers": {"Authorization": "Bearer wrong"}},
        401,
        None,
    ),
]

#: The same error paths under ``/api/v1``, the documented path (``/api/customers`` is the first API's only).
CASES += [
    (m, route.replace("/api/", "/api/v1/", 1), url.replace("/api/", "/api/v1/", 1), kwargs, status, field)
    for m, route, url, kwargs, status, field in list(CASES)
    if not route.startswith("/api/customers")
]

#: The routes only ``/api/v1`` has: the review's warnings and lost customers, the settings, the docs.
CASES += [
    ("GET", "/api/v1/customers", "/api/v1/customers", {"params": {"sort": "x"}}, 400, "sort"),
    ("GET", "/api/v1/customers/{customer_id:path}", "/api/v1/customers/NOPE", {}, 404, None),
    ("GET", "/api/v1/warnings", "/api/v1/warnings", {"params": {"sort": "largest"}}, 400, "sort"),
    ("GET", "/api/v1/warnings", "/api/v1/warnings", {"params": {"kind": "bored"}}, 400, "kind"),
    ("GET", "/api/v1/warnings", "/api/v1/warnings", {"params": {"month": "2024-03"}}, 404, None),
    ("GET", "/api/v1/warnings", "/api/v1/warnings", {"params": {"month": "9999-12"}}, 400, "month"),
    ("GET", "/api/v1/warnings", "/api/v1/warnings", {"params": {"per_page": "0"}}, 400, "per_page"),
    ("GET", "/api/v1/lost", "/api/v1/lost", {"params": {"reason": "bored"}}, 400, "reason"),
    ("GET", "/api/v1/lost", "/api/v1/lost", {"params": {"sort": "-name"}}, 400, "sort"),
    ("GET", "/api/v1/lost", "/api/v1/lost", {"params": {"page": "first"}}, 400, "page"),
    ("GET", "/api/v1/lost", "/api/v1/lost", {"params": {"month": "2025-13"}}, 400, None),
    ("POST", "/api/v1/settings", "/api/v1/settings", {"json": {}}, 405, None),
    ("GET", "/api/v1/docs", "/api/v1/docs", {"headers": {"Authorization": "Bearer wrong"}}, 401, None),
    ("GET", "/api/v1/activity", "/api/v1/activity", {"params": {"per_page": "0"}}, 400, "per_page"),
]

#: The programs' routes (only under ``/api/v1``): experiments, the outbox, win-back approval.
CASES += [
    ("GET", "/api/v1/experiments", "/api/v1/experiments", {"params": {"months": "0"}}, 400, "months"),
    ("GET", "/api/v1/experiments/{experiment_id}", "/api/v1/experiments/NOPE", {}, 404, None),
    ("POST", "/api/v1/experiments", "/api/v1/experiments", {"json": {"seed": 1}}, 400, "name"),
    ("GET", "/api/v1/outbox", "/api/v1/outbox", {"params": {"state": "lost"}}, 400, "state"),
    (
        "POST",
        "/api/v1/winback/approve",
        "/api/v1/winback/approve",
        {"json": {"month": MONTH}},
        400,
        "customer_ids",
    ),
    ("POST", "/api/v1/winback/approve", "/api/v1/winback/approve", {"content": b"month=x"}, 415, None),
]

#: Routes whose only error is the missing token (checked for every route below).
TOKEN_ONLY = {
    "/api/status",
    "/api/reviews",
    "/api/v1/status",
    "/api/v1/reviews",
    "/api/v1/users",
    "/api/v1/tokens",
}


@pytest.mark.parametrize(
    ("method", "url", "kwargs", "status", "field"),
    [(m, u, k, s, f) for m, _, u, k, s, f in CASES],
    ids=[f"{m} {u} {s} {f or ''}".strip() for m, _, u, _, s, f in CASES],
)
def test_every_error_path_has_the_shape(client, method, url, kwargs, status, field):
    assert_error_shape(client.request(method, url, **kwargs), status, field)


def _api_routes(app: Any) -> list[tuple[str, set[str]]]:
    """The API's routes (path, methods), those of included routers too (:func:`routes_of`)."""
    routes = [(path, methods) for path, methods in routes_of(app) if path.startswith("/api")]
    assert len(routes) > 10  # FastAPI 0.165 lists an included router as one entry: its routes are found
    return routes


def test_every_api_route_has_its_error_paths_here(client):
    covered = {path for _, path, *_ in CASES} | TOKEN_ONLY
    missing = {path for path, _ in _api_routes(client.app)} - covered
    assert not missing, f"API routes without an error case in this file: {sorted(missing)}"


def test_every_api_route_refuses_a_missing_token_in_the_shape(client):
    client.headers.pop("Authorization")
    for path, methods in _api_routes(client.app):
        url = re.sub(r"{month(:path)?}", MONTH, path)
        url = re.sub(r"{customer_id(:path)?}", "C0001", url)
        for method in methods:
            got = client.request(method, url)
            assert_error_shape(got, 401)
            assert got.headers["www-authenticate"] == "Bearer"


def test_a_model_that_does_not_fit_and_an_internal_failure_have_the_shape(tmp_path, config, monkeypatch):
    from fastapi.testclient import TestClient

    import keepwise.web.stored as stored_documents
    from keepwise.exceptions import ConvergenceError
    from keepwise.web import create_app

    def no_fit(*args: Any, **kwargs: Any) -> None:
        raise ConvergenceError("the model did not converge.\nThings to check: (1)")

    monkeypatch.setattr(stored_documents, "profit_page", no_fit)  # what /api/profit reads
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    url = f"duckdb:///{tmp_path}/broken.duckdb"
    backend = connect(url)
    backend.con.execute(
        "CREATE TABLE review_document (review_month VARCHAR, written_at VARCHAR, document VARCHAR)"
    )
    backend.con.execute("INSERT INTO review_document VALUES ('2025-11', '2025-12-01', 'not json')")
    backend.disconnect()
    with TestClient(create_app(url, config), raise_server_exceptions=False) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        assert_error_shape(c.get("/api/profit"), 422)
        assert_error_shape(c.get("/api/review"), 500)


def test_a_request_for_another_host_has_the_shape(store_url, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.config import Config
    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    with TestClient(create_app(store_url, Config()), base_url="http://127.0.0.1:8000") as c:  # no token
        assert_error_shape(c.get("/api/status", headers={"Host": "attacker.example"}), 400)
