"""Outreach reads the review's warnings in the review's order on both engines, however the rows are stored.

A table's rows come back in no promised order without ``ORDER BY`` (PostgreSQL returns them as they lie in
its heap, DuckDB mostly as inserted); the warning kinds outreach lists for a customer follow the review's
``rank``.
"""

from __future__ import annotations

import pandas as pd

from keepwise.decisions.service.activity import _warnings
from keepwise.store import connect


def test_warning_kinds_follow_the_reviews_rank_on_each_engine(engine_url: str):
    stored = pd.DataFrame(
        {  # inserted out of rank order; another month's rows between
            "review_month": ["2024-03", "2024-02", "2024-03", "2024-03", "2024-03"],
            "rank": [4, 1, 1, 3, 2],
            "customer_id": ["C1", "C9", "C2", "C1", "C1"],
            "kind": ["overdue", "overdue", "aov_decline", "dropped_category", "aov_decline"],
        }
    )
    store = connect(engine_url)
    try:
        store.append("review_warnings", stored)
        found = _warnings(store, "2024-03")
    finally:
        store.disconnect()
    assert list(found.items()) == [
        ("C2", ["aov_decline"]),
        ("C1", ["aov_decline", "dropped_category", "overdue"]),
    ]
