"""The overview, warnings, lost and settings pages and their /api/v1 twins against ``keepwise review --json``.

Every figure a page shows is checked against what the CLI printed for the same month on the simulated
business of ``conftest.py`` (its headline numbers, its lists, its sums), and the API's lists, put back
together page by page, against the CLI's lists.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from decimal import Decimal

import pytest

from keepwise.money import shown

from .conftest import MONTH, SECRET, TOKEN, all_pages


def _sign_in(client) -> None:
    client.headers.pop("Authorization", None)
    got = client.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False)
    assert got.status_code == 303


def _card(page: str, card_id: str) -> str:
    """The big figure of the overview's card ``card_id``."""
    found = re.search(rf'id="{card_id}"><div class="label">[^<]*</div><div class="big">([^<]*)</div>', page)
    assert found, card_id
    return found.group(1)


def test_overview_headline_figures_are_the_cli_figures(client, reviews):
    doc = reviews[MONTH]
    _sign_in(client)
    page = client.get("/", params={"month": MONTH}).text
    warned = {w["customer_id"] for w in doc["warnings"]}
    lost = doc["lost"]
    assert _card(page, "card-warnings") == f"{len(warned):,}"
    assert _card(page, "card-lost") == f"{lost['count']:,}"
    assert _card(page, "card-lost-margin") == shown(Decimal(lost["annual_margin_lost"]), "USD", whole=True)
    assert _card(page, "card-value-lost") == shown(
        Decimal(lost["lifetime_value_lost"]["discounted"]), "USD", whole=True
    )
    assert _card(page, "card-replacement") == shown(
        Decimal(lost["replacement_cost"]["total"]), "USD", whole=True
    )
    ttm = doc["profitability"]["ttm"]["totals"]
    assert _card(page, "card-profit") == shown(Decimal(ttm["profit"]), "USD", whole=True)
    assert _card(page, "card-repeat") == f"{100 * (1 - doc['metrics']['no_purchase_rate']):.0f}%"
    at_risk = sum(Decimal(w["value_at_risk"]) for w in doc["warnings"])
    assert f"{shown(at_risk, 'USD', whole=True)} of margin a year at risk" in page
    for div in ("fig-warnings", "fig-lost-months", "fig-reasons", "fig-cohorts", "fig-trend"):
        assert f'id="{div}"' in page
    assert 'id="lacks"' not in page  # the simulated business records every input
    assert '<link rel="stylesheet" href="/static/keepwise.css">' in page
    assert "<style>" not in page.split("</head>")[0]  # the page's look is the package's stylesheet


def test_overview_whale_curve_needs_the_stored_twelve_month_profit(client, reviews):
    from .conftest import cli

    _sign_in(client)
    code, _, err = cli("profit", "--month", MONTH, "--view", "ttm", "--db", client.app.state.keepwise.db)
    assert code == 0, err
    page = client.get("/", params={"month": MONTH}).text
    assert 'id="fig-whale"' in page
    october = client.get("/", params={"month": "2025-10"}).text  # no twelve-month profit stored for it
    assert 'id="fig-whale"' not in october
    assert "keepwise profit --view ttm --month 2025-10" in october


def test_lost_by_month_chart_counts_the_cli_list(reviews):
    from keepwise.web.pages.reviewed import lost_by_month

    doc = reviews[MONTH]
    months, by_reason = lost_by_month(doc)
    expected = Counter((r["lost_at"][:7], r["reason"]) for r in doc["lost"]["customers"])
    assert months[-1] == MONTH and months == sorted(months) and len(set(months)) == len(months)
    assert list(by_reason) == [r for r in doc["lost"]["by_reason"] if doc["lost"]["by_reason"][r]]
    for reason, counts in by_reason.items():
        assert sum(counts) == doc["lost"]["by_reason"][reason]
        assert counts == [expected[(m, reason)] for m in months]


