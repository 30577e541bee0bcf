"""``keepwise profit``: the JSON document, --out, the assumptions it lists, errors; the review section."""

from __future__ import annotations

import json
import subprocess
import sys

from keepwise.report.sections.profitability import profitability_section
from keepwise.store import connect
from keepwise.value.review_section import money

from .conftest import CONFIG, load_fixture

TOML = '[value]\nreview_value = "20.00"\nplatinum_share = 0.2\ngold_share = 0.2\n'


def run(cwd, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "profit", *args], capture_output=True, text=True, cwd=cwd
    )


def test_profit_json_is_the_documented_shape_with_hand_computed_figures(db_url, tmp_path):
    backend = connect(db_url)
    load_fixture(backend)
    backend.disconnect()
    (tmp_path / "keepwise.toml").write_text(TOML)
    result = run(tmp_path, "--month", "2024-03", "--json", "--db", db_url, "--out", str(tmp_path / "p.json"))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert json.loads((tmp_path / "p.json").read_text()) == doc
    # the figures of test_profitability.py, as strings with 2 decimals
    assert doc["totals"] == {
        "revenue": "231.00",
        "cogs": "102.50",
        "gross_margin": "128.50",
        "cost_to_serve": "104.83",
        "concessions": "10.00",
        "advocacy_value": "200.00",
        "profit": "213.67",
        "operating_profit": "13.67",
    }
    assert doc["whale"]["sentence"] == (
        "The top 60% of customers earn 136% of profit; the bottom 40% destroy 36% of it."
    )
    first = doc["customers"][0]
    assert set(first) >= {"customer_id", "tier", "revenue", "cogs", "gross_margin", "cost_to_serve"}
    tiers = {c["customer_id"]: (c["tier"], c["profit"]) for c in doc["customers"]}
    assert tiers == {
        "E": ("platinum", "170.00"),
        "C": ("gold", "90.00"),
        "D": ("iron", "30.00"),
        "A": ("lead", "-25.50"),
        "B": ("lead", "-50.83"),
    }
    assert doc["unused_capacity"]["cost"] == "6147.85"  # 5320.3548 + 827.5000
    assumptions = {a["name"]: a for a in doc["assumptions"]}
    assert assumptions["value.review_value"]["from"] == "keepwise.toml"
    assert assumptions["value.review_value"]["value"] == "20.00"
    assert assumptions["value.lead_below_profit"]["from"] == "default"
    assert doc["movement"]["compared_with"] == "2024-02" and doc["movement"]["down"] == 1


def test_bad_view_is_a_one_line_error(db_url, tmp_path):
    result = run(tmp_path, "--view", "weekly", "--db", db_url)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: --view 'weekly' is not one of: month, ttm, lifetime"


def test_money_rounds_half_up_to_cents():
    from decimal import Decimal

    assert money(Decimal("104.8333")) == "104.83"
    assert money(Decimal("0.005")) == "0.01"
    assert money(Decimal("-25.505")) == "-25.51"
    assert money(None) == "0.00"


def test_review_section_states_the_month_in_words(shop):
    section = profitability_section(shop, "2024-03", config=CONFIG)
    assert section["title"] == "Customer profitability"
    assert section["sentences"][0].startswith(
        "In 2024-03 customers brought $231.00 of revenue and $128.50 of gross margin; serving them "
        "took $104.83 of staff time and $10.00 of concessions, leaving $13.67 of operating profit"
    )
    assert "$6,147.85" in section["sentences"][2]
    assert section["figure"].layout.xaxis.title.text.startswith("Customers ranked by profit")
    # twelve months to March 2024 include A's February order (+1000.00), so D (30.00) is second lowest
    assert [c["customer_id"] for c in section["least_profitable"]][:2] == ["B", "D"]
    assert "customers" not in section["month"]
