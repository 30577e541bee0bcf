"""The REST API against the CLI and the Python functions, on a real DuckDB file (values, not status codes)."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from keepwise.store import connect
from keepwise.web.api import PROFIT_LISTS, REVIEW_LISTS, WINBACK_LISTS

from .conftest import MONTH, TOKEN, all_pages, cli, same_error


def _without_report(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "report"}


def test_status_is_the_cli_json(client, store_url):
    code, stdout, _ = cli("status", "--json", "--db", store_url)
    assert code == 0
    got = client.get("/api/status")
    assert got.status_code == 200
    assert got.text == stdout  # the same bytes: same function, same encoder


def test_review_latest_and_by_month_are_what_keepwise_review_printed(client, reviews):
    latest = all_pages(client, "/api/review", {}, REVIEW_LISTS)
    assert latest == _without_report(reviews[MONTH])
    october = all_pages(client, "/api/review/2025-10", {}, REVIEW_LISTS)
    assert october == _without_report(reviews["2025-10"])
    assert october["month"] == "2025-10"
    assert october["warnings"] != latest["warnings"]
    assert client.get("/api/reviews").json() == {"months": [MONTH, "2025-10"]}


def test_review_of_a_month_never_reviewed_is_404_and_a_bad_month_is_the_cli_message(client, store_url):
    missing = client.get("/api/review/2024-03")
    assert missing.status_code == 404
    assert "no review of 2024-03" in missing.json()["error"]
    bad = client.get("/api/review/2025-13")
    assert bad.status_code == 400
    code, _, err = cli("review", "--month", "2025-13", "--json", "--db", store_url)
    assert code == 2
    assert same_error(bad.json(), err)
    assert "\n" not in bad.json()["error"]


def test_profit_is_the_cli_json(client, store_url):
    code, stdout, err = cli("profit", "--month", MONTH, "--view", "ttm", "--json", "--db", store_url)
    assert code == 0, err
    got = all_pages(client, "/api/profit", {"month": MONTH, "view": "ttm"}, PROFIT_LISTS)
    assert got == json.loads(stdout)  # the document the command stored, read back page by page
    bad = client.get("/api/profit", params={"view": "week"})
    assert bad.status_code == 400
    code, _, err = cli("profit", "--view", "week", "--db", store_url)
    assert same_error(bad.json(), err)


def test_customer_profile_matches_the_store_and_the_profitability_ledger(client, store_url, config):
    from keepwise.value.profitability import latest_month, profitability

    code, _, err = cli("profit", "--view", "ttm", "--db", store_url)  # stores the rows the profile reads
    assert code == 0, err
    backend = connect(store_url)
    try:
        df = profitability(backend, latest_month(backend), view="ttm", config=config)
        top = df.iloc[0]
        cid = str(top["customer_id"])
        n_orders, revenue = backend.con.execute(
            "SELECT count(DISTINCT order_id), sum(quantity * unit_price) FROM orders WHERE customer_id = ?",
            [cid],
        ).fetchone()
        n_incidents = backend.con.execute(
            "SELECT count(*) FROM incidents WHERE customer_id = ?", [cid]
        ).fetchone()[0]
        p_alive = backend.con.execute(
            "SELECT p_alive FROM review_p_alive WHERE review_month = ? AND customer_id = ?", [MONTH, cid]
        ).fetchone()
    finally:
        backend.disconnect()
    doc = client.get(f"/api/customers/{cid}").json()
    assert doc["customer_id"] == cid
    assert doc["orders"]["orders"] == n_orders
    assert Decimal(doc["orders"]["revenue"]) == revenue.quantize(Decimal("0.01"))
    assert doc["profit"]["tier"] == top["tier"] == "platinum"
    assert doc["profit"]["rank"] == 1
    assert Decimal(doc["profit"]["profit"]) == top["profit"].quantize(Decimal("0.01"))
    assert len(doc["incidents"]) == n_incidents
    assert doc["review_month"] == MONTH
    assert doc["p_alive"]["p_alive"] == pytest.approx(p_alive[0], abs=1e-4)
    assert client.get("/api/customers/NOPE").status_code == 404
    assert client.get("/api/customers/NOPE").json() == {"error": "unknown customer id 'NOPE'"}


def test_customer_profile_lists_the_review_warnings(client, reviews):
    warned = reviews[MONTH]["warnings"][0]
    doc = client.get(f"/api/customers/{warned['customer_id']}").json()
    kinds = {w["kind"]: w for w in doc["warnings"]}
    assert kinds[warned["kind"]]["evidence"] == warned["evidence"]
    assert kinds[warned["kind"]]["value_at_risk"] == warned["value_at_risk"]


def _customer_with_incident(store_url: str) -> tuple[str, str]:
    backend = connect(store_url)
    try:
        row = backend.con.execute(
            "SELECT customer_id, incident_id FROM incidents ORDER BY opened_at DESC LIMIT 1"
        ).fetchone()
    finally:
        backend.disconnect()
    return str(row[0]), str(row[1])


def test_concession_is_the_cli_json(client, store_url):
    cid, incident = _customer_with_incident(store_url)
    code, stdout, err = cli("concession", cid, "--cost", "150", "--incident", incident, "--json",
                            "--db", store_url)  # fmt: skip
    assert code == 0, err
    got = client.post("/api/concession", json={"customer_id": cid, "cost": "150", "incident": incident})
    assert got.status_code == 200
    api, printed = got.json(), json.loads(stdout)
    # each answer is logged as its own decision (keepwise.decisions.concession_log); all else is equal
    assert api.pop("decision_id") != printed.pop("decision_id")
    assert api == printed
    assert api["decision"] in ("approve", "counter", "refuse")
    assert api["reasons"]


def test_concession_errors_are_the_cli_messages(client, store_url):
    cid, _ = _customer_with_incident(store_url)
    bad = client.post("/api/concession", json={"customer_id": cid, "cost": "lots"})
    assert bad.status_code == 400
    code, _, err = cli("concession", cid, "--cost", "lots", "--db", store_url)
    assert code == 2
    assert same_error(bad.json(), err)
    negative = client.post("/api/concession", json={"customer_id": cid, "cost": "-5"})
    assert negative.status_code == 400
    # a domain error (BadInput) names the field as the API calls it, not the CLI's option (issue 14)
    assert negative.json() == {"error": "cost: must be an amount of at least 0, not -5", "field": "cost"}
    unknown = client.post("/api/concession", json={"customer_id": "NOPE", "cost": "10"})
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "unknown customer id 'NOPE'"}
    not_json = client.post("/api/concession", content=b"cost=10", headers={"content-type": "text/plain"})
    assert (
        not_json.status_code == 415
    )  # a body not declared JSON: what a cross-site HTML form sends (issue 21)
    assert not_json.json() == {"error": "send the request body as JSON (Content-Type: application/json)"}
    not_object = client.post("/api/concession", json=["cost", 10])
    assert not_object.status_code == 400
    assert not_object.json() == {"error": "the request body must be a JSON object"}


def test_winback_is_the_cli_json(client, store_url):
    code, stdout, err = cli("winback", "--month", MONTH, "--top", "5", "--json", "--db", store_url)
    assert code == 0, err
    got = all_pages(client, "/api/winback", {"month": MONTH, "top": 5}, WINBACK_LISTS)
    assert got == json.loads(stdout)
    assert len(got["ranked"]) <= 5
    bad = client.get("/api/winback", params={"top": -1})
    assert bad.status_code == 400
    code, _, err = cli("winback", "--top", "-1", "--db", store_url)
    assert same_error(bad.json(), err)


def test_conjoint_without_a_study_is_404(client):
    got = client.get("/api/conjoint")
    assert got.status_code == 404
    assert "no conjoint study" in got.json()["error"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token-0123456789"},
        {"Authorization": TOKEN},
        {"Authorization": "Bearer"},
    ],
)
def test_api_refuses_a_missing_or_wrong_token(client, headers):
    client.headers.pop("Authorization")
    got = client.get("/api/status", headers=headers)
    assert got.status_code == 401
    assert got.headers["www-authenticate"] == "Bearer"
    assert set(got.json()) == {"error"}


def test_unknown_api_route_has_the_error_shape(client):
    got = client.get("/api/nothing-here")
    assert got.status_code == 404
    assert set(got.json()) == {"error"}


def test_an_internal_failure_keeps_the_error_shape(tmp_path, config, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    url = f"duckdb:///{tmp_path}/broken.duckdb"
    backend = connect(url)
    backend.con.execute(
        "CREATE TABLE review_document (review_month VARCHAR, written_at VARCHAR, document VARCHAR)"
    )
    backend.con.execute("INSERT INTO review_document VALUES ('2025-11', '2025-12-01', 'not json')")
    backend.disconnect()
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    with TestClient(create_app(url, config), raise_server_exceptions=False) as c:
        got = c.get("/api/review", headers={"Authorization": f"Bearer {TOKEN}"})
        empty = c.get("/api/customers/C1", headers={"Authorization": f"Bearer {TOKEN}"})
    assert got.status_code == 500
    assert got.json()["error"].startswith("internal error: JSONDecodeError: ")
    assert got.json()["error"].endswith("(please report it)")
    assert empty.status_code == 404 and empty.json() == {"error": "unknown customer id 'C1'"}


def test_a_model_the_data_cannot_support_is_a_422_with_what_to_check(tmp_path, config, monkeypatch):
    from fastapi.testclient import TestClient

    import keepwise.web.stored as stored_documents
    from keepwise.exceptions import ConvergenceError
    from keepwise.web import create_app

    message = "BetaGeoModel did not converge: a parameter ran to the edge. Things to check: (1)"

    def no_fit(*args, **kwargs):
        raise ConvergenceError(message)

    monkeypatch.setattr(stored_documents, "profit_page", no_fit)  # what /api/profit reads
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    url = f"duckdb:///{tmp_path}/empty.duckdb"
    connect(url).disconnect()
    with TestClient(create_app(url, config), raise_server_exceptions=False) as c:
        got = c.get("/api/profit", headers={"Authorization": f"Bearer {TOKEN}"})
    assert got.status_code == 422
    assert got.json() == {"error": message}