def test_warnings_api_is_the_cli_list_sorted_and_summed(client, reviews):
    doc = reviews[MONTH]
    got = all_pages(client, "/api/v1/warnings", {"month": MONTH}, ("warnings",), per_page=7)
    ranked = sorted(doc["warnings"], key=lambda w: (-Decimal(w["value_at_risk"]), w["customer_id"]))
    assert got["warnings"] == ranked
    assert got["customers"] == len({w["customer_id"] for w in doc["warnings"]})
    assert Decimal(got["value_at_risk"]) == sum(Decimal(w["value_at_risk"]) for w in doc["warnings"])
    for kind, k in got["by_kind"].items():
        of_kind = [w for w in doc["warnings"] if w["kind"] == kind]
        assert k["count"] == len(of_kind)
        assert Decimal(k["value_at_risk"]) == sum((Decimal(w["value_at_risk"]) for w in of_kind), Decimal(0))
    assert got["money_basis"] == "margin" and got["profit_known"] is True
    kind = doc["warnings"][0]["kind"]
    smallest = all_pages(client, "/api/v1/warnings", {"kind": kind, "sort": "value_at_risk"}, ("warnings",))
    assert [w["kind"] for w in smallest["warnings"]] == [kind] * got["by_kind"][kind]["count"]
    values = [Decimal(w["value_at_risk"]) for w in smallest["warnings"]]
    assert values == sorted(values)


def test_warnings_page_ranks_links_and_pages(client, reviews):
    doc = reviews[MONTH]
    _sign_in(client)
    page = client.get("/warnings", params={"per_page": 5})
    assert page.status_code == 200
    rows = page.text.split('id="warnings-table"')[1].split("</table>")[0].split("<tr>")[2:]
    ranked = sorted(doc["warnings"], key=lambda w: (-Decimal(w["value_at_risk"]), w["customer_id"]))
    assert len(rows) == 5
    for row, w in zip(rows, ranked, strict=False):
        assert f'<a href="/customers/{w["customer_id"]}">{w["customer_id"]}</a>' in row
        assert f'<td class="num">{shown(Decimal(w["value_at_risk"]), "USD")}</td>' in row
    assert 'rel="next" href="/warnings?page=2&amp;per_page=5"' in page.text
    bad = client.get("/warnings", params={"sort": "largest"})
    assert bad.status_code == 400 and "sort: is not one of" in bad.text


def test_lost_api_and_page_are_the_cli_ledger_by_reason(client, reviews):
    doc = reviews[MONTH]
    lost = doc["lost"]
    got = all_pages(client, "/api/v1/lost", {"month": MONTH}, ("customers",), per_page=50)
    assert sorted(got["customers"], key=lambda r: r["customer_id"]) == sorted(
        lost["customers"], key=lambda r: r["customer_id"]
    )
    margins = [Decimal(r["annual_margin"]) for r in got["customers"]]
    assert margins == sorted(margins, reverse=True)
    assert {r["reason"]: r["count"] for r in got["by_reason"]} == lost["by_reason"]
    assert sum(Decimal(r["annual_margin"]) for r in got["by_reason"]) == Decimal(lost["annual_margin_lost"])
    per = Decimal(lost["replacement_cost"]["per_customer"])
    for r in got["by_reason"]:
        assert Decimal(r["replacement_cost"]) == (per * r["count"]).quantize(Decimal("0.01"))
    reason = next(iter(lost["by_reason"]))
    one = all_pages(client, "/api/v1/lost", {"reason": reason}, ("customers",))
    assert len(one["customers"]) == lost["by_reason"][reason]
    assert {r["reason"] for r in one["customers"]} == {reason}
    _sign_in(client)
    page = client.get("/lost", params={"month": MONTH})
    assert page.status_code == 200
    table = page.text.split('id="by-reason"')[1].split("</table>")[0]
    for r in got["by_reason"]:
        assert (
            f'<td class="num">{r["count"]:,}</td><td class="num">{shown(Decimal(r["annual_margin"]), "USD")}'
            in table
        )
    assert 'id="fig-lost-months"' in page.text and 'id="fig-reasons"' in page.text
    assert 'id="no-exits"' not in page.text


