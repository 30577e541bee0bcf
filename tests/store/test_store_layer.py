"""The Store's writes on a real DuckDB file: append, replace_month, upsert, update, delete, transactions.

The Spark side of the same calls is checked in tests/spark (engine-parametrised stage tests).
"""

from __future__ import annotations

import pandas as pd
import pytest

from keepwise.store import Store, as_store, connect


@pytest.fixture
def store(tmp_path):
    s = connect(f"duckdb:///{tmp_path / 'kw.duckdb'}")
    yield s
    s.disconnect()


def test_connect_returns_a_store_that_is_also_the_ibis_backend(store):
    assert isinstance(store, Store)
    assert as_store(store) is store
    assert "orders" in store.list_tables()
    assert store.count("orders") == 0


def test_replace_month_keeps_other_months(store):
    store.replace_month("review_x", "2024-01", pd.DataFrame({"a": [1, 2]}))
    store.replace_month("review_x", "2024-02", pd.DataFrame({"a": [3]}))
    store.replace_month("review_x", "2024-01", pd.DataFrame({"a": [7, 8, 9]}))
    df = store.read("review_x", order_by=["review_month", "a"])
    assert df.review_month.tolist() == ["2024-01"] * 3 + ["2024-02"]
    assert df.a.tolist() == [7, 8, 9, 3]


def test_upsert_replaces_by_key_and_update_delete_count(store):
    store.upsert("kv", pd.DataFrame({"k": ["a", "b"], "v": [1, 2]}), key=["k"])
    store.upsert("kv", pd.DataFrame({"k": ["b", "c"], "v": [20, 30]}), key=["k"])
    assert store.read("kv", order_by=["k"]).v.tolist() == [1, 20, 30]
    assert store.update("kv", {"v": 5}, {"k": "a"}) == 1
    assert store.delete("kv", {"k": "c"}) == 1
    assert store.read("kv", order_by=["k"]).to_dict("list") == {"k": ["a", "b"], "v": [5, 20]}


def test_transaction_rolls_back_every_write(store):
    store.append("kv", pd.DataFrame({"k": ["a"], "v": [1]}))
    with pytest.raises(RuntimeError), store.transaction():
        store.append("kv", pd.DataFrame({"k": ["b"], "v": [2]}))
        store.update("kv", {"v": 9}, {"k": "a"})
        raise RuntimeError("boom")
    assert store.read("kv").to_dict("list") == {"k": ["a"], "v": [1]}


def test_literals_are_escaped(store):
    store.append("kv", pd.DataFrame({"k": ["o'brien"], "v": [1]}))
    assert store.delete("kv", {"k": "o'brien"}) == 1
    assert store.sql("SELECT count(*) FROM kv WHERE k = ?", ["x'); DROP TABLE kv; --"]) == [(0,)]


def test_documents_round_trip_and_replace(store):
    from decimal import Decimal

    assert store.load_document("winback", "2024-01") is None
    store.save_document("winback", "2024-01", {"total": Decimal("1.50"), "rows": [1, 2]})
    store.save_document("winback", "2024-01", {"total": Decimal("2.50"), "rows": [3]})
    store.save_document("winback", "2024-02", {"total": "x"})
    assert store.load_document("winback", "2024-01") == {"total": "2.50", "rows": [3]}
    assert store.count("stage_documents") == 2
