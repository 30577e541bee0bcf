"""What the parts tests of every engine share (tests/web, tests/postgres): tricky items, a round trip."""

from __future__ import annotations

from typing import Any

import pandas as pd

from keepwise.store import documents

#: Items whose JSON an engine could write back differently: floats, big integers, escapes, nesting, nulls.
TRICKY = [
    {
        "customer_id": f"C-{i}'\"\\ é",
        "action": "call" if i % 2 else "letter",
        "value": "12.50",
        "score": [0.1, 1e-07, 2.5e21, -0.0, 1 / 3][i % 5],
        "count": 2**62 + i,
        "flags": [True, False, None],
        "nested": {"a": [1, {"b": "ü\n\t"}], "empty": {}},
    }
    for i in range(130)
]


def parts_round_trip(store: Any) -> None:
    """Save a document with a long list of :data:`TRICKY` items; every way of reading it gives it back."""
    doc = {"month": "2025-01", "actions": TRICKY, "numbers": list(range(150)), "total": "1.00"}
    store.save_document("outreach", "2025-01", doc)
    assert store.load_document("outreach", "2025-01") == doc
    written = store.read("stage_documents", columns=["written_at"])["written_at"].iloc[0]
    head = documents.head(store, "outreach", "2025-01", written)
    assert head is not None and head.lists == {"actions": 130, "numbers": 150}
    assert documents.items(store, "outreach", "2025-01", "actions", 0, 130) == TRICKY
    got = documents.pages(store, "outreach", "2025-01", {"actions": (125, 200), "numbers": (3, 5)})
    assert got == {"actions": TRICKY[125:], "numbers": [3, 4]}
    keys = store.read(documents.PARTS, columns=["part", "position", "customer_id", "action"])
    actions = keys[keys["part"] == "actions"].sort_values("position")
    assert list(actions["customer_id"]) == [t["customer_id"] for t in TRICKY]
    assert list(actions["action"]) == [t["action"] for t in TRICKY]
    assert keys[keys["part"] == "numbers"]["customer_id"].isna().all()
    marks = pd.DataFrame(
        {
            "customer_id": [t["customer_id"] for t in TRICKY[:7]] + ["nobody"],
            "action": [t["action"] for t in TRICKY[:7]] + ["call"],
            "month": ["2025-01"] * 7 + ["2025-01"],
            "status": ["done"] * 3 + ["skipped"] * 4 + ["done"],
        }
    )
    store.replace("marks", marks)
    counted = documents.count_by_match(
        store, "outreach", "2025-01", "actions", "marks", ("customer_id", "action"), "status",
        {"month": "2025-01"},
    )  # fmt: skip
    assert counted == {"done": 3, "skipped": 4, None: 123}
