"""The customers list and the customer page against the CLI's JSON and the store's own sums (issue 18).

The simulated business of tests/web/conftest.py (600 customers, reviewed for two months) is copied, and on
the copy ``keepwise profit --view ttm`` (two months) and ``keepwise clv --out`` run; every figure the list and
the page show must equal what those commands printed, and orders counts and totals a direct sum of the
orders table. Search and sort are checked against the same rows sorted and filtered here in Python.
"""

from __future__ import annotations

import json
import shutil
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from .conftest import MONTH, TOKEN, all_pages, cli


@pytest.fixture(scope="module")
def stored(store_url: str, reviews, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A copy of the reviewed store on which profit (ttm, two months) and clv ran: their JSON and CSV."""
    folder = tmp_path_factory.mktemp("customers")
    path = folder / "store.duckdb"
    shutil.copy(store_url.removeprefix("duckdb:///"), path)
    con = duckdb.connect(str(path))
    for table in ("profit_ttm", "clv"):  # what other tests of this session may have stored
        con.execute(f"DROP TABLE IF EXISTS {table}")
    con.close()
    url = f"duckdb:///{path}"
    profit = {}
    for month in (["--month", MONTH], []):  # the last complete month, then the latest (the default)
        code, out, err = cli("profit", "--view", "ttm", *month, "--json", "--db", url)
        assert code == 0, err
        profit[json.loads(out)["month"]] = json.loads(out)
    assert next(iter(profit)) == MONTH and len(profit) == 2
    code, out, err = cli("clv", "--json", "--out", str(folder / "clv.csv"), "--db", url)
    assert code == 0, err
    clv = pd.read_csv(folder / "clv.csv", dtype={"customer_id": str, "clv": str})
    return {
        "url": url,
        "path": path,
        "profit": profit,
        "latest": list(profit)[-1],
        "clv_doc": json.loads(out),
        "clv": clv,
    }


@pytest.fixture(scope="module")
def api(stored: dict):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from keepwise.config import Config, WebAssumptions
    from keepwise.web import create_app

    config = replace(Config(), web=replace(WebAssumptions(), token=TOKEN))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("KEEPWISE_WEB_TOKEN", raising=False)
        with TestClient(create_app(stored["url"], config)) as c:
            assert (
                c.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False).status_code
                == 303
            )
            c.headers["Authorization"] = f"Bearer {TOKEN}"
            yield c


def sql(stored: dict, statement: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(stored["path"]), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        return con.execute(statement, params or []).fetchall()
    finally:
        con.close()


def whole(api, **params) -> list[dict]:
    return all_pages(api, "/api/v1/customers", params, ["customers"])["customers"]


def test_list_figures_equal_the_cli_json(api, stored: dict):
    rows = {r["customer_id"]: r for r in whole(api)}
    doc = stored["profit"][stored["latest"]]
    assert len(rows) == 600
    assert doc["customers"], "the profit run found no customer"
    for c in doc["customers"]:
        row = rows[c["customer_id"]]
        assert (row["profit"], row["tier"], row["rank"], row["currency"]) == (
            c["profit"],
            c["tier"],
            c["rank"],
            c["currency"],
        )
    in_profit = {c["customer_id"] for c in doc["customers"]}
    assert all(r["profit"] is None and r["tier"] is None for i, r in rows.items() if i not in in_profit)
    clv = stored["clv"]
    assert len(clv) == stored["clv_doc"]["n_customers"]
    for cid, value in zip(clv["customer_id"], clv["clv"], strict=True):
        stored_value = Decimal(value).quantize(Decimal("0.0001"))  # the clv table keeps 4 places
        assert rows[cid]["value"] == str(stored_value.quantize(Decimal("0.01"), ROUND_HALF_UP)), cid
    p_alive = dict(
        sql(stored, "SELECT customer_id, p_alive FROM review_p_alive WHERE review_month = ?", [MONTH])
    )
    for cid, row in rows.items():
        if cid in p_alive:
            assert row["p_alive"] == pytest.approx(p_alive[cid], abs=5e-5)
        else:
            assert row["p_alive"] is None
    first = whole(api)[0]
    listed = api.get("/api/v1/customers").json()
    assert (
        listed["sources"]["profit"]["month"] == stored["latest"]
        and listed["sources"]["p_alive"]["month"] == MONTH
    )
    assert listed["notes"] == []
    page = api.get("/customers").text
    assert f'<tr data-id="{first["customer_id"]}">' in page
    assert f'<td class="num profit">${Decimal(first["profit"]):,.2f}</td>' in page


def test_orders_count_and_total_equal_the_orders_table(api, stored: dict):
    counts = {
        cid: (n, last)
        for cid, n, last in sql(
            stored, "SELECT customer_id, count(DISTINCT order_id), max(ordered_at) FROM orders GROUP BY 1"
        )
    }
    rows = whole(api, sort="last_order")
    for r in rows:
        last = counts.get(r["customer_id"], (0, None))[1]
        assert r["last_order"] == (None if last is None else last.isoformat())
    assert all(r["last_order"] is None for r in whole(api, sort="value"))  # read only when sorted by it
    busiest = max(counts, key=lambda c: counts[c][0])
    total, lines = sql(
        stored, "SELECT sum(quantity * unit_price), count(*) FROM orders WHERE customer_id = ?", [busiest]
    )[0]
    doc = all_pages(api, f"/api/v1/customers/{busiest}", {}, ["timeline.orders"], per_page=7)
    assert doc["orders"]["orders"] == counts[busiest][0] == len(doc["timeline"]["orders"])
    assert Decimal(doc["orders"]["revenue"]) == total.quantize(Decimal("0.01"))
    bought = sum(Decimal(o["purchases"]) + Decimal(o["returns"]) for o in doc["timeline"]["orders"])
    by_month = sum(Decimal(m["purchases"]) + Decimal(m["returns"]) for m in doc["timeline"]["months"])
    assert bought == by_month == total.quantize(Decimal("0.01"))
    assert sum(o["lines"] for o in doc["timeline"]["orders"]) == lines
    dates = [o["ordered_at"] for o in doc["timeline"]["orders"]]
    assert dates == sorted(dates, reverse=True)


#: Each sort's figure straight from the stored tables (4-place money, P(alive) unrounded): a second ranking.
RAW = {
    "profit": "SELECT customer_id, profit FROM profit_ttm WHERE month = (SELECT max(month) FROM profit_ttm)",
    "tier": "SELECT customer_id, -rank FROM profit_ttm WHERE month = (SELECT max(month) FROM profit_ttm)",
    "value": "SELECT customer_id, clv FROM clv",
    "p_alive": "SELECT customer_id, p_alive FROM review_p_alive WHERE review_month = ?",
    "last_order": "SELECT customer_id, max(ordered_at) FROM orders GROUP BY 1",
    "id": "SELECT customer_id, customer_id FROM customers",
}


@pytest.mark.parametrize("sort", list(RAW))
@pytest.mark.parametrize("order", ["desc", "asc"])
def test_each_sort_orders_the_whole_list(api, stored: dict, sort: str, order: str):
    rows = whole(api, sort=sort, order=order)
    raw = dict(sql(stored, RAW[sort], [MONTH] if "?" in RAW[sort] else []))
    ids = sorted(r[0] for r in sql(stored, "SELECT customer_id FROM customers"))
    descending = order == "desc"
    if sort == "id":
        expected = sorted(ids, reverse=descending)
    else:
        known = [i for i in ids if raw.get(i) is not None]
        known.sort(key=lambda i: raw[i], reverse=descending)  # stable: ties stay in id order
        expected = known + [i for i in ids if raw.get(i) is None]
    assert [r["customer_id"] for r in rows] == expected
    assert len(rows) == 600


def test_tier_order_is_platinum_first(api):
    tiers = [r["tier"] for r in whole(api, sort="tier") if r["tier"]]
    order = ["platinum", "gold", "iron", "lead"]
    assert [order.index(t) for t in tiers] == sorted(order.index(t) for t in tiers)
    assert tiers[0] == "platinum"


def test_search_by_id_name_and_email_any_case(api, stored: dict):
    customers = sql(stored, "SELECT customer_id, name, email FROM customers")
    name_part = customers[17][1].split()[-1][1:4].upper()
    needles = (name_part, "c000", "EXAMPLE", customers[3][2][:5].upper(), customers[42][0], "%", "_")
    for needle in needles:  # "%" and "_" are the text itself, never a LIKE pattern
        want = sorted(
            cid
            for cid, name, email in customers
            if any(needle.lower() in (v or "").lower() for v in (cid, name, email))
        )
        got = whole(api, q=needle, sort="id")
        assert [r["customer_id"] for r in got] == want, needle
        first = api.get("/api/v1/customers", params={"q": needle, "per_page": 5}).json()
        assert first["pagination"]["total"] == len(want) and first["query"] == needle
    nothing = api.get("/api/v1/customers", params={"q": "no such customer"}).json()
    assert nothing["customers"] == [] and nothing["pagination"]["total"] == 0
    page = api.get("/customers", params={"q": "no such customer"})
    assert page.status_code == 200 and 'id="none"' in page.text


def test_header_box_opens_a_known_id_and_searches_otherwise(api):
    opened = api.get("/customers", params={"id": "C0001"}, follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == "/customers/C0001"
    searched = api.get("/customers", params={"id": "c000"}, follow_redirects=False)
    assert searched.status_code == 200 and 'data-id="C0001"' in searched.text


def test_pagination_boundaries(api):
    first = api.get("/api/v1/customers", params={"per_page": 7, "sort": "id"}).json()
    pg = first["pagination"]
    assert (pg["page"], pg["per_page"], pg["total"], pg["pages"], pg["prev"]) == (1, 7, 600, 86, None)
    last = api.get("/api/v1/customers", params={"per_page": 7, "page": 86, "sort": "id"}).json()
    assert len(last["customers"]) == 600 - 85 * 7 and last["pagination"]["next"] is None
    past = api.get("/api/v1/customers", params={"per_page": 7, "page": 87}).json()
    assert past["customers"] == [] and past["pagination"]["total"] == 600
    ids = [r["customer_id"] for r in whole(api, sort="id")]
    assert len(set(ids)) == 600 and ids == sorted(ids)
    assert first["pagination"]["next"] == "/api/v1/customers?sort=id&page=2&per_page=7"
    bad_inputs = [({"page": 0}, "page"), ({"per_page": 1001}, "per_page"), ({"sort": "x"}, "sort")]
    for bad, field in [*bad_inputs, ({"order": "up"}, "order"), ({"q": "x" * 201}, "q")]:
        got = api.get("/api/v1/customers", params=bad)
        assert got.status_code == 400 and got.json()["field"] == field, got.text
        assert api.get("/customers", params=bad).status_code == 400


def test_customer_page_sections_and_history(api, stored: dict):
    cid = stored["profit"][stored["latest"]]["customers"][0]["customer_id"]
    doc = api.get(f"/api/v1/customers/{cid}").json()
    months = [r["month"] for r in doc["profit_history"]]
    assert months == [MONTH, stored["latest"]]
    for r in doc["profit_history"]:
        cli_row = next(c for c in stored["profit"][r["month"]]["customers"] if c["customer_id"] == cid)
        assert (r["profit"], r["tier"], r["rank"]) == (cli_row["profit"], cli_row["tier"], cli_row["rank"])
    reviewed = [p for p in doc["p_alive_history"] if p["from"] == "keepwise review"]
    assert [p["month"] for p in reviewed] == ["2025-10", MONTH]
    assert reviewed[-1]["p_alive"] == doc["p_alive"]["p_alive"]
    assert any(p["from"].startswith("keepwise clv") for p in doc["p_alive_history"])
    assert doc["margin_basis"] == "measured"
    page = api.get(f"/customers/{cid}").text
    for section in (
        "timeline",
        "p-alive-history",
        "profit-history",
        "incidents",
        "exit",
        "consent",
        "messages",
    ):
        assert f'id="{section}"' in page
    assert 'id="fig-timeline"' in page and 'id="fig-p-alive"' in page
    assert f'id="tier">{doc["profit"]["tier"]}<' in page
    cli_top = stored["profit"][stored["latest"]]["customers"][0]
    assert doc["profit"]["profit"] == cli_top["profit"]
    assert f'<span id="profit">${Decimal(cli_top["profit"]):,.2f}</span>' in page
    value = Decimal(stored["clv"].set_index("customer_id").loc[cid, "clv"]).quantize(Decimal("0.0001"))
    assert f'id="clv">${value.quantize(Decimal("0.01"), ROUND_HALF_UP):,.2f}<' in page
    with_incident, n = sql(
        stored, "SELECT customer_id, count(*) FROM incidents GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    )[0]
    assert len(api.get(f"/api/v1/customers/{with_incident}").json()["incidents"]) == n
    exited, reason = sql(stored, "SELECT customer_id, reason_code FROM exits ORDER BY lost_at LIMIT 1")[0]
    exits = api.get(f"/api/v1/customers/{exited}").json()["exits"]
    assert exits and exits[0]["reason_code"] == reason
    consented, events = sql(
        stored, "SELECT customer_id, count(*) FROM consent GROUP BY 1 ORDER BY 2 DESC LIMIT 1"
    )[0]
    assert len(api.get(f"/api/v1/customers/{consented}").json()["consent_history"]) >= events
    missing = api.get("/api/v1/customers/NOPE")
    assert missing.status_code == 404 and missing.json() == {"error": "unknown customer id 'NOPE'"}


def _load_orders_only(url: str, tables: dict[str, pd.DataFrame]) -> None:
    import keepwise

    keepwise.load("customers", tables["customers"], db=url)
    keepwise.load("orders", tables["orders"], db=url)


def _client(url: str):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from keepwise.config import Config, WebAssumptions
    from keepwise.web import create_app

    config = replace(Config(), web=replace(WebAssumptions(), token=TOKEN))
    client = TestClient(create_app(url, config))
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client


def test_cdnow_orders_only_lists_and_shows_customers_with_notes(tmp_path: Path, monkeypatch):
    from keepwise.datasets import cdnow_tables

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)  # no keepwise.toml: no assumed margin rate
    url = f"duckdb:///{tmp_path / 'cdnow.duckdb'}"
    tables = cdnow_tables()
    _load_orders_only(url, tables)
    with _client(url) as c:
        listed = c.get("/api/v1/customers", params={"per_page": 5}).json()
        assert listed["pagination"]["total"] == len(tables["customers"])
        inputs = {n["input"]: n["instead"] for n in listed["notes"]}
        assert "keepwise profit --view ttm" in inputs["profit_ttm"] and "keepwise clv" in inputs["clv"]
        assert "keepwise review" in inputs["review_p_alive"] and "orders.unit_cost" in inputs
        assert listed["margin_known"] is False
        page = c.get("/customers")
        assert page.status_code == 200 and "keepwise profit --view ttm" in page.text
        top = c.get("/api/v1/customers", params={"sort": "last_order", "per_page": 1}).json()["customers"][0]
        orders = tables["orders"]
        mine = orders[orders["customer_id"] == top["customer_id"]]
        assert pd.Timestamp(top["last_order"]) == mine["ordered_at"].max()
        doc = all_pages(c, f"/api/v1/customers/{top['customer_id']}", {}, ["timeline.orders"], per_page=3)
        pairs = zip(mine["unit_price"], mine["quantity"], strict=True)
        total = sum((Decimal(str(p)) * Decimal(str(q)) for p, q in pairs), Decimal(0))
        assert Decimal(doc["orders"]["revenue"]) == total.quantize(Decimal("0.01"))
        assert doc["orders"]["orders"] == mine["order_id"].nunique() == len(doc["timeline"]["orders"])
        assert doc["margin_basis"] == "revenue"
        assert {"incidents", "exits", "consent", "orders.unit_cost"} <= {n["input"] for n in doc["notes"]}
        html = c.get(f"/customers/{top['customer_id']}").text
        assert "gross margin" not in html and 'id="margin-a-year"' not in html
        assert "no unit costs recorded: margin unknown" in html and "What the store lacks" in html
        assert html.count("Not in your data:") == 4  # costs, incidents, exits, consent, each in its section


def test_a_store_in_zloty_shows_no_dollar(tmp_path: Path, monkeypatch):
    from keepwise.datasets import simulate
    from keepwise.store import connect
    from keepwise.store.ingest import load_frame
    from keepwise.store.schema import load_order

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.chdir(tmp_path)
    url = f"duckdb:///{tmp_path / 'pln.duckdb'}"
    biz = simulate(customers=150, months=18, seed=3)
    backend = connect(url)
    for name in load_order(set(biz.tables)):
        frame = biz.tables[name]
        if "currency" in frame.columns:
            frame = frame.assign(currency=frame["currency"].where(frame["currency"].isna(), "PLN"))
        load_frame(backend, name, frame, source=name)
    backend.disconnect()
    code, out, err = cli("profit", "--view", "ttm", "--json", "--db", url)
    assert code == 0, err
    profit = json.loads(out)
    assert profit["currency"] == "PLN"
    with _client(url) as c:
        rows = c.get("/api/v1/customers").json()["customers"]
        assert {r["currency"] for r in rows if r["profit"] is not None} == {"PLN"}
        page = c.get("/customers").text
        assert "zł" in page and "$" not in page.replace("$(", "")
        top = profit["customers"][0]
        one = c.get(f"/customers/{top['customer_id']}").text
        assert "zł" in one and "US$" not in one and "$" not in one.split("<main>")[1].split("<script")[0]
