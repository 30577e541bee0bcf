"""The flows on a Spark store: a dry run (reads only) counts what DuckDB counts; queueing is refused clearly.

The shop of test_flows.py is exported from its DuckDB store as Parquet and opened as a local Spark store
(``spark-local?data=DIR``), as tests/spark/ does with a simulated business.
"""

from __future__ import annotations

import pytest

from keepwise.exceptions import KeepwiseInputError
from keepwise.messages import flows, outbox, send
from keepwise.store.spark import SMALL_DATA_CONF, connect_spark, export_parquet
from keepwise.store.store import as_store

from .conftest import NOW
from .test_flows import config, shop  # noqa: F401  (the shop fixture)

pytestmark = [
    pytest.mark.spark,
    # PySpark 4.0's toPandas under pandas 3, not keepwise
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


def test_a_dry_run_on_spark_counts_what_duckdb_counts_and_queueing_is_refused(shop, cfg, tmp_path):  # noqa: F811
    conf = config(cfg, thanks={"top_share": 0.25})
    on_duckdb = flows.run(shop, as_of=NOW, config=conf, dry_run=True).to_json()
    export_parquet(shop, tmp_path / "parquet")
    spark = as_store(
        connect_spark(
            f"spark-local?partitions=2&dir={tmp_path / 'spark'}&data={tmp_path / 'parquet'}",
            conf=SMALL_DATA_CONF,
        )
    )
    try:
        assert spark.is_spark
        on_spark = flows.run(spark, as_of=NOW, config=conf, dry_run=True).to_json()
        assert on_spark == on_duckdb
        assert sum(on_spark["due"].values()) == 6 and on_spark["queued"] + on_spark["held_out"] == 6
        refused = r"the outbox needs a transactional store \(DuckDB or PostgreSQL\) .* runs on Spark"
        with pytest.raises(KeepwiseInputError, match=refused):
            flows.run(spark, as_of=NOW, config=conf)
        with pytest.raises(KeepwiseInputError, match=refused):
            send.run(spark, config=conf)
        with pytest.raises(KeepwiseInputError, match=refused):
            outbox.run_report(spark)
    finally:
        spark.disconnect()
