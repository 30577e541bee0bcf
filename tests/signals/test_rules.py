"""Each warning rule on small hand-made histories: it fires on the pattern and stays quiet on noise."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from keepwise import features
from keepwise.exceptions import KeepwiseInputError
from keepwise.signals import (
    ReviewPeriod,
    aov_decline,
    dropped_category,
    last_complete_month,
    lost_status,
    overdue,
    parse_month,
    prepare,
)


def _inputs(b, month="2024-12"):
    period = ReviewPeriod.of(month)
    lines = features.order_lines(b, period.end)
    ords = features.orders(lines)
    status = lost_status(b, ords, period)
    return prepare(lines, ords, period, set(status.loc[status["lost"], "customer_id"]))


def _every(start: date, days: int, count: int) -> list[str]:
    return [(start + timedelta(days=days * i)).isoformat() for i in range(count)]


def test_overdue_fires_on_a_stopped_monthly_buyer_only(store):
    rng = np.random.default_rng(1)
    orders = []
    # S: every 30 days until 2024-09-01, then nothing (122 days silent at the end of December, short of
    # the ledger's 180 days)
    for i, at in enumerate(_every(date(2024, 1, 5), 30, 9)):
        orders.append((f"S{i}", "S", at, "coffee", 1, 50, 20))
    # R: every 30 days until December (still buying)
    for i, at in enumerate(_every(date(2024, 1, 3), 30, 12)):
        orders.append((f"R{i}", "R", at, "coffee", 1, 50, 20))
    # P: irregular buyer (exponential gaps), last order in late October
    day = date(2024, 1, 2)
    i = 0
    while day < date(2024, 10, 25):
        orders.append((f"P{i}", "P", day.isoformat(), "coffee", 1, 50, 20))
        day += timedelta(days=int(rng.exponential(25)) + 1)
        i += 1
    b = store([("S", None, None), ("R", None, None), ("P", None, None)], orders)
    got = overdue.detect(_inputs(b))
    assert list(got["customer_id"]) == ["S"]
    assert "usually orders every 30 days" in got.loc[0, "evidence"]
    assert got.loc[0, "value_at_risk"] > 0


def test_aov_decline_fires_on_a_falling_order_value_not_on_noise(store):
    rng = np.random.default_rng(3)
    orders = []
    start = date(2024, 1, 1)
    for cid, falling in (("F", True), ("N", False)):
        for i in range(48):  # about weekly through 2024
            at = start + timedelta(days=7 * i + 2)
            value = rng.gamma(6, 10)
            if falling and at >= date(2024, 10, 1):
                value *= 0.6 ** (at.month - 9)
            orders.append((f"{cid}{i}", cid, at.isoformat(), "coffee", 1, round(value, 2), 0))
    b = store([("F", None, None), ("N", None, None)], orders)
    got = aov_decline.detect(_inputs(b))
    assert list(got["customer_id"]) == ["F"]
    assert "average order fell from" in got.loc[0, "evidence"]


def test_aov_decline_needs_enough_orders(store):
    orders = [("A1", "A", "2024-01-10", "coffee", 1, 100, 0), ("A2", "A", "2024-12-10", "coffee", 1, 10, 0)]
    b = store([("A", None, None)], orders)
    assert aov_decline.detect(_inputs(b)).empty


def test_dropped_category_fires_while_other_ranges_continue(store):
    orders = []
    for i, at in enumerate(_every(date(2024, 1, 4), 30, 7)):  # tea monthly until July
        orders.append((f"T{i}", "D", at, "tea", 1, 20, 10))
    for i, at in enumerate(_every(date(2024, 1, 10), 14, 25)):  # coffee every two weeks all year
        orders.append((f"C{i}", "D", at, "coffee", 1, 30, 10))
    # K kept both ranges
    for i, at in enumerate(_every(date(2024, 1, 4), 30, 12)):
        orders.append((f"KT{i}", "K", at, "tea", 1, 20, 10))
    for i, at in enumerate(_every(date(2024, 1, 10), 14, 25)):
        orders.append((f"KC{i}", "K", at, "coffee", 1, 30, 10))
    b = store([("D", None, None), ("K", None, None)], orders)
    got = dropped_category.detect(_inputs(b))
    assert list(got["customer_id"]) == ["D"]
    assert got.loc[0, "categories"] == ["tea"]
    # margin of tea: 7 x 10 over 180 days -> 70 x 365.25 / 180
    assert got.loc[0, "value_at_risk"] == pytest.approx(70 * 365.25 / 180)


def test_lost_customers_get_no_warning(store):
    orders = [(f"S{i}", "S", at, "coffee", 1, 50, 20) for i, at in enumerate(_every(date(2024, 1, 5), 30, 7))]
    b = store([("S", None, None)], orders, [("S", "2024-08-01", "price", None)])
    assert overdue.detect(_inputs(b)).empty


def test_gap_test_probability_matches_the_t_formula():
    # n = 4 gaps with log mean log(30), sd 0.1; current gap 45 days
    row = pd.DataFrame(
        {
            "n_gaps": [4],
            "mean_log_gap": [np.log(30)],
            "var_log_gap": [0.01],
            "mean_gap_days": [30.0],
            "current_gap_days": [45.0],
        }
    )
    from scipy import stats

    expected = stats.t.sf((np.log(45) - np.log(30)) / (0.1 * np.sqrt(1 + 1 / 4)), 3)
    assert overdue.gap_test(row).loc[0, "p_gap"] == pytest.approx(expected)


@pytest.mark.parametrize("text", ["2024-13", "2024/06", "June", "24-06", ""])
def test_bad_month_is_a_user_error(text):
    with pytest.raises(KeepwiseInputError, match="write it as YYYY-MM"):
        parse_month(text)


def test_default_month_is_the_last_complete_one(store):
    b = store([("A", None, None)], [("1", "A", "2024-06-17", "tea", 1, 1, 0)])
    assert last_complete_month(b).month == "2024-05"
    b = store([("A", None, None)], [("1", "A", "2024-06-30T08:00:00Z", "tea", 1, 1, 0)])
    assert last_complete_month(b).month == "2024-06"
