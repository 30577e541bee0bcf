"""Outreach wording a manager can read (issue 17, item 6): bounded price figures, due dates not past."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

from keepwise.config import DecisionAssumptions
from keepwise.decisions.service.levels import Action
from keepwise.decisions.service.rules import _due, _reprice, higher


def test_price_increases_in_plain_rounded_bounded_words():
    assert higher(0.123) == "13% higher"  # the smallest whole percentage that breaks even
    assert higher(0.13) == "13% higher"
    assert higher(0.001) == "1% higher"
    assert higher(16.213) == "much higher than now (17x)"  # was "1621.3% higher"
    assert higher(450.0) == "much higher than now (more than 100x)"


def _row(revenue: str, profit: str, cost: str) -> dict:
    return {
        "periods": [Decimal("-50"), Decimal("-60")],
        "profit": Decimal(profit),
        "revenue": Decimal(revenue),
        "gross_margin": Decimal(revenue) / 4,
        "cost_to_serve": Decimal(cost),
        "months_negative": 6,
    }


def test_part_ways_reason_has_no_four_figure_percentages():
    rec, _, reasons = _reprice(
        _row("100", "-1621.30", "1646.30"),
        {"tier": "bronze", "profit": Decimal("-1500")},
        "2024-06",
        DecisionAssumptions(),
        "USD",
    )
    assert rec == "part_ways"
    assert "much higher than now (17x)" in reasons[-1]
    assert not re.search(r"\d+\.\d%", reasons[-1])


def test_reprice_never_offers_more_than_all_staff_time_as_a_cut():
    rec, _, reasons = _reprice(
        _row("10000", "-500", "300"),
        {"tier": "bronze", "profit": Decimal("-400")},
        "2024-06",
        DecisionAssumptions(reprice_max_increase=0.2),
        "USD",
    )
    assert rec == "reprice"
    assert "5% higher" in reasons[-1]
    assert "less staff time" not in reasons[-1]  # 500 of 300: even no staff time at all would not do it


def test_a_contact_due_a_year_before_the_month_is_due_now_and_says_overdue_since():
    figs = {"last_contact": "2023-03-01", "contact_every_days": 90}
    a = Action("C1", "contact", "gold", "account manager", 24, "call", figs, ["Gold tier."])
    start, end = datetime(2024, 6, 1, tzinfo=UTC), datetime(2024, 6, 30, 23, 59, tzinfo=UTC)
    assert _due(a, {}, start, end) == date(2024, 6, 1)
    assert a.figures["overdue_since"] == "2023-05-30"
    assert a.reasons[1] == "Overdue since 2023-05-30: due now, on 2024-06-01."
    fresh = Action(
        "C2",
        "contact",
        "gold",
        "account manager",
        24,
        "call",
        {"last_contact": "2024-04-01", "contact_every_days": 90},
        [],
    )
    assert _due(fresh, {}, start, end) == date(2024, 6, 30)
    assert "overdue_since" not in fresh.figures
