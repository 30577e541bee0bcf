"""The lost-customer ledger against figures computed by hand on a small fixture.

Review month 2024-12: the ledger's window is 2024-01-01 .. 2025-01-01.

A: 2023-06-10 1x100 (cost 60) m=40; 2023-08-20 1x100 (60) m=40; exit 2024-03-01 price, BeanCo -> lost (exit)
B: 2024-01-15, 02-15, 03-15: 2x25 (10) m=30 each; no exit -> lost (inactivity)
C: 2024-05-01 3x20 (10) m=30; 2024-05-10 return -1x20 m=-10; 2024-10-01 1x40 (10) m=30;
   exit 2024-11-20 without a reason -> lost (exit), reason unknown
D: monthly 2024-09-05 .. 2024-12-05 -> active
E: 2023-01-10 only -> lost before the window
F: 2024-06-01, 2024-11-01; exit 2024-04-01 (bought after it) -> active, came back
G: 2024-10-01; exit 2025-01-15 (after the review month) -> active

B: mean gap = 60 days / 2 gaps = 30, threshold max(180, 3 x 30) = 180 days -> judged lost
   2024-03-15 + 180 days = 2024-09-11 (in the window).
E: judged lost 2023-07-09, before the window: not counted, not at risk.
At risk: A, B, C, D, F, G = 6. Lost: A, B, C = 3. Rate 3 / 6 = 0.5.
Reasons: unknown 2 (B by inactivity, C recorded without a reason), price 1. Competitors: BeanCo 1.
Margin a year = lifetime margin / years as a customer (first to last purchase day plus one mean gap, at
least one year; keepwise.value.worth):
   A: 80 over 2 purchase days 71 days apart -> 142 days -> 1 year -> 80.00 (monthly 6.67)
   B: 90 over 3 days, 60 days -> 90 days -> 1 year -> 90.00 (7.50)
   C: (30 - 10 + 30) = 50 over 2 purchase days (the return is not one), 153 days -> 1 year -> 50.00 (4.17)
   total 220.00. (Until session 5 it was 12 x margin / calendar months from first to last order: A 320.00,
   B 360.00, C 100.00, i.e. A was said to bring $320 a year after buying $80 in all: that was the bug.)
Without the purchase model (build_ledger is given none) the discounted and simple lifetime values are not
   estimated (None), said in a note; with model values given, simple = margin a year x 20.
The business's margin in 2024: B 90 + C 50 + D 20 + F 10 + G 5 = 175.00.
Replacement: customers acquired in 2024 with a recorded cost: B 100, C 60, G 80 (D has none) -> average 80.00;
   3 x 80.00 = 240.00; a note says 1 of 7 customers has no acquisition cost.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from keepwise import features
from keepwise.config import Config
from keepwise.signals import ReviewPeriod, build_ledger, run

CUSTOMERS = [
    ("A", "2023-06-01", 70.0),
    ("B", "2024-01-10", 100.0),
    ("C", "2024-04-20", 60.0),
    ("D", "2024-08-01", None),
    ("E", "2023-01-01", 30.0),
    ("F", "2023-12-01", 500.0),
    ("G", "2024-09-15", 80.0),
]
ORDERS = [
    ("A1", "A", "2023-06-10", "coffee", 1, 100, 60),
    ("A2", "A", "2023-08-20", "coffee", 1, 100, 60),
    ("B1", "B", "2024-01-15", "tea", 2, 25, 10),
    ("B2", "B", "2024-02-15", "tea", 2, 25, 10),
    ("B3", "B", "2024-03-15", "tea", 2, 25, 10),
    ("C1", "C", "2024-05-01", "coffee", 3, 20, 10),
    ("C2", "C", "2024-05-10", "coffee", -1, 20, 10),
    ("C3", "C", "2024-10-01", "coffee", 1, 40, 10),
    ("D1", "D", "2024-09-05", "tea", 1, 10, 5),
    ("D2", "D", "2024-10-05", "tea", 1, 10, 5),
    ("D3", "D", "2024-11-05", "tea", 1, 10, 5),
    ("D4", "D", "2024-12-05", "tea", 1, 10, 5),
    ("E1", "E", "2023-01-10", "tea", 1, 10, 5),
    ("F1", "F", "2024-06-01", "tea", 1, 10, 5),
    ("F2", "F", "2024-11-01", "tea", 1, 10, 5),
    ("G1", "G", "2024-10-01", "tea", 1, 10, 5),
]
EXITS = [
    ("A", "2024-03-01", "price", "BeanCo"),
    ("C", "2024-11-20", None, None),
    ("F", "2024-04-01", "service", None),
    ("G", "2025-01-15", "moved", None),
]


@pytest.fixture
def ledger(store):
    b = store(CUSTOMERS, ORDERS, EXITS)
    period = ReviewPeriod.of("2024-12")
    ords = features.orders(features.order_lines(b, period.end))
    return build_ledger(b, ords, period)


def test_counts_and_rate(ledger):
    assert ledger.count == 3
    assert ledger.at_risk == 6
    assert ledger.rate == 0.5
    assert list(ledger.customers["customer_id"]) == ["A", "B", "C"]
    assert list(ledger.customers["how"]) == ["exit", "inactivity", "exit"]
    assert str(ledger.customers.loc[1, "lost_at"].date()) == "2024-09-11"


def test_reasons_and_competitors(ledger):
    assert ledger.by_reason == {"unknown": 2, "price": 1}
    assert ledger.competitors == {"BeanCo": 1}


def test_costs(ledger):
    rows = ledger.customers.set_index("customer_id")
    assert list(rows["annual_margin"]) == [Decimal("80.00"), Decimal("90.00"), Decimal("50.00")]
    assert list(rows["monthly_margin"]) == [Decimal("6.67"), Decimal("7.50"), Decimal("4.17")]
    assert list(rows["basis"]) == ["history"] * 3
    assert ledger.annual_margin_lost == Decimal("220.00")
    assert ledger.business_margin == Decimal("175.00")
    # no purchase model given: no lifetime value, and never the 20-year arithmetic on its own
    assert ledger.simple_value_lost is None and ledger.discounted_value_lost is None
    assert rows["simple_value"].isna().all() and rows["discounted_value"].isna().all()
    assert "purchase model" in [n.input for n in ledger.notes]
    assert ledger.replacement_cost_each == Decimal("80.00")
    assert ledger.replacement_cost == Decimal("240.00")
    (partial,) = [n for n in ledger.notes if n.input == "customers.acquisition_cost"]
    assert partial.missing == "empty on 1 of 7 rows of customers"


def test_json_money_is_strings_with_two_decimals(ledger):
    doc = ledger.to_json()
    assert doc["lifetime_value_lost"]["simple"] is None and doc["lifetime_value_lost"]["discounted"] is None
    assert doc["replacement_cost"]["per_customer"] == "80.00" and doc["replacement_cost"]["total"] == "240.00"
    assert doc["count"] == 3 and doc["by_reason"]["unknown"] == 2
    assert doc["customers"][0]["annual_margin"] == "80.00" and doc["customers"][0]["basis"] == "history"
    assert {"input", "missing", "instead"} <= set(doc["notes"][0])


def test_without_acquisition_costs_replacing_them_is_unknown_never_zero(store):
    b = store([(c, at, None) for c, at, _ in CUSTOMERS], ORDERS, EXITS)
    period = ReviewPeriod.of("2024-12")
    ledger = build_ledger(b, features.orders(features.order_lines(b, period.end)), period)
    assert ledger.replacement_cost is None and ledger.replacement_cost_each is None
    doc = ledger.to_json()
    assert doc["replacement_cost"]["total"] is None
    (note,) = [n for n in doc["notes"] if n["input"] == "customers.acquisition_cost"]
    assert note["missing"] == "empty on all 7 rows of customers" and "unknown" in note["instead"]


def test_a_year_of_margin_is_a_year_and_twenty_years_only_beside_the_model(store):
    # one customer with $1,000 of margin in each of 12 months, then an exit: $12,000 a year; beside a model
    # value the seed arithmetic is 12,000 x 20 = 240,000
    orders = [(f"O{m}", "X", f"2023-{m:02d}-15", "coffee", 1, 1500, 500) for m in range(1, 13)]
    b = store([("X", "2023-01-01", None)], orders, [("X", "2024-02-01", "price", None)])
    period = ReviewPeriod.of("2024-06")
    ords = features.orders(features.order_lines(b, period.end))
    ledger = build_ledger(b, ords, period)
    assert ledger.annual_margin_lost == Decimal("12000.00") and ledger.simple_value_lost is None
    model = pd.DataFrame({"customer_id": ["X"], "value": [Decimal("30000.00")]})
    ledger = build_ledger(b, ords, period, model_values=model)
    assert ledger.discounted_value_lost == Decimal("30000.00")
    assert ledger.simple_value_lost == Decimal("240000.00")
    assert ledger.discounted_method == "purchase-model lifetime value"


def test_a_one_time_buyer_is_valued_by_their_one_purchase(store):
    b = store([("Y", "2023-01-01", None)], [("Y1", "Y", "2023-03-15", "tea", 2, 40, 10)])
    period = ReviewPeriod.of("2024-06")
    ledger = build_ledger(b, features.orders(features.order_lines(b, period.end)), period)
    row = ledger.customers.iloc[0]
    assert (row["basis"], row["annual_margin"], row["monthly_margin"]) == (
        "one purchase",
        Decimal("60.00"),
        Decimal("5.00"),
    )
    assert ledger.one_time_buyers == 1


def test_inactivity_rule_comes_from_the_review_assumptions(store):
    # [review] inactivity_days = 365: B (last purchase 2024-03-15) is no longer lost by December,
    # while E (last purchase 2023-01-10, lost before the year under the 180-day rule) is now lost
    # on 2024-01-10, inside it
    from keepwise.config import ReviewAssumptions

    b = store(CUSTOMERS, ORDERS, EXITS)
    period = ReviewPeriod.of("2024-12")
    rules = ReviewAssumptions(inactivity_days=365, lifetime_years=10)
    model = pd.DataFrame({"customer_id": ["A"], "value": [Decimal("500.00")]})
    ords = features.orders(features.order_lines(b, period.end))
    ledger = build_ledger(b, ords, period, rules=rules, model_values=model)
    assert list(ledger.customers["customer_id"]) == ["E", "A", "C"]
    assert str(ledger.customers.loc[0, "lost_at"].date()) == "2024-01-10"
    assert ledger.at_risk == 7
    doc = ledger.to_json()
    assert "max(365 days, 3 x" in doc["rule"]
    assert doc["lifetime_value_lost"]["simple_rule"].startswith("margin a year x 10 years, undiscounted")
    # A: $80 a year for 10 years instead of 20, beside the model's value
    assert ledger.customers.set_index("customer_id").loc["A", "simple_value"] == Decimal("800.00")


def test_review_assumptions_in_keepwise_toml_are_checked(tmp_path):
    from keepwise.config import load_config
    from keepwise.exceptions import KeepwiseInputError

    path = tmp_path / "keepwise.toml"
    path.write_text("[review]\ninactivity_days = 365\ninactivity_gaps = 4\naov_alpha = 0.01\n")
    cfg = load_config(path)
    assert (cfg.review.inactivity_days, cfg.review.inactivity_gaps, cfg.review.aov_alpha) == (365, 4.0, 0.01)
    for bad, message in (
        ("inactivity_days = 'half a year'", "review.inactivity_days must be a whole number"),
        ("inactivity_gaps = 0", "review.inactivity_gaps must be a positive number"),
        ("aov_alpha = 3", "review.aov_alpha must be a share between 0 and 1"),
    ):
        path.write_text(f"[review]\n{bad}\n")
        with pytest.raises(KeepwiseInputError, match=message):
            load_config(path)


def test_the_stage_front_door_returns_the_ledger_warnings_and_metrics_and_drops_its_temp_tables(store):
    b = store(CUSTOMERS, ORDERS, EXITS)
    before = set(b.list_tables())
    result = run(b, ReviewPeriod.of("2024-12"), Config())
    assert (result.ledger.count, result.ledger.at_risk) == (3, 6)
    assert result.ledger.annual_margin_lost == Decimal("220.00")
    assert set(result.status.loc[result.status["lost"], "customer_id"]) == {"A", "B", "C", "E"}
    assert list(result.warnings.columns[:3]) == ["rank", "customer_id", "kind"]
    assert result.metrics["monthly"] and result.notes is result.inputs.notes
    assert set(b.list_tables()) == before  # the month's order lines and orders were temporary


def test_a_regular_buyer_brings_a_year_of_purchases_a_year():
    # 25 monthly purchases of $100 margin over two years: years as a customer = span x 25 / 24 (the last
    # purchase covers the month until the next was due) = 2.08, so $2,500 / 2.08 = about $1,200 a year, i.e.
    # 12 purchases a year (first to last purchase alone would say $1,250: one purchase too many a year)
    from keepwise.value.worth import customer_worth

    days = pd.date_range("2021-01-15", periods=25, freq="MS", tz="UTC") + pd.Timedelta(days=14)
    hist = pd.DataFrame(
        {
            "customer_id": ["R"],
            "margin": [Decimal("2500.00")],
            "purchase_days": [25],
            "first_day": [days[0]],
            "last_day": [days[-1]],
        }
    )
    row = customer_worth(hist, profit={"R": Decimal("1250.00")}).iloc[0]
    assert row["basis"] == "history"
    assert abs(row["annual_margin"] - Decimal("1200")) < 5
    assert row["monthly_margin"] == (row["annual_margin"] / 12).quantize(Decimal("0.01"))
    # profit takes the same years: half the margin, half the monthly figure (to the cent)
    assert abs(row["monthly_profit"] * 2 - row["monthly_margin"]) <= Decimal("0.01")
