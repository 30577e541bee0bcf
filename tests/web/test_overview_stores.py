"""The review's pages on orders-only data (CDNOW) and on a business in złoty: no figure that cannot be true.

CDNOW has customers and orders only: no unit costs, staff time, exits or acquisition costs. The pages must
say so, call its "margin" revenue, leave profit and replacement cost unknown and draw no whale curve. A
store whose every amount is in PLN must show złoty everywhere, dollars nowhere (the charts' hover texts
included).
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from keepwise.config import Config, WebAssumptions
from keepwise.datasets import simulate
from keepwise.money import shown
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order

from .conftest import SECRET, TOKEN, cli


def _reviewed(url: str, folder: Path) -> dict:
    import json

    code, stdout, err = cli("review", "--json", "--html", str(folder / "review.html"), "--db", url)
    assert code == 0, err
    return dict(json.loads(stdout))


def _in_pln(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The same business with every currency PLN (amounts unchanged)."""
    out = {}
    for name, df in tables.items():
        df = df.copy()
        if "currency" in df.columns:
            df["currency"] = df["currency"].where(df["currency"].isna(), "PLN")
        out[name] = df
    return out


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, dict]]:
    """CDNOW (orders only) and a simulated business in PLN, each reviewed once by the CLI."""
    from tests.realdata.conftest import load_cdnow_store

    folder = tmp_path_factory.mktemp("overview-stores")
    cdnow = load_cdnow_store(f"duckdb:///{folder}/cdnow.duckdb")
    pln = f"duckdb:///{folder}/pln.duckdb"
    biz = _in_pln(simulate(customers=300, months=14, seed=11).tables)
    backend = connect(pln)
    try:
        for name in load_order(set(biz)):
            load_frame(backend, name, biz[name], source=name)
    finally:
        backend.disconnect()
    return {"cdnow": (cdnow, _reviewed(cdnow, folder)), "pln": (pln, _reviewed(pln, folder))}


@pytest.fixture
def open_client(monkeypatch):
    """A signed-in client of the app of a store (``open_client(url)``)."""
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    opened = []

    def make(url: str) -> TestClient:
        config = replace(Config(), web=replace(WebAssumptions(), token=TOKEN))
        c = TestClient(create_app(url, config)).__enter__()
        opened.append(c)
        assert c.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False).status_code == 303
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


def _visible(html: str) -> str:
    """The page's text a reader sees: scripts dropped."""
    return re.sub(r"<script.*?</script>", "", html, flags=re.S)


def test_cdnow_pages_say_what_orders_alone_cannot_tell(stores, open_client):
    url, doc = stores["cdnow"]
    c = open_client(url)
    page = c.get("/")
    assert page.status_code == 200
    text = page.text
    assert 'id="lacks"' in text
    for lacking in ("orders.unit_cost", "customers.acquisition_cost", "time_logs", "exits"):
        assert f"<li>{lacking}: " in text.split('id="lacks"')[1].split("</div>")[0]
    assert re.search(r'id="card-profit">.*?<div class="big">not known</div>', text)
    assert re.search(r'id="card-replacement">.*?<div class="big">unknown</div>', text)
    lost = doc["lost"]
    assert re.search(
        r'id="card-lost-margin"><div class="label">revenue a year they took</div><div class="big">'
        + re.escape(shown(Decimal(lost["annual_margin_lost"]), "USD", whole=True)),
        text,
    )
    assert 'id="fig-whale"' not in text and "No whale curve: no unit costs are recorded" in text
    assert 'id="no-exits"' in text
    assert "revenue at risk / year" in text and "margin at risk / year" not in text
    warnings = c.get("/warnings")
    assert warnings.status_code == 200 and "margin at risk" not in _visible(warnings.text)
    lost_page = c.get("/lost")
    assert lost_page.status_code == 200 and 'id="no-exits"' in lost_page.text
    api = c.get("/api/v1/lost", params={"per_page": 1}).json()
    assert api["money_basis"] == "revenue" and api["profit_known"] is False
    assert api["replacement_cost_known"] is False and api["exit_reasons_known"] is False
    assert api["by_reason"] == [
        {
            "reason": "unknown",
            "count": lost["count"],
            "annual_margin": lost["annual_margin_lost"],
            "discounted_value": lost["lifetime_value_lost"]["discounted"],
            "replacement_cost": None,
        }
    ]
    assert c.get("/api/v1/warnings").json()["money_basis"] == "revenue"


def test_a_store_in_zloty_shows_zloty_and_never_dollars(stores, open_client):
    url, doc = stores["pln"]
    c = open_client(url)
    for path in ("/", "/warnings", "/lost"):
        page = c.get(path)
        assert page.status_code == 200, path
        seen = _visible(page.text)
        assert "zł" in seen, path
        assert "$" not in seen, path
    overview = c.get("/").text
    lost = doc["lost"]
    assert shown(Decimal(lost["annual_margin_lost"]), "PLN", whole=True) in overview
    chart = overview.split('id="fig-warnings"')[1].split("</script>")[0]
    assert ("zł" in chart or "z\\u0142" in chart) and "$" not in chart  # the hover texts too
    api = c.get("/api/v1/warnings").json()
    assert api["currency"] == "PLN"


def test_cdnow_profit_page_calls_revenue_revenue(stores, open_client):
    url, _ = stores["cdnow"]
    code, _, err = cli("profit", "--view", "ttm", "--db", url)
    assert code == 0, err
    page = open_client(url).get("/profit")
    assert page.status_code == 200
    assert 'id="lacks"' in page.text and "without unit costs it is revenue" in page.text
    assert re.search(
        r'id="card-profit"><div class="label">profit</div><div class="big">not known</div>', page.text
    )
    assert re.search(
        r'id="card-margin"><div class="label">gross margin</div><div class="big">not known</div>', page.text
    )
    assert 'id="fig-whale"' not in page.text and 'id="no-whale"' in page.text
    assert "revenue less concessions" in page.text
