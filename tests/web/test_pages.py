"""Dashboard pages through the ASGI app: sign-in, and the figures each page shows against the store's."""

from __future__ import annotations

from decimal import Decimal

import pytest
from markupsafe import escape

from keepwise.store import connect

from .conftest import MONTH, TOKEN, cli, keep_csrf


@pytest.fixture
def browser_client(client):
    """The same app without the API header, as a browser would arrive."""
    client.headers.pop("Authorization")
    return client


def sign_in(client, token: str = TOKEN, next_path: str = "/"):
    got = client.post("/login", data={"token": token, "next": next_path}, follow_redirects=False)
    keep_csrf(client)  # the forms carry the session's CSRF token
    return got


def test_pages_need_a_session_and_the_login_form_sets_one(browser_client):
    c = browser_client
    first = c.get("/profit?month=2025-11", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=/profit%3Fmonth%3D2025-11"
    wrong = sign_in(c, "wrong-token-0123456789abc")
    assert wrong.status_code == 401 and "That token is not valid." in wrong.text
    assert "keepwise_session" not in c.cookies
    right = sign_in(c, next_path="/profit")
    assert right.status_code == 303 and right.headers["location"] == "/profit"
    cookie = c.cookies["keepwise_session"]
    assert TOKEN not in cookie  # a signed session, never the token itself
    assert c.get("/", follow_redirects=False).status_code == 200
    c.cookies.clear()
    c.cookies.set("keepwise_session", cookie)
    assert c.get("/", follow_redirects=False).status_code == 200  # the cookie alone is the session
    c.cookies.clear()
    c.cookies.set("keepwise_session", cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB"))
    assert c.get("/", follow_redirects=False).status_code == 303  # a tampered cookie is refused
    assert c.get("/api/status").status_code == 401  # the cookie is not an API credential


def test_sign_in_never_redirects_off_site(browser_client):
    assert sign_in(browser_client, next_path="//evil.example/").headers["location"] == "/"
    assert sign_in(browser_client, next_path="https://evil.example/").headers["location"] == "/"


def test_overview_shows_the_stored_review(browser_client, reviews):
    c = browser_client
    sign_in(c)
    page = c.get("/")
    assert page.status_code == 200
    doc = reviews[MONTH]
    for line in doc["headlines"].values():
        assert line.replace("&", "&amp;").replace("'", "&#39;") in page.text
    top = max(doc["warnings"], key=lambda w: Decimal(w["value_at_risk"]))
    first_row = page.text.split('id="warnings-table"')[1].split("</tr>")[1]
    assert top["customer_id"] in first_row  # ranked by value at risk
    for div in ("fig-warnings", "fig-reasons", "fig-cohorts", "fig-trend"):
        assert f'id="{div}"' in page.text
    assert '<script src="/static/plotly.min.js"></script>' in page.text
    js = c.get("/static/plotly.min.js")
    assert js.status_code == 200 and len(js.content) > 1_000_000  # the package's bundle, served offline
    october = c.get("/?month=2025-10")
    assert "Retention review: 2025-10" in october.text


def test_profit_page_shows_the_tiers_and_whale_curve(browser_client, store_url, config):
    from keepwise.value import customer_ledger, whale_curve
    from keepwise.value.review_section import profit_document

    code, _, err = cli("profit", "--month", MONTH, "--view", "ttm", "--db", store_url)
    assert code == 0, err
    backend = connect(store_url)
    try:
        doc = profit_document(backend, MONTH, view="ttm", config=config, customers=False)
        _, headline = whale_curve(customer_ledger(backend, MONTH, view="ttm", config=config))
    finally:
        backend.disconnect()
    sign_in(browser_client)
    page = browser_client.get(f"/profit?month={MONTH}")
    assert page.status_code == 200
    assert headline.sentence.replace("'", "&#39;") in page.text
    tiers = page.text.split('id="tiers-table"')[1].split("</table>")[0]
    for t in doc["tiers"]:
        assert f'<td>{t["tier"]}</td><td class="num">{t["customers"]}</td>' in tiers
    assert 'id="fig-whale"' in page.text


def test_customer_page_and_search(browser_client, client):
    sign_in(browser_client)
    found = browser_client.get("/customers", params={"id": "C0001"}, follow_redirects=False)
    assert found.headers["location"] == "/customers/C0001"
    page = browser_client.get("/customers/C0001")
    assert page.status_code == 200
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    profile = client.get("/api/customers/C0001").json()
    assert f'id="orders">{profile["orders"]["orders"]}<' in page.text
    if profile["profit"]:
        assert f'id="tier">{profile["profit"]["tier"]}<' in page.text
    missing = browser_client.get("/customers/NOPE")
    assert missing.status_code == 404 and "unknown customer id &#39;NOPE&#39;" in missing.text


def test_concession_form_shows_the_decision_and_reasons(browser_client, client):
    sign_in(browser_client)
    blank = browser_client.get("/concession")
    assert blank.status_code == 200 and 'id="concession-form"' in blank.text
    page = browser_client.post("/concession", data={"customer_id": "C0001", "cost": "120"})
    assert page.status_code == 200
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    advice = client.post("/api/concession", json={"customer_id": "C0001", "cost": "120"}).json()
    assert f'id="decision">{advice["decision"].upper()}<' in page.text
    assert advice["reasons"]
    for reason in advice["reasons"]:
        assert str(escape(reason)) in page.text
    bad = browser_client.post("/concession", data={"customer_id": "C0001", "cost": "lots"})
    assert bad.status_code == 400
    assert "cost: must be an amount such as 200.00, not &#39;lots&#39;" in bad.text
    assert "--cost" not in bad.text  # the page speaks of its field, not of the CLI's option
    # another site's page cannot post an answer (each one is logged)
    foreign = browser_client.post(
        "/concession",
        data={"customer_id": "C0001", "cost": "120"},
        headers={"Origin": "https://elsewhere.example"},
    )
    assert foreign.status_code == 403  # refused before the form is read (keepwise.web.csrf, issue 21)
    assert "a page of another site cannot change anything here" in foreign.text


def test_winback_page_lists_the_ranking(browser_client, client, store_url):
    code, _, err = cli("winback", "--db", store_url)  # stores the ranking of the default month
    assert code == 0, err
    sign_in(browser_client)
    page = browser_client.get("/winback")
    assert page.status_code == 200
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    doc = client.get("/api/winback", params={"top": 25}).json()
    table = page.text.split('id="winback-table"')[1].split("</table>")[0]
    assert table.count("<tr>") == 1 + len(doc["ranked"])
    if doc["ranked"]:
        assert doc["ranked"][0]["customer_id"] in table.split("</tr>")[1]


def test_conjoint_page_says_no_study_yet(browser_client):
    sign_in(browser_client)
    page = browser_client.get("/conjoint")
    assert page.status_code == 200 and 'id="no-study"' in page.text
