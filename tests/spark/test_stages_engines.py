"""Every stage that keeps its results in the store, run through its front door on DuckDB and on local Spark.

The same business (tests/spark/conftest.py: simulate(400, 12, seed=21), customers, products and orders) is
in a fresh DuckDB file and in the session's Spark store. Each front door runs with ``save=True`` on both, and
the tables it wrote must hold the same rows (money compared to the cent, other numbers to 1e-6 relative;
Spark keeps some money columns as doubles where Ibis cannot send decimals with empty values).
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from keepwise.config import Config
from keepwise.store import as_store, connect
from keepwise.store.ingest import load_frame

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.filterwarnings("ignore:createDataFrame attempted Arrow optimization"),
]

TABLES = ("customers", "products", "orders")


def _profit(store, month):
    from keepwise.value import profit

    profit.run(store, month, config=Config(), save=True)
    return {"profit": ["month", "customer_id"]}


def _winback(store, month):
    from keepwise.decisions import winback

    winback.run(store, month, config=Config(), save=True)
    return {"winback": ["month", "customer_id"]}


def _outreach(store, month):
    from keepwise.decisions import outreach

    outreach.run(store, month, config=Config(), save=True)
    return {"outreach_actions": ["month", "customer_id", "action"]}


def _clv(store, month):
    from keepwise.value import clv

    clv.run(store, config=Config(), save=True, draws=0)
    return {"clv": ["as_of", "model", "customer_id"]}


STAGES = {"clv": _clv, "profit": _profit, "winback": _winback, "outreach": _outreach}


@pytest.fixture(scope="module")
def fresh_duck(business, tmp_path_factory):
    store = connect(f"duckdb:///{tmp_path_factory.mktemp('stages-duck') / 'store.duckdb'}")
    for name in TABLES:
        load_frame(store, name, business.tables[name], source=name)
    yield store
    store.disconnect()


def _comparable(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = df.copy()
    for col in out.columns:
        values = out[col].dropna()
        if len(values) and isinstance(values.iloc[0], Decimal):
            out[col] = out[col].map(lambda v: None if v is None or pd.isna(v) else float(v))
        elif pd.api.types.is_datetime64_any_dtype(out[col]):
            out[col] = pd.to_datetime(out[col], utc=True)
    drop = [c for c in ("recorded_at", "written_at", "saved_at", "computed_at") if c in out.columns]
    return out.drop(columns=drop).sort_values(keys).reset_index(drop=True)


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_a_stage_writes_the_same_table_on_duckdb_and_spark(stage, fresh_duck, spark):
    from keepwise.signals.period import last_complete_month

    month = last_complete_month(fresh_duck).month
    tables = STAGES[stage](fresh_duck, month)
    # the outreach plan reads the review's warnings: the fresh DuckDB store has none, and the review tests
    # of this worker may have left theirs in Spark's one session
    for table in [*tables, "review_warnings"]:  # and another module may have left rows in the session:
        for _ in range(2):  # a registered (empty) view of the name, then the catalog table under it
            as_store(spark).drop(table)
    STAGES[stage](as_store(spark), month)
    for table, keys in tables.items():
        expected = _comparable(fresh_duck.read(table), keys)
        got = _comparable(as_store(spark).read(table), keys)
        assert len(expected) > 0, f"{stage} wrote no rows to {table}"
        assert list(got.columns) == list(expected.columns)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False, rtol=1e-6, atol=0.005)
    # the stage's JSON document is stored on both engines, with the same figures
    if stage == "clv":  # its document is what the command prints; the table is what it keeps
        return
    kind = stage
    duck_doc = fresh_duck.load_document(kind, month)
    spark_doc = as_store(spark).load_document(kind, month)
    assert duck_doc is not None and spark_doc is not None
    assert duck_doc.get("month", month) == spark_doc.get("month", month)
