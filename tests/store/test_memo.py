"""keepwise.store.memo: figures computed once per run, never kept past it or past a write."""

from __future__ import annotations

import pandas as pd

from keepwise.store import memo
from keepwise.value.profitability import customer_ledger, profitability


def _calls() -> tuple[list[tuple[object, ...]], object]:
    seen: list[tuple[object, ...]] = []

    @memo.once
    def figure(store: object, month: str, view: str = "month") -> pd.DataFrame:
        seen.append((month, view))
        return pd.DataFrame({"n": [len(seen)]})

    return seen, figure


def test_once_computes_each_distinct_call_once_inside_a_run_and_always_outside(store):
    seen, figure = _calls()
    figure(store, "2024-05")
    figure(store, "2024-05")
    assert len(seen) == 2  # outside a run nothing is cached
    with memo.one_run(store):
        a = figure(store, "2024-05")
        b = figure(store, "2024-05", view="month")  # the default filled in: the same call
        c = figure(store, "2024-05", "ttm")
        a["extra"] = 1  # a caller's new column does not reach the cache
        assert list(figure(store, "2024-05").columns) == ["n"]
    assert seen == [("2024-05", "month"), ("2024-05", "month"), ("2024-05", "month"), ("2024-05", "ttm")]
    assert b["n"].iloc[0] == 3 and c["n"].iloc[0] == 4
    figure(store, "2024-05")
    assert len(seen) == 5  # the run is over


def test_a_write_drops_what_the_run_cached(store):
    seen, figure = _calls()
    store.append("notes_table", pd.DataFrame({"x": [1]}))
    with memo.one_run(store):
        figure(store, "2024-05")
        store.append("notes_table", pd.DataFrame({"x": [2]}))
        figure(store, "2024-05")
        assert store.count("notes_table") == 2
    assert len(seen) == 2


def test_the_ledger_is_kept_in_one_temporary_table_for_the_run_and_dropped_after(tmp_path):
    from keepwise.datasets.simulate import simulate
    from keepwise.store import connect
    from keepwise.store.ingest import load_frame
    from keepwise.store.schema import load_order

    biz = simulate(customers=150, months=14, seed=3)
    store = connect(f"duckdb:///{tmp_path}/small.duckdb")
    for name in load_order():
        frame = getattr(biz, name, None)
        if frame is not None and len(frame):
            load_frame(store, name, frame)
    outside = profitability(store, "2025-02", view="ttm")
    with memo.one_run(store):
        ledger = customer_ledger(store, "2025-02", view="ttm")
        assert customer_ledger(store, "2025-02", view="ttm") is ledger
        temps = [t for t in store.tables() if t.startswith("_kw_run_")]
        assert len(temps) == 1
        inside = profitability(store, "2025-02", view="ttm")
    assert not [t for t in store.tables() if t.startswith("_kw_run_")]
    pd.testing.assert_frame_equal(inside, outside)
    assert outside["revenue"].sum() > 0
