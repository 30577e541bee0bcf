"""The same Ibis feature expressions on DuckDB and on Spark (local mode) give the same per-customer results.

One backend-independent check per feature, run on both engines side by side; the compressed (x, t_x, T)
histogram that model fitting uses is also checked against a second implementation in pandas
(:func:`keepwise.models.summary_from_transactions` on the raw order lines).
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from keepwise import features
from keepwise.commands.fit import fit_model
from keepwise.exceptions import KeepwiseInputError
from keepwise.features.btyd import customer_summary, purchase_days_until, rft_histogram
from keepwise.models import BetaGeoModel, summary_from_transactions
from keepwise.store import connect
from keepwise.store.spark import (
    check_java,
    copy_from_duckdb,
    from_session,
    parse_spark_url,
    register_parquet,
)


def spark_is_running() -> bool:
    from pyspark import SparkContext

    return SparkContext._active_spark_context is not None


pytestmark = [
    pytest.mark.spark,
    # PySpark 4.0's toPandas under pandas 3, not keepwise
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

AS_OF = datetime(2024, 11, 1, tzinfo=UTC)
SPLIT = datetime(2024, 8, 1, tzinfo=UTC)
END = date(2024, 10, 31)


def _expr(name: str, backend):
    lines = features.order_lines(backend, AS_OF)
    ords = features.orders(lines)
    return {
        "rfm": lambda: features.rfm(ords, AS_OF),
        "cadence": lambda: features.cadence(ords, AS_OF),
        "aov_windows": lambda: features.aov_windows(ords, SPLIT),
        "monthly_aov": lambda: features.monthly_aov(ords),
        "category_runs": lambda: features.category_runs(lines, ords),
        "category_cadence": lambda: features.category_cadence(lines, AS_OF),
    }[name]()


KEYS = {
    "rfm": ["customer_id"],
    "cadence": ["customer_id"],
    "aov_windows": ["customer_id"],
    "monthly_aov": ["customer_id", "month"],
    "category_runs": ["customer_id", "category"],
    "category_cadence": ["customer_id", "category"],
}


def _utc(s: pd.Series) -> pd.Series:
    """Timestamps as UTC instants (truncated timestamps come back without a zone on both engines)."""
    s = s.dt.tz_localize("UTC") if s.dt.tz is None else s.dt.tz_convert("UTC")
    return s.dt.as_unit("us")


def _assert_same(duck_df: pd.DataFrame, spark_df: pd.DataFrame, keys: list[str]) -> None:
    assert list(spark_df.columns) == list(duck_df.columns)
    for k in keys:
        if pd.api.types.is_datetime64_any_dtype(duck_df[k]):
            duck_df[k], spark_df[k] = _utc(duck_df[k]), _utc(spark_df[k])
    a = duck_df.sort_values(keys).reset_index(drop=True)
    b = spark_df.sort_values(keys).reset_index(drop=True)
    assert len(a) == len(b)
    for col in a.columns:
        x, y = a[col], b[col]
        if pd.api.types.is_datetime64_any_dtype(x):
            pd.testing.assert_series_equal(_utc(x), _utc(y), obj=col)
        elif pd.api.types.is_float_dtype(x):
            # sums of doubles run in a different order on Spark's partitions: equal to 12 significant digits
            np.testing.assert_allclose(y.to_numpy(float), x.to_numpy(float), rtol=1e-12, atol=0, err_msg=col)
        elif x.dtype == object and x.dropna().map(type).eq(Decimal).all():
            # money: exact decimals (Decimal("1.50") == Decimal("1.5000"))
            assert x.isna().equals(y.isna()), col
            assert (x.dropna() == y.dropna()).all(), col
            assert y.dropna().map(type).eq(Decimal).all(), col
        else:
            assert x.tolist() == y.tolist(), col


@pytest.fixture(scope="module")
def results(duck, spark):
    """Each feature computed once per engine: name -> (DuckDB frame, Spark frame)."""
    cache: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}

    def get(name: str) -> tuple[pd.DataFrame, pd.DataFrame]:
        if name not in cache:
            cache[name] = (_expr(name, duck).to_pandas(), _expr(name, spark).to_pandas())
        return cache[name]

    return get


@pytest.mark.parametrize("name", list(KEYS))
def test_feature_is_the_same_on_duckdb_and_spark(name, results):
    d, s = (df.copy() for df in results(name))
    assert len(d) > 300  # 400 simulated customers: a real comparison, not of two empty frames
    _assert_same(d, s, KEYS[name])


def test_spark_timestamps_come_back_in_utc(results):
    d, s = results("rfm")
    assert str(s["first_order_at"].dt.tz) == "UTC"
    first = s.set_index("customer_id")["first_order_at"]
    assert first["C0001"] == d.set_index("customer_id")["first_order_at"]["C0001"]


def _histogram(backend) -> pd.DataFrame:
    days, end = purchase_days_until(backend, END)
    h = rft_histogram(customer_summary(days, end, "week"))
    return h.sort_values(["x", "t_x", "T"]).reset_index(drop=True)


@pytest.fixture(scope="module")
def histograms(duck, spark):
    return _histogram(duck), _histogram(spark)


def test_compressed_tuples_are_identical(histograms, business):
    on_duck, on_spark = histograms
    pd.testing.assert_frame_equal(on_spark, on_duck)
    # a second implementation: pandas on the raw order lines (orders of value >= 0, same-day orders merged)
    lines = business.orders.assign(value=business.orders.quantity * business.orders.unit_price)
    orders = lines.groupby("order_id").agg(customer_id=("customer_id", "first"), at=("ordered_at", "min"))
    orders["value"] = lines.groupby("order_id")["value"].sum().round(2)
    orders = orders[(orders.value >= 0) & (orders["at"] < pd.Timestamp("2024-11-01", tz="UTC"))]
    summ = summary_from_transactions(
        orders, "customer_id", "at", observation_period_end=END, time_unit="week"
    )
    summ = summ.round(10)
    expected = (
        summ.groupby(["frequency", "recency", "T"])
        .size()
        .reset_index(name="count")
        .set_axis(on_spark.columns, axis=1)
    )
    assert on_spark["count"].sum() == len(summ) > 300
    pd.testing.assert_frame_equal(on_spark, expected.astype(on_spark.dtypes.to_dict()))


def test_bgnbd_fit_on_spark_tuples_equals_the_duckdb_fit(histograms, duck, spark):
    on_duck, on_spark = histograms
    fits = []
    for h in (on_duck, on_spark):
        fits.append(BetaGeoModel().fit(h["x"], h["t_x"], h["T"], weights=h["count"]))
    assert fits[1].params_ == pytest.approx(fits[0].params_, rel=1e-10)
    assert fits[1].log_likelihood_ == pytest.approx(fits[0].log_likelihood_, rel=1e-12)


def test_keepwise_fit_runs_on_a_spark_url(histograms, parquet_dir, spark):
    """The `keepwise fit` path from a store URL: spark-local?data=DIR joins the running session."""
    model, info = fit_model("bgnbd", db=f"spark-local?data={parquet_dir}", calibration_end=END)
    on_duck = histograms[0]
    assert info["unique_tuples"] == len(on_duck)
    reference = BetaGeoModel().fit(on_duck["x"], on_duck["t_x"], on_duck["T"], weights=on_duck["count"])
    # the same tuples in Spark's row order (the fit ends with a Newton step, so row order does not matter)
    assert model.params_ == pytest.approx(reference.params_, rel=1e-9)
    assert spark_is_running()


def test_parquet_export_columns_are_cast_to_the_contract(spark, tmp_path: Path):
    """A warehouse export with money as doubles and times as zoned text reads as decimals and UTC instants."""
    pq.write_table(
        pa.table(
            {
                "order_id": ["1", "2"],
                "line_no": [1, 1],  # an integer id in the export: read as text
                "customer_id": ["A", "A"],
                "ordered_at": ["2024-03-01T10:00:00+02:00", "2024-03-02 00:30:00"],  # the second has no zone
                "quantity": [2.0, -1.0],
                "unit_price": [19.99, 19.99],
                "currency": ["USD", "USD"],
                "warehouse_row_id": [11, 12],  # not in the contract: dropped
            }
        ),
        tmp_path / "orders.parquet",
    )
    backend = from_session(spark._session.newSession())  # its own temporary views
    found = register_parquet(backend, tmp_path)
    assert found["orders"].endswith("orders.parquet") and found["customers"] == ""
    t = backend.table("orders")
    assert t.schema()["unit_price"].is_decimal() and "warehouse_row_id" not in t.columns
    df = t.order_by("order_id").to_pandas()
    assert df["unit_price"].tolist() == [Decimal("19.99"), Decimal("19.99")]
    assert df["ordered_at"].tolist() == [
        pd.Timestamp("2024-03-01T08:00:00", tz="UTC"),
        pd.Timestamp("2024-03-02T00:30:00", tz="UTC"),
    ]
    assert df["line_no"].tolist() == ["1", "1"]
    assert backend.table("customers").count().to_pyarrow().as_py() == 0
    pq.write_table(pa.table({"order_id": ["1"], "customer_id": ["A"]}), tmp_path / "orders.parquet")
    with pytest.raises(KeepwiseInputError, match=r"orders lacks required column\(s\) line_no, ordered_at"):
        register_parquet(backend, tmp_path)


def test_copy_from_duckdb_moves_the_named_tables(duck, spark):
    backend = from_session(spark._session.newSession())
    found = copy_from_duckdb(duck, backend, tables=["products"])
    assert list(found) == ["products"] and "warehouse" in found["products"]
    assert "orders" not in backend.list_tables()
    on_spark = backend.table("products").order_by("product_id").to_pyarrow()
    on_duck = duck.table("products").order_by("product_id").to_pyarrow()
    assert on_spark.num_rows == on_duck.num_rows == 66
    assert on_spark.column("unit_cost").to_pylist() == on_duck.column("unit_cost").to_pylist()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("spark://", "names no master host and port"),
        ("spark://cluster", "names no master host and port"),
        ("spark://cluster:port", "names no master host and port"),
        ("spark-locale", "is not understood"),
        ("spark-local?cores=4", "unknown parameter 'cores'"),
        ("spark-local?partitions=0", "partitions must be a whole number >= 1"),
        ("spark-local?data=/no/such/folder", "data folder '/no/such/folder' does not exist"),
    ],
)
def test_malformed_spark_url_is_a_one_line_input_error(url, message):
    with pytest.raises(KeepwiseInputError, match=message) as caught:
        connect(url)
    assert "\n" not in str(caught.value)


def test_spark_url_parts():
    s = parse_spark_url("spark://10.1.2.3:7077?partitions=64")
    assert (s.master, s.partitions, s.data) == ("spark://10.1.2.3:7077", 64, None)
    assert parse_spark_url("spark-local").master == "local[2]"


def _fake_java(folder: Path, banner: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "bin").mkdir()
    java = folder / "bin" / "java"
    java.write_text(f"#!/bin/sh\necho '{banner}' >&2\n")
    java.chmod(0o755)
    return folder


def test_missing_or_old_java_is_a_one_line_input_error(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nojava"))
    with pytest.raises(KeepwiseInputError, match=r"Spark needs Java \(JAVA_HOME=.* has no bin/java\)"):
        connect("spark-local")
    monkeypatch.delenv("JAVA_HOME")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(KeepwiseInputError, match=r"no java on PATH\): install Java 17 or newer"):
        connect("spark-local")
    monkeypatch.setenv(
        "JAVA_HOME", str(_fake_java(tmp_path / "jdk11", 'openjdk version "11.0.2" 2019-01-15'))
    )
    with pytest.raises(KeepwiseInputError, match="Spark 4 needs Java 17 or newer, found Java 11"):
        connect("spark-local")
    monkeypatch.setenv("JAVA_HOME", str(_fake_java(tmp_path / "jdk8", 'java version "1.8.0_402"')))
    with pytest.raises(KeepwiseInputError, match="found Java 8"):
        check_java()
    monkeypatch.setenv(
        "JAVA_HOME", str(_fake_java(tmp_path / "jdk21", 'openjdk version "21.0.4" 2024-07-16'))
    )
    assert check_java() == 21
    assert os.environ["JAVA_HOME"].endswith("jdk21")
