"""A real business that sells in pounds sterling, with no configuration: every figure in GBP, none in dollars.

Issue 15's "done when": a single-currency store in a currency other than USD reports profit, review and
win-back in that currency with no configuration (no keepwise.toml, no exchange rates).

Data: the UCI Machine Learning Repository's "Online Retail" data set (Chen, Sain and Guo 2012,
https://doi.org/10.1057/dbm.2012.17; UCI id 352, https://doi.org/10.24432/C5BW33, licensed CC BY 4.0), as
redistributed in the onlineretail 0.1.2 package for R (CC0, "included with the donor's permission, Dr. Daqing
Chen"): a UK gift-ware wholesaler's invoice lines, 2010-12-01 to 2011-12-09, prices in pounds sterling.
Bundled as ``keepwise/datasets/data/online_retail_gbp.csv.xz`` (the 406,829 lines with a customer id; see the
README beside it) and loaded by :func:`keepwise.datasets.online_retail_tables`. The sums the tests compare
against are the data's own, added up here from the published lines with exact decimals.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import keepwise
from keepwise.datasets import load_online_retail_lines, online_retail_tables

from .conftest import Ran, run_cli

#: The last complete month of the data (it ends on 2011-12-09).
MONTH = "2011-11"


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    """The published lines, with each line's amount as an exact decimal and its month (UTC)."""
    raw = load_online_retail_lines()
    amount = [Decimal(p) * q for p, q in zip(raw["unit_price"], raw["quantity"], strict=True)]
    return raw.assign(amount=amount, month=raw["invoiced_at"].dt.strftime("%Y-%m"))


