"""``keepwise.value.profit.run``: the stage's front door computes what the command prints, and stores it."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pytest

from keepwise.config import load_config
from keepwise.exceptions import BadInput
from keepwise.jsonio import dumps
from keepwise.store import connect
from keepwise.value.profit import run
from keepwise.value.profitability import profit_document

from .conftest import CONFIG, load_fixture

TOML = '[value]\nreview_value = "20.00"\nplatinum_share = 0.2\ngold_share = 0.2\n[value.fx]\nEUR = "1.10"\n'


def test_run_is_the_document_and_keeps_the_rows_and_the_document(shop):
    result = run(shop, "2024-03", config=CONFIG)
    assert result.to_json() == profit_document(shop, "2024-03", config=CONFIG)
    assert result.month == "2024-03" and result.saved
    # one row per customer in the profit table, money exact, the month in its own column
    stored = shop.read("profit", order_by=["rank"])
    assert list(stored["customer_id"]) == list(result.customers["customer_id"])
    assert set(stored["month"]) == {"2024-03"}
    assert stored["profit"].map(Decimal).sum() == Decimal("213.6667")  # 213.67 in the document
    assert dict(zip(stored["customer_id"], stored["tier"], strict=True))["E"] == "platinum"
    # the document, as the dashboard reads it back
    assert shop.load_document("profit", "2024-03") == result.to_json()


def test_a_rerun_replaces_its_month_and_other_views_keep_their_own_table(shop):
    run(shop, "2024-03", config=CONFIG)
    run(shop, "2024-02", config=CONFIG)
    again = run(shop, "2024-03", config=CONFIG)
    counts = shop.to_pandas(shop.table("profit").group_by("month").aggregate(n=lambda t: t.count()))
    assert dict(zip(counts["month"], counts["n"], strict=True))["2024-03"] == len(again.customers)
    ttm = run(shop, "2024-03", config=CONFIG, view="ttm")
    assert shop.count("profit_ttm") == len(ttm.customers)
    assert shop.load_document("profit", "2024-03", variant="ttm")["view"] == "ttm"
    assert shop.load_document("profit", "2024-03")["view"] == "month"


def test_run_without_saving_writes_nothing(shop):
    result = run(shop, "2024-03", config=CONFIG, save=False)
    assert not result.saved and not shop.has_table("profit")


def test_a_bad_view_is_a_domain_error(shop):
    with pytest.raises(BadInput, match="view: 'weekly' is not one of: month, ttm, lifetime"):
        run(shop, "2024-03", config=CONFIG, view="weekly")  # type: ignore[arg-type]


def test_the_command_prints_the_front_doors_document_byte_for_byte(db_url, tmp_path):
    (tmp_path / "keepwise.toml").write_text(TOML)
    store = connect(db_url)
    load_fixture(store)
    expected = run(store, "2024-03", config=load_config(tmp_path / "keepwise.toml"), save=False).to_json()
    store.disconnect()
    printed = subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "profit", "--month", "2024-03", "--json", "--db", db_url],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert printed == dumps(expected) + "\n"
