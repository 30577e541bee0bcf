"""One simulated business in a DuckDB file, its Parquet export, and one local Spark session for the file.

Spark starts once (about 10-20 s on two cores) and is shared by every test in tests/spark/.
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from keepwise.datasets import simulate
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.spark import (
    SMALL_DATA_CONF,
    connect_spark,
    export_parquet,
    parse_spark_url,
    register_parquet,
    spark_session,
)

TABLES = ("customers", "products", "orders")


@pytest.fixture(scope="session")
def spark_boot(tmp_path_factory: pytest.TempPathFactory):
    """Start the JVM in the background while the business is simulated and loaded (it takes 10-20 s)."""
    url = f"spark-local?partitions=2&dir={tmp_path_factory.mktemp('spark-work')}"
    failures: list[BaseException] = []

    def boot() -> None:
        try:
            spark_session(parse_spark_url(url), conf=SMALL_DATA_CONF)
        except BaseException as exc:  # reported by the spark fixture
            failures.append(exc)

    thread = threading.Thread(target=boot, daemon=True)
    thread.start()
    return thread, url, failures


@pytest.fixture(scope="session")
def business(spark_boot):
    """400 customers over 12 months (about 4,000 order lines), seed 21."""
    return simulate(customers=400, months=12, seed=21)


@pytest.fixture(scope="session")
def duck(business, tmp_path_factory: pytest.TempPathFactory):
    """The business loaded into a real DuckDB file through keepwise's validated loads."""
    url = f"duckdb:///{tmp_path_factory.mktemp('spark-duck') / 'store.duckdb'}"
    backend = connect(url)
    for name in TABLES:
        load_frame(backend, name, business.tables[name], source=name)
    yield backend
    backend.disconnect()


@pytest.fixture(scope="session")
def parquet_dir(duck, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The DuckDB store exported as TABLE.parquet files: what a warehouse export hands to Spark."""
    folder = tmp_path_factory.mktemp("spark-parquet")
    written = export_parquet(duck, folder)
    assert sorted(written) == sorted(TABLES)
    return folder


@pytest.fixture(scope="session")
def spark_session_store(spark_boot, parquet_dir: Path):
    """A Spark store (local[2]) over the Parquet export, opened through its store URL; stopped at the end."""
    thread, url, failures = spark_boot
    thread.join()
    if failures:
        raise failures[0]
    backend = connect_spark(f"{url}&data={parquet_dir}", conf=SMALL_DATA_CONF)
    backend.owns_session = True  # started by spark_boot for this backend
    yield backend
    backend.disconnect()


@pytest.fixture(scope="module")
def spark(spark_session_store, parquet_dir: Path):
    """The Spark store, with this business's export registered again for each test module.

    Spark allows one session per process, so a test module elsewhere (tests/decisions, tests/conjoint,
    tests/messages) that ran earlier in the same pytest worker may have registered its own data under the
    contract's table names; each module here starts from this business's tables again.
    """
    register_parquet(spark_session_store, parquet_dir)
    return spark_session_store