@pytest.fixture(scope="module")
def gbp_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A fresh store with Online Retail's customers and orders (nothing else), all in GBP."""
    url = f"duckdb:///{tmp_path_factory.mktemp('online-retail') / 'gbp.duckdb'}"
    tables = online_retail_tables()
    keepwise.load("customers", tables["customers"], db=url)
    keepwise.load("orders", tables["orders"], db=url)
    return url


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A working directory without keepwise.toml: no settings, no exchange rates."""
    folder = tmp_path_factory.mktemp("no-config")
    here = Path.cwd()
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(here)


def strings(doc: Any) -> Iterator[tuple[str, str]]:
    """Every (key, text) of a JSON document, nested values included."""
    if isinstance(doc, dict):
        for k, v in doc.items():
            if isinstance(v, str):
                yield k, v
            else:
                yield from strings(v)
    elif isinstance(doc, list):
        for v in doc:
            if isinstance(v, str):
                yield "", v
            else:
                yield from strings(v)


def assert_all_gbp(r: Ran) -> None:
    """Exit 0; every ``currency`` in the document is GBP; no text says USD or shows a dollar sign."""
    assert r.code == 0, r.why()
    found = list(strings(r.doc))
    currencies = {v for k, v in found if k.endswith("currency")}
    assert currencies == {"GBP"}, f"keepwise {' '.join(r.args)}: currencies {currencies}"
    dollars = [v for _, v in found if "USD" in v or "$" in v]
    assert not dollars, f"keepwise {' '.join(r.args)}: dollars in a GBP business: {dollars[:3]}"


def visible_text(html: str) -> str:
    """The text of an HTML page without its scripts and styles (plotly's own code has '$' in it)."""
    return re.sub(r"<(script|style)\b.*?</\1>", "", html, flags=re.S | re.I)


def test_the_bundled_data_is_the_published_data_set(lines: pd.DataFrame):
    """Shape and totals of the 406,829 lines with a customer id (Chen, Sain and Guo 2012; UCI id 352)."""
    assert len(lines) == 406_829
    assert lines["customer_id"].nunique() == 4_372 and lines["invoice"].nunique() == 22_190
    assert lines["invoice"].str.startswith("C").groupby(lines["invoice"]).first().sum() == 3_654
    assert str(lines["invoiced_at"].min()) == "2010-12-01 08:26:00+00:00"
    assert str(lines["invoiced_at"].max()) == "2011-12-09 12:50:00+00:00"
    assert sum(lines["amount"]) == Decimal("8300065.814")  # net of cancellations, pounds sterling


def test_profit_of_a_month_is_the_data_own_sum_in_pounds(gbp_db: str, plain: Path, lines: pd.DataFrame):
    r = run_cli("profit", "--month", MONTH, "--json", "--no-save", "--db", gbp_db)
    assert_all_gbp(r)
    own = sum(lines.loc[lines["month"] == MONTH, "amount"])  # 1,132,407.74
    assert Decimal(r.doc["totals"]["revenue"]) == own, f"revenue of {MONTH}: the data's own is {own}"


def test_profit_over_the_whole_history_is_the_data_own_total(gbp_db: str, plain: Path, lines: pd.DataFrame):
    r = run_cli("profit", "--month", MONTH, "--view", "lifetime", "--json", "--no-save", "--db", gbp_db)
    assert_all_gbp(r)
    own = sum(lines.loc[lines["month"] <= MONTH, "amount"])  # 7,957,559.434: prices have three decimals
    got = Decimal(r.doc["totals"]["revenue"])
    assert abs(got - own) < Decimal("0.01"), f"lifetime revenue to {MONTH}: {got}, the data's own {own}"


def test_profit_as_people_read_it_is_in_pounds(gbp_db: str, plain: Path):
    r = run_cli("profit", "--month", MONTH, "--no-save", "--db", gbp_db)
    assert r.code == 0, r.why()
    assert ("£" in r.stdout or "GBP" in r.stdout) and "$" not in r.stdout and "USD" not in r.stdout


@pytest.fixture(scope="module")
def reviewed(gbp_db: str, plain: Path) -> Ran:
    """``keepwise review --month 2011-11 --json --html review.html``, run once (it stores the review)."""
    return run_cli("review", "--month", MONTH, "--json", "--html", str(plain / "review.html"), "--db", gbp_db)


def test_review_is_in_pounds_and_its_months_are_the_data_own(reviewed: Ran, plain: Path, lines: pd.DataFrame):
    r = reviewed
    assert_all_gbp(r)
    page = visible_text((plain / "review.html").read_text())
    assert ("£" in page or "GBP" in page) and "$" not in page and "USD" not in page
    revenue = lines.groupby("month")["amount"].sum()
    # a purchase: a line of positive quantity at a positive price (customer 13256's one line in 2011-11 was a
    # gift of 12,540 units at 0.00, so 1,664 customers bought that month, not 1,665)
    bought = lines[(lines["quantity"] > 0) & (lines["amount"] > 0)]
    buyers = bought.groupby("month")["customer_id"].nunique()
    monthly = r.doc["metrics"]["monthly"]
    assert [m["month"] for m in monthly][-1] == MONTH and len(monthly) == 12  # 2010-12 to 2011-11
    for m in monthly:
        got, own = Decimal(m["revenue"]), revenue[m["month"]]
        assert abs(got - own) < Decimal("0.01"), f"revenue of {m['month']}: {got}, the data's own {own}"
        assert m["active"] == buyers[m["month"]], f"customers who bought in {m['month']}"


def test_winback_is_in_pounds(gbp_db: str, plain: Path):
    r = run_cli("winback", "--month", MONTH, "--json", "--db", gbp_db)
    assert_all_gbp(r)
    assert int(r.doc["lost_customers"]) > 0


@pytest.fixture(scope="module")
def stored(gbp_db: str, plain: Path) -> None:
    """What the dashboard reads, stored as the commands store it (the pages never compute a stage)."""
    for args in (
        ("profit", "--month", MONTH),
        ("profit", "--view", "ttm"),
        ("winback", "--month", MONTH),
    ):
        r = run_cli(*args, "--json", "--db", gbp_db)
        assert r.code == 0, r.why()


@pytest.mark.parametrize("path", ["/", "/profit", "/winback", f"/api/profit?month={MONTH}", "/api/winback"])
def test_the_dashboard_is_in_pounds(gbp_db: str, plain: Path, reviewed: Ran, stored: None, path: str):
    """The pages and the API of the same store, with no configuration: pounds, never dollars."""
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from keepwise.config import Config, WebAssumptions
    from keepwise.web import create_app

    token = "gbp-token-0123456789abcdef"  # a script's admin token: no other configuration
    config = replace(Config(), web=replace(WebAssumptions(), token=token))
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("KEEPWISE_WEB_TOKEN", raising=False)
        with TestClient(create_app(gbp_db, config), base_url="http://127.0.0.1") as client:
            got = client.get(path, headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200, got.text[:300]
    if path.startswith("/api/"):
        assert_all_gbp(Ran((path,), 0, got.text, "", got.json()))
    else:
        page = visible_text(got.text)
        assert ("£" in page or "GBP" in page) and "$" not in page and "USD" not in page, path
