"""Missing unit costs are said, or assumed from ``[value] default_margin_rate`` (issue 15, item 1).

CDNOW (Fader and Hardie's CD retailer, bundled) has orders only: no unit cost on any line. Without a rate,
``keepwise profit`` labels its margin as revenue, and its revenue is the orders table's own sum; with a rate
of 0.3 the gross margin is exactly 0.3 x revenue (CDNOW prices are whole cents and quantities 1, so
0.7 x price needs 3 places: nothing is rounded).
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from keepwise.config import Config, ValueAssumptions, load_config
from keepwise.datasets import cdnow_tables
from keepwise.exceptions import KeepwiseInputError
from keepwise.features.orders import order_lines
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.value.profit import run

SRC = Path(__file__).resolve().parents[2] / "src"
RATE = Decimal("0.3")
MONTH = "1998-06"
#: The words issue 15 asks for (keepwise.value.profitability.notes.MARGIN_IS_REVENUE).
MARGIN_IS_REVENUE = "no unit costs recorded: margin shown is revenue"


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pd.DataFrame]:
    t = cdnow_tables()
    url = f"duckdb:///{tmp_path_factory.mktemp('cdnow') / 'cdnow.duckdb'}"
    store = connect(url)
    try:
        load_frame(store, "customers", t["customers"], source="customers")
        load_frame(store, "orders", t["orders"].drop(columns=["number_of_cds"]), source="orders")
    finally:
        store.disconnect()
    return url, t["orders"]


def _own_sum(orders: pd.DataFrame, month: str | None) -> Decimal:
    """Revenue from the orders table itself: quantity x unit price, summed in Python."""
    at = pd.to_datetime(orders["ordered_at"], utc=True)
    rows = orders if month is None else orders[at.dt.strftime("%Y-%m") == month]
    return sum(
        (Decimal(str(q)) * Decimal(p) for q, p in zip(rows["quantity"], rows["unit_price"], strict=True)),
        start=Decimal(0),
    )


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "keepwise.cli", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_without_a_rate_the_margin_is_labelled_revenue(cdnow, tmp_path):
    url, orders = cdnow
    done = _cli("profit", "--month", MONTH, "--json", "--no-save", "--db", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    revenue = _own_sum(orders, MONTH)
    assert revenue > 70_000  # the month's own sum, $76,109.30
    assert Decimal(doc["totals"]["revenue"]) == revenue
    assert doc["totals"]["gross_margin"] == doc["totals"]["revenue"] and doc["totals"]["cogs"] == "0.00"
    cost = next(n for n in doc["notes"] if n["input"] == "orders.unit_cost")
    assert cost["instead"] == MARGIN_IS_REVENUE
    assert doc["cost_coverage"]["revenue_share_without_unit_cost"] == 1.0
    # every input the stage uses and CDNOW lacks is named
    assert {n["input"] for n in doc["notes"]} >= {
        "orders.unit_cost",
        "time_logs",
        "staff_rates",
        "incidents",
        "advocacy",
        "products",
    }
    assert next(n for n in doc["notes"] if n["input"] == "time_logs")["instead"].startswith(
        "cost to serve is left out"
    )
    text = _cli("profit", "--month", MONTH, "--no-save", "--db", url, cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "No unit costs recorded: margin shown is revenue" in text.stdout


def test_a_default_margin_rate_makes_margin_exactly_that_share_of_revenue(cdnow):
    url, orders = cdnow
    cfg = Config(value=ValueAssumptions(default_margin_rate=RATE))
    store = connect(url, read_only=True)
    try:
        month = run(store, MONTH, config=cfg, save=False)
        life = run(store, MONTH, config=cfg, save=False, view="lifetime")
    finally:
        store.disconnect()
    for result, since in ((month, MONTH), (life, None)):
        df = result.customers
        assert df["revenue"].sum() == _own_sum(orders, since)
        assert (df["gross_margin"] == df["revenue"] * RATE).all()
        assert (df["cogs"] == df["revenue"] * (1 - RATE)).all()
        totals = result.document["totals"]
        assert Decimal(totals["gross_margin"]) == (RATE * Decimal(totals["revenue"])).quantize(
            Decimal("0.01")
        )
        note = next(n for n in result.document["notes"] if n["input"] == "orders.unit_cost")
        assert "0.3 of revenue ([value] default_margin_rate)" in note["instead"]
        assert {"name": "value.default_margin_rate", "value": "0.3"}.items() <= next(
            a for a in result.document["assumptions"] if a["name"] == "value.default_margin_rate"
        ).items()
    assert life.customers["revenue"].sum() > 2_500_000  # CDNOW's whole history


def test_the_rate_is_read_from_keepwise_toml_by_every_margin(cdnow, tmp_path, monkeypatch):
    url, orders = cdnow
    (tmp_path / "keepwise.toml").write_text("[value]\ndefault_margin_rate = 0.3\n")
    assert load_config(tmp_path / "keepwise.toml").value.default_margin_rate == RATE
    monkeypatch.chdir(tmp_path)
    store = connect(url, read_only=True)
    try:
        lines = store.to_pandas(
            order_lines(store).aggregate(r=lambda t: t.revenue.sum(), m=lambda t: t.margin.sum())
        )
    finally:
        store.disconnect()
    assert Decimal(lines["m"][0]) == RATE * Decimal(lines["r"][0]) == RATE * _own_sum(orders, None)
    done = _cli("profit", "--month", MONTH, "--json", "--no-save", "--db", url, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    totals = json.loads(done.stdout)["totals"]
    assert Decimal(totals["gross_margin"]) == RATE * Decimal(totals["revenue"])


@pytest.mark.parametrize("bad", ["1.5", "-0.1", '"lots"', "true"])
def test_a_rate_that_is_not_a_share_is_refused(tmp_path, bad):
    (tmp_path / "keepwise.toml").write_text(f"[value]\ndefault_margin_rate = {bad}\n")
    with pytest.raises(KeepwiseInputError, match="default_margin_rate must be a share between 0 and 1"):
        load_config(tmp_path / "keepwise.toml")


def test_partly_costed_lines_say_what_share_of_revenue_has_no_cost(store):
    customers = pd.DataFrame({"customer_id": ["A", "B"], "currency": ["EUR", "EUR"]})
    orders = pd.DataFrame(
        [
            {"order_id": "1", "line_no": "1", "customer_id": "A", "ordered_at": "2024-03-02T10:00:00Z",
             "quantity": "2", "unit_price": "30.00", "unit_cost": "20.00", "currency": "EUR"},
            {"order_id": "2", "line_no": "1", "customer_id": "B", "ordered_at": "2024-03-03T10:00:00Z",
             "quantity": "1", "unit_price": "40.00", "unit_cost": None, "currency": "EUR"},
        ]
    )  # fmt: skip
    load_frame(store, "customers", customers, source="customers")
    load_frame(store, "orders", orders, source="orders")
    plain = run(store, "2024-03", config=Config(), save=False)
    note = next(n for n in plain.document["notes"] if n["input"] == "orders.unit_cost")
    assert note["missing"] == "no unit cost on 1 of 2 order lines of the period (40.0% of revenue)"
    assert note["instead"] == "those lines cost nothing, so their margin shown is their revenue"
    assert plain.document["totals"]["gross_margin"] == "60.00"  # 2 x (30 - 20) + 40
    assumed = run(
        store, "2024-03", config=Config(value=ValueAssumptions(default_margin_rate=RATE)), save=False
    )
    assert assumed.document["totals"]["gross_margin"] == "32.00"  # 20 + 0.3 x 40
    assert assumed.document["currency"] == "EUR"
    assert plain.document["cost_coverage"] == {
        "order_lines": 2,
        "without_unit_cost": 1,
        "revenue_share_without_unit_cost": 0.4,
    }
    # the outreach plan carries the same notes, and says what it does without consent
    from keepwise.decisions import outreach

    plan = outreach.run(store, "2024-03", config=Config(), save=False).to_json()
    inputs = [n["input"] for n in plan["notes"]]
    assert inputs == [
        "value.reporting_currency",
        "orders.unit_cost",
        "time_logs",
        "staff_rates",
        "incidents",
        "advocacy",
        "products",
        "consent",
    ]
    assert plan["currency"] == "EUR" and "EUR" in plan["notes"][0]["instead"]