def test_settings_show_values_defaults_sources_and_hide_the_token(store_url, reviews, tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.config import load_config
    from keepwise.web import create_app

    toml = tmp_path / "keepwise.toml"
    toml.write_text(f'[review]\ninactivity_days = 200\n\n[web]\ntoken = "{TOKEN}"\n', encoding="utf-8")
    config = load_config(toml)
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    with TestClient(create_app(store_url, config)) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        doc = c.get("/api/v1/settings").json()
        page = c.get("/settings")
    rows = {r["name"]: r for r in doc["settings"]}
    assert doc["file"] == str(toml) and doc["set_in_file"] == 2
    days = rows["review.inactivity_days"]
    assert (days["value"], days["default"], days["from"], days["is_default"]) == (
        200,
        180,
        "keepwise.toml",
        False,
    )
    assert days["source"] and days["meaning"]
    assert rows["web.token"]["value"] == "set" and rows["web.token"]["default"] == "not set"
    rate = rows["clv.discount_rate"]
    assert rate["is_default"] and rate["value"] == rate["default"] == 0.1
    assert len([r for r in doc["settings"] if r["name"] == "clv.discount_rate"]) == 1  # shared: listed once
    assert page.status_code == 200
    assert TOKEN not in page.text and TOKEN not in str(doc)
    row = page.text.split('id="setting-review.inactivity_days"')[1].split("</tr>")[0]
    assert "<td>200</td><td>180</td>" in row and "the business (keepwise.toml)" in row
    assert page.text.count('class="set"') == 2


def test_every_route_of_the_first_api_answers_under_v1_the_same(client, reviews):
    for path, params in (("review", {}), ("reviews", {}), ("status", {}), ("wins", {})):
        old, new = client.get(f"/api/{path}", params=params), client.get(f"/api/v1/{path}", params=params)
        assert old.status_code == new.status_code == 200, path
        body_old, body_new = old.json(), new.json()
        for body in (body_old, body_new):
            if isinstance(body, dict) and "pagination" in body:
                body.pop("pagination")
        assert body_old == body_new, path
    paged = client.get("/api/v1/review", params={"per_page": 3}).json()
    assert paged["pagination"]["next"] == "/api/v1/review?page=2&per_page=3"


def test_openapi_and_docs_list_the_v1_routes_behind_the_sign_in(client):
    doc = client.get("/api/v1/openapi.json").json()
    paths = set(doc["paths"])
    for path in ("review", "warnings", "lost", "settings", "profit", "winback", "outreach", "concession"):
        assert f"/api/v1/{path}" in paths
    assert "/api/v1/wins" in paths and "/api/v1/conjoint" in paths
    assert (
        "/api/v1/outreach/{customer_id}/done" in paths or "/api/v1/outreach/{customer_id:path}/done" in paths
    )
    assert all(p.startswith("/api/v1/") for p in paths)  # the pages and the first API are not in it
    assert client.get("/api/openapi.json").json()["paths"] == doc["paths"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and "/api/v1/warnings" in docs.text
    client.headers.pop("Authorization")
    assert client.get("/api/v1/openapi.json").status_code == 401
    assert client.get("/api/v1/docs").status_code == 401


def test_the_stylesheet_is_served_from_the_package_to_everyone(client):
    client.headers.pop("Authorization")
    css = client.get("/static/keepwise.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    assert "td.num" in css.text and "@media print" in css.text and "max-width: 640px" in css.text
    login = client.get("/login")
    assert '<link rel="stylesheet" href="/static/keepwise.css">' in login.text


@pytest.mark.parametrize("path", ["/", "/warnings", "/lost"])
def test_the_review_pages_say_which_command_stores_a_month_never_reviewed(client, reviews, path):
    _sign_in(client)
    got = client.get(path, params={"month": "2024-03"})
    assert got.status_code == 404 and "keepwise review --month 2024-03" in got.text


def test_pages_check_their_role_settings_for_an_admin(client, reviews, monkeypatch):
    from keepwise.web import access
    from keepwise.web.access import Role, User

    monkeypatch.setattr(access, "current_user", lambda request: User("mia", Role.MANAGER))
    assert client.get("/warnings").status_code == 200
    assert client.get("/api/v1/lost").status_code == 200
    assert client.get("/settings").status_code == 403
    assert client.get("/api/v1/settings").status_code == 403
    monkeypatch.setattr(access, "current_user", lambda request: User("rob", Role.REP))
    for path in ("/", "/warnings", "/lost", "/api/v1/warnings", "/api/v1/review", "/api/review"):
        assert client.get(path).status_code == 403, path
    assert client.get("/concession").status_code == 200


def test_a_store_whose_config_sets_a_margin_rate_says_margin_is_estimated():
    from keepwise.web.pages.reviewed import known

    doc = {
        "notes": [{"input": "orders.unit_cost", "missing": "empty on all 5 rows", "instead": "..."}],
        "profitability": {"assumptions": [{"name": "value.default_margin_rate", "value": "0.3"}]},
    }
    k = known(doc)
    assert k.margin_known and k.margin_word == "margin" and "estimated at 30% of revenue" in k.margin_caveat
    assert not known({**doc, "profitability": {"assumptions": []}}).margin_known
    assert replace(k, staff_time=False).profit_known is False
