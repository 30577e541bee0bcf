"""The decisions stage writes through the Store on local Spark and gets DuckDB's answers.

The same small business (simulate(400, 12, seed=21)) is loaded into DuckDB and exported to Parquet for a
local Spark store. keepwise's own tables ``decision_log`` and ``outreach_actions`` exist on the Spark store
as real (empty) tables, as in a warehouse schema: a Spark store opened over a Parquet folder registers the
tables it lacks as read-only empty views, which cannot take rows yet (a Store matter, not the stage's).
Reference: the same calls on DuckDB (the engine every other decisions test uses).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from keepwise.config import Config
from keepwise.decisions import concession_log, outreach, winback
from keepwise.decisions.concession import ConcessionFigures, decide
from keepwise.decisions.service import Action, OutreachPlan, mark, save_plan, service_levels
from keepwise.jsonio import dumps
from keepwise.store import Store, as_store, connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order

pytestmark = [
    pytest.mark.spark,
    # PySpark 4.0's toPandas under pandas 3, not keepwise
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
    pytest.mark.filterwarnings("ignore:createDataFrame attempted Arrow optimization"),
]

OWN_TABLES = ("decision_log", "outreach_actions")


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory):
    """``{"duckdb": Store, "spark": Store}`` holding the same business."""
    from keepwise.datasets import simulate
    from keepwise.store.spark import SMALL_DATA_CONF, connect_spark, export_parquet

    root: Path = tmp_path_factory.mktemp("decisions-spark")
    biz = simulate(customers=400, months=12, seed=21)
    duck = connect(f"duckdb:///{root / 'store.duckdb'}")
    for name in load_order(set(biz.tables)):
        load_frame(duck, name, biz.tables[name], source=name)
    export_parquet(duck, root / "parquet")
    spark = as_store(
        connect_spark(
            f"spark-local?partitions=2&dir={root / 'work'}&data={root / 'parquet'}", conf=SMALL_DATA_CONF
        )
    )
    for name in OWN_TABLES:
        spark.backend._session.catalog.dropTempView(name)
        spark.drop(name)  # a table another module left in this process's one Spark session
        spark.backend.create_table(name, schema=duck.table(name).schema())
    yield {"duckdb": duck, "spark": spark}, sorted(biz.tables["customers"]["customer_id"])[:3]
    spark.disconnect()
    duck.disconnect()


def _figures(customer_id: str) -> ConcessionFigures:
    return ConcessionFigures(
        customer_id=customer_id,
        currency="USD",
        future_margin=Decimal("300"),
        replacement_cost=Decimal("50"),
        word_of_mouth_loss=Decimal("20"),
        p_without=0.4,
        p_with=0.2,
        reduction_low=0.1,
        reduction_high=0.3,
    )


def _log_and_follow_through(store: Store, customers: list[str]) -> dict[str, object]:
    cfg = Config()
    ids = [
        concession_log.log_advice(
            store,
            decide(_figures(c), Decimal(40 + 100 * i), cfg.decisions),
            pd.Timestamp(f"2024-0{3 + i}-10T09Z"),
        )
        for i, c in enumerate(customers)
    ]
    record = concession_log.record_action(store, ids[0], "granted")
    actions = [
        Action(c, "contact", "gold", "account manager", 24, "contact", {}, ["r1", "r2"], None, "email")
        for c in customers
    ]
    plan = OutreachPlan(
        "2024-06",
        datetime(2024, 7, 1, tzinfo=UTC),
        "USD",
        service_levels(cfg.decisions),
        pd.DataFrame(),
        actions,
    )
    first = save_plan(store, plan, datetime(2024, 7, 1, tzinfo=UTC))
    marked = mark(
        store, "2024-06", customers[0], "contact", note="called", at=datetime(2024, 7, 2, tzinfo=UTC)
    )
    again = save_plan(store, plan, datetime(2024, 7, 3, tzinfo=UTC))
    return {
        "ids": ids,
        "record": {k: str(v) for k, v in record.items()},
        "saves": [first, again],
        "mark": {k: str(v) for k, v in marked.items()},
    }


def test_decision_log_and_outreach_follow_through_on_spark(stores):
    engines, customers = stores
    got = {name: _log_and_follow_through(store, customers) for name, store in engines.items()}
    assert got["spark"] == got["duckdb"]
    assert got["duckdb"]["saves"] == [
        {"saved": 3, "kept": 0, "rows": 3},
        {"saved": 2, "kept": 1, "rows": 3},
    ]


def test_outcomes_report_and_winback_table_on_spark(stores):
    engines, _ = stores
    got = {}
    for name, store in engines.items():
        report = concession_log.concession_report(store, window_days=60).to_json()
        result = winback.run(store, config=Config())
        doc = json.loads(dumps(result.to_json()))
        got[name] = {
            "report": report,
            "winback": doc,
            "rows": store.count(winback.TABLE),
            "document": store.load_document("winback", result.month) == doc,
        }
        winback.run(store, config=Config())
        assert store.count(winback.TABLE) == got[name]["rows"]
    assert got["spark"] == got["duckdb"]
    assert got["duckdb"]["document"]


def test_outreach_plan_saved_on_spark(stores):
    engines, _ = stores
    got = {}
    for name, store in engines.items():
        result = outreach.run(store, config=Config())
        got[name] = json.loads(dumps(result.to_json()))
        assert store.load_document("outreach", result.month) == got[name]
        assert store.count("outreach_actions", where={"month": result.month}) == len(result.plan.actions)
    assert got["spark"] == got["duckdb"]
    assert got["duckdb"]["actions"]
