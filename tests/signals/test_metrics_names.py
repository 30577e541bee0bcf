"""Retention metrics named for what they measure, and revenue retention that says when its history is short.

Issue 17, item 6: the monthly ``churn_rate`` was the share of last month's buyers who did not buy this month
(``no_purchase_rate``); "customers from a year ago brought 168% of their revenue of the year before" was
computed on six months of history without saying so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import ibis
import pandas as pd

from keepwise.report.sections.metrics import section
from keepwise.signals.metrics import compute_metrics
from keepwise.signals.period import ReviewPeriod


def _orders(rows: list[tuple[str, str, float]]) -> ibis.Table:
    frame = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "value"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], utc=True)
    return ibis.memtable(frame)


def test_no_purchase_rate_is_last_months_buyers_who_did_not_buy_this_month():
    # January: A, B, C buy; February: only A buys again (and D, new): 2 of 3 did not buy -> 0.6667
    ords = _orders(
        [
            ("A", "2024-01-05", 10),
            ("B", "2024-01-06", 10),
            ("C", "2024-01-07", 10),
            ("A", "2024-02-03", 10),
            ("D", "2024-02-04", 10),
        ]
    )
    m = compute_metrics(ords, ReviewPeriod.of("2024-02"))
    assert "churn_rate" not in m and m["no_purchase_rate"] == 0.6667
    assert [r["no_purchase_rate"] for r in m["monthly"]] == [None, 0.6667]
    assert all("churn_rate" not in r for r in m["monthly"] + m["cohorts"])


def test_revenue_retention_on_short_history_says_so():
    # history from 2024-01 to a review of 2025-06: 18 months, not the 24 it needs; the "year before" is six
    # months with 100 and the year after has 168, so 168% -- and the sentence must say it is a part year
    ords = _orders([("A", "2024-01-10", 100.0), ("A", "2025-03-10", 168.0)])
    m = compute_metrics(ords, ReviewPeriod.of("2025-06"))
    assert m["revenue_retention"] == 1.68 and m["revenue_retention_history_months"] == 18
    text = section(SimpleNamespace(signals=SimpleNamespace(metrics=m))).headline  # type: ignore[arg-type]
    assert "brought 168% of their revenue of the year before (computed on only 18 months of history" in text
    assert "the year before covers only 6 of its 12 months)" in text
    full = compute_metrics(
        _orders([("A", "2023-07-10", 100.0), ("A", "2024-07-10", 100.0), ("A", "2025-03-10", 168.0)]),
        ReviewPeriod.of("2025-06"),
    )
    assert full["revenue_retention_history_months"] == 24
    headline = section(SimpleNamespace(signals=SimpleNamespace(metrics=full))).headline  # type: ignore[arg-type]
    assert "computed on only" not in headline
    assert datetime(2025, 6, 1, tzinfo=UTC) == ReviewPeriod.of("2025-06").start
