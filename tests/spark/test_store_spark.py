"""The Store's writes on local Spark give the same tables as on DuckDB (tests/store/test_store_layer.py).

Spark's Parquet tables cannot delete or update rows in place; the Store rewrites them through a staging
table. The same sequence of calls runs on a fresh DuckDB store and on the session's Spark store, and the
tables must then hold the same rows.
"""

from __future__ import annotations

import pandas as pd
import pytest

from keepwise.store import as_store, connect

pytestmark = [pytest.mark.spark, pytest.mark.filterwarnings("ignore:The copy keyword is deprecated")]


def _writes(store, prefix: str) -> dict[str, pd.DataFrame]:
    kv, months = f"{prefix}_kv", f"{prefix}_months"
    for t in (kv, months):
        store.drop(t)
    store.upsert(kv, pd.DataFrame({"k": ["a", "b"], "v": [1, 2]}), key=["k"])
    store.upsert(kv, pd.DataFrame({"k": ["b", "c"], "v": [20, 30]}), key=["k"])
    store.update(kv, {"v": 5}, {"k": "a"})
    store.delete(kv, {"k": "c"})
    store.append(kv, pd.DataFrame({"k": ["o'brien"], "v": [7]}))
    store.replace_month(months, "2024-01", pd.DataFrame({"a": [1, 2]}))
    store.replace_month(months, "2024-02", pd.DataFrame({"a": [3]}))
    store.replace_month(months, "2024-01", pd.DataFrame({"a": [7, 8, 9]}))
    store.save_document("winback", "2024-01", {"n": 1})
    store.save_document("winback", "2024-01", {"n": 2})
    return {
        "kv": store.read(kv, order_by=["k"]).reset_index(drop=True),
        "months": store.read(months, order_by=["review_month", "a"]).reset_index(drop=True),
        "doc": pd.DataFrame([store.load_document("winback", "2024-01")]),
    }


def test_store_writes_agree_on_duckdb_and_spark(spark, tmp_path):
    duck = connect(f"duckdb:///{tmp_path / 'kw.duckdb'}")
    expected = _writes(duck, "t")
    got = _writes(as_store(spark), "t")
    assert expected["kv"].to_dict("list") == {"k": ["a", "b", "o'brien"], "v": [5, 20, 7]}
    assert expected["months"].a.tolist() == [7, 8, 9, 3]
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame, check_dtype=False)
    duck.disconnect()
