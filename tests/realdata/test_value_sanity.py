"""A customer's value on real data: CDNOW loaded as an orders-only business (customers and orders only).

CDNOW (bundled, :func:`keepwise.datasets.cdnow_tables`; Fader and Hardie's 1/10th sample of the CDNOW music
retailer's customers, 1997-01 to 1998-06) has no unit costs, incidents, time logs, exits or acquisition
costs. The checks hold the figures against the data's own sums, computed here from the orders table with
pandas, not with keepwise:

- the margin a year of the customers lost in twelve months is at most what the whole business took in its
  best twelve months (before session 5 the review said $6.27M a year against $1.07M earned);
- every lost customer has one monthly value: the review's ledger, the win-back list and the customer page
  agree to the cent (before: 19339 was $3,276 a month in the review and $819 in win-back);
- no one-time buyer is valued above their one purchase a year unless the basis says the model did it;
- the concession advisor answers on a store without incidents (before: ``MergeError``) and says that it used
  its documented default effect.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import keepwise
from keepwise import cli
from keepwise.config import Config
from keepwise.datasets import cdnow_tables
from keepwise.store import connect

MONTH = "1998-06"


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """CDNOW orders-only in a DuckDB file, reviewed and ranked for win-back once for the module."""
    from keepwise.decisions import winback
    from keepwise.review import run_review

    url = f"duckdb:///{tmp_path_factory.mktemp('cdnow') / 'cdnow.duckdb'}"
    tables = cdnow_tables()
    keepwise.load("customers", tables["customers"], db=url)
    keepwise.load("orders", tables["orders"], db=url)
    store = connect(url)
    review = run_review(store, MONTH, config=Config()).to_json()
    ranking = winback.run(store, MONTH, config=Config(), save=False).ranking
    store.disconnect()
    orders = tables["orders"].copy()
    orders["value"] = orders["quantity"].astype(float) * orders["unit_price"].astype(float)
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], utc=True)
    return {"url": url, "review": review, "ranking": ranking, "orders": orders}


def _best_twelve_months(orders: pd.DataFrame) -> float:
    """The largest revenue of any twelve consecutive calendar months (orders only: margin is revenue)."""
    monthly = orders.groupby(orders["ordered_at"].dt.tz_localize(None).dt.to_period("M"))["value"].sum()
    months = pd.period_range(monthly.index.min(), monthly.index.max(), freq="M")
    monthly = monthly.reindex(months, fill_value=0.0)
    return float(monthly.rolling(12, min_periods=1).sum().max())


def test_the_margin_a_year_lost_is_at_most_the_business_best_twelve_months(cdnow: dict[str, Any]) -> None:
    lost = cdnow["review"]["lost"]
    best = _best_twelve_months(cdnow["orders"])
    assert lost["count"] > 10_000
    assert float(lost["annual_margin_lost"]) <= best
    # and the figures the review prints add up: the total is the sum of the rows
    rows = sum(Decimal(r["annual_margin"]) for r in lost["customers"])
    assert abs(rows - Decimal(lost["annual_margin_lost"])) <= Decimal("0.01") * len(lost["customers"])
    # the 20-year figure is given only beside the model's discounted value
    value = lost["lifetime_value_lost"]
    assert (value["simple"] is None) == (value["discounted"] is None)
    # no acquisition costs: replacing them is unknown, never $0.00, and a note says why
    assert lost["replacement_cost"]["total"] is None
    assert "customers.acquisition_cost" in [n["input"] for n in lost["notes"]]
    assert "$0.00" not in cdnow["review"]["headlines"]["lost"]
    assert "unknown" in cdnow["review"]["headlines"]["lost"]


def test_every_lost_customer_has_one_monthly_value(cdnow: dict[str, Any]) -> None:
    from keepwise.web.data import customer_profile

    ledger = {r["customer_id"]: r for r in cdnow["review"]["lost"]["customers"]}
    rows = {r.customer.customer_id: r for r in cdnow["ranking"].rows}
    assert set(rows) == set(ledger)
    for cid, r in rows.items():
        assert r.customer.monthly_margin == Decimal(ledger[cid]["monthly_margin"]), cid
        if r.monthly_profit is not None:  # no costs to serve or concessions here: profit is margin
            assert r.monthly_profit == Decimal(ledger[cid]["monthly_margin"]), cid
    # the customer page, for the customers and the most valuable and some one-time buyers
    by_value = sorted(ledger.values(), key=lambda r: -Decimal(r["annual_margin"]))
    once = [r for r in ledger.values() if r["basis"] == "one purchase"]
    sample = {"19339", "00042", *(r["customer_id"] for r in by_value[:5] + once[:5])}
    store = connect(cdnow["url"])
    try:
        for cid in sorted(sample):
            page = customer_profile(store, cid, Config())
            assert page["value"]["monthly_margin"] == ledger[cid]["monthly_margin"], cid
            assert page["lost"]["monthly_margin"] == ledger[cid]["monthly_margin"], cid
    finally:
        store.disconnect()
    # 19339: $6,552.70 in 22 purchase days within a month; the review said $3,276 a month, win-back $819
    assert ledger["19339"]["monthly_margin"] == "546.06"


def test_no_one_time_buyer_is_valued_above_their_purchase_a_year(cdnow: dict[str, Any]) -> None:
    # a purchase is an order of positive value (a $0 order is not one); its day is its UTC day
    orders = (
        cdnow["orders"]
        .groupby(["customer_id", "order_id"], as_index=False)
        .agg(value=("value", "sum"), ordered_at=("ordered_at", "min"))
    )
    orders["day"] = orders["ordered_at"].dt.floor("D").where(orders["value"] > 0)
    per_customer = orders.groupby("customer_id").agg(days=("day", "nunique"), value=("value", "sum"))
    once = per_customer[per_customer["days"] == 1]
    lost = cdnow["review"]["lost"]["customers"]
    checked = 0
    for r in lost:
        if r["customer_id"] in once.index:
            checked += 1
            assert r["basis"] in ("one purchase", "model"), r
            if r["basis"] != "model":
                bought = Decimal(str(round(once.loc[r["customer_id"], "value"], 2)))
                assert Decimal(r["annual_margin"]) <= bought, r
    assert checked > 5_000
    assert cdnow["review"]["lost"]["one_time_buyers"] == checked


def test_the_concession_advisor_answers_without_incidents_and_says_so(cdnow: dict[str, Any]) -> None:
    args = ["concession", "19339", "--cost", "20", "--json", "--db", cdnow["url"]]
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["decision"] in ("approve", "counter", "refuse")
    assert doc["effect"]["source"] == "default"
    (note,) = [n for n in doc["notes"] if n["input"] == "incidents"]
    assert note["missing"] == "no rows" and "default effect" in note["instead"]
    assert doc["figures"]["margin_a_year"] == "6552.70"
