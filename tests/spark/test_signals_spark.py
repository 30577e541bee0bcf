"""The review's retention metrics, P(alive) inputs and warning rules on Spark equal those on DuckDB.

The same simulated business as tests/spark/test_spark.py (400 customers, 2024), reviewed for its last complete
month on both engines: counts must be equal, floats equal to 1e-9. The cohort counts and the reactivations
are also checked against a second implementation in pandas on the simulator's raw order lines.
"""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from keepwise import features
from keepwise.config import Config
from keepwise.review import run_review
from keepwise.signals import p_alive
from keepwise.signals.inputs import SignalInputs, prepare
from keepwise.signals.metrics import (
    REACTIVATION_DAYS,
    _revenue_retention,
    cohort_activity,
    compute_metrics,
)
from keepwise.signals.period import ReviewPeriod, last_complete_month
from keepwise.signals.warnings import detect_warnings

pytestmark = [
    pytest.mark.spark,
    # PySpark 4.0's toPandas under pandas 3, not keepwise
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

MONEY = re.compile(r"\$([\d,]+\.\d\d)")


@pytest.fixture(scope="module")
def period(duck, spark) -> ReviewPeriod:
    p = last_complete_month(duck)
    assert last_complete_month(spark) == p
    return p


@pytest.fixture(scope="module")
def engines(duck, spark, period):
    """name -> (lines, orders) expressions before the end of the review month, on each engine."""
    out = {}
    for name, backend in (("duckdb", duck), ("spark", spark)):
        lines = features.order_lines(backend, period.end)
        out[name] = (lines, features.orders(lines))
    return out


@pytest.fixture(scope="module")
def metrics(engines, period):
    return {name: compute_metrics(ords, period) for name, (_, ords) in engines.items()}


@pytest.fixture(scope="module")
def inputs(engines, period) -> dict[str, SignalInputs]:
    out = {}
    for name, (lines, ords) in engines.items():
        inp = prepare(lines, ords, period)
        inp.p_alive = p_alive.score(inp)
        out[name] = inp
    return out


def _purchase_orders(business, end) -> pd.DataFrame:
    """Orders of positive value before ``end``, from the simulator's raw lines (a pandas implementation)."""
    lines = business.orders.assign(value=business.orders.quantity * business.orders.unit_price)
    orders = lines.groupby("order_id").agg(customer_id=("customer_id", "first"), at=("ordered_at", "min"))
    orders["value"] = lines.groupby("order_id")["value"].sum()
    at = pd.to_datetime(orders["at"], utc=True)
    return orders.assign(at=at)[(orders["value"] > 0) & (at < pd.Timestamp(end))]


def test_metrics_are_the_same_on_duckdb_and_spark(metrics):
    on_duck, on_spark = metrics["duckdb"], metrics["spark"]
    assert len(on_duck["cohorts"]) > 50 and len(on_duck["monthly"]) == 12  # a real comparison
    assert sum(r["reactivated"] for r in on_duck["monthly"]) > 0
    assert on_duck["no_purchase_rate"] is not None
    assert on_duck["revenue_retention"] is None  # one year of data
    # every figure: counts, rates (rounded from equal counts) and revenue (exact decimal sums, as text)
    assert on_spark == on_duck


def test_cohort_activity_is_the_same_and_matches_pandas(engines, business, period):
    on_duck, on_spark = (cohort_activity(ords) for _, ords in engines.values())
    for df in (on_duck, on_spark):
        for col in ("cohort", "month"):
            df[col] = pd.to_datetime(df[col], utc=True).dt.tz_convert(None).dt.as_unit("us")
    pd.testing.assert_frame_equal(on_spark, on_duck, check_dtype=False)
    # second implementation: active and retained customers per cohort and month in pandas
    o = _purchase_orders(business, period.end)
    m = o.assign(month=o["at"].dt.tz_convert(None).dt.to_period("M"))[["customer_id", "month"]]
    m = m.drop_duplicates()
    m["cohort"] = m.groupby("customer_id")["month"].transform("min")
    active = set(zip(m["customer_id"], m["month"], strict=True))
    m["retained"] = [(c, mo - 1) in active for c, mo in zip(m["customer_id"], m["month"], strict=True)]
    expected = m.groupby(["cohort", "month"]).agg(
        active=("customer_id", "size"), retained=("retained", "sum")
    )
    got = on_duck.assign(
        cohort=on_duck["cohort"].dt.to_period("M"), month=on_duck["month"].dt.to_period("M")
    ).set_index(["cohort", "month"])
    assert got["active"].tolist() == expected["active"].tolist()
    assert got["retained"].tolist() == expected["retained"].tolist()
    assert got.index.tolist() == expected.index.tolist()


def test_reactivations_match_pandas(metrics, business, period):
    o = _purchase_orders(business, period.end)
    days = o.assign(day=o["at"].dt.floor("D"))[["customer_id", "day"]].drop_duplicates()
    days = days.sort_values(["customer_id", "day"])
    gap = days.groupby("customer_id")["day"].diff().dt.total_seconds() / 86_400
    back = days[gap >= REACTIVATION_DAYS]
    expected = back.groupby(back["day"].dt.strftime("%Y-%m"))["customer_id"].nunique()
    got = {r["month"]: r["reactivated"] for r in metrics["spark"]["monthly"] if r["reactivated"]}
    assert got == expected.to_dict()
    assert metrics["spark"]["reactivations"] == int(expected.get(period.month, 0))


def test_revenue_retention_is_the_same_and_matches_pandas(engines, business):
    """Net revenue retention with a twelve-month window that starts mid-data (the store holds one year)."""
    later = ReviewPeriod.of("2025-06")  # this year: 2024-07 to 2025-06; the year before: 2023-07 to 2024-06
    on_duck, on_spark = (_revenue_retention(ords, later) for _, ords in engines.values())
    lines = business.orders.assign(value=business.orders.quantity * business.orders.unit_price)
    o = lines.groupby("order_id").agg(customer_id=("customer_id", "first"), at=("ordered_at", "min"))
    o["value"] = lines.groupby("order_id")["value"].sum()
    o["at"] = pd.to_datetime(o["at"], utc=True)
    split = pd.Timestamp("2024-07-01", tz="UTC")
    before = o[o["at"] < split]
    after = o[(o["at"] >= split) & o["customer_id"].isin(set(before["customer_id"]))]
    expected = round(float(after["value"].sum() / before["value"].sum()), 4)
    assert 0 < expected < 2
    assert on_spark == on_duck == expected


@pytest.mark.parametrize("as_of", ["start", "end"])
def test_p_alive_inputs_are_the_same_on_duckdb_and_spark(engines, period, as_of):
    moment = getattr(period, as_of)
    on_duck, on_spark = (
        p_alive._rft(features.purchase_days(ords), moment).sort_values("customer_id").reset_index(drop=True)
        for _, ords in engines.values()
    )
    assert len(on_duck) > 300
    assert on_spark["customer_id"].tolist() == on_duck["customer_id"].tolist()
    for col in ("frequency", "recency", "T"):
        np.testing.assert_allclose(on_spark[col], on_duck[col], rtol=0, atol=1e-9, err_msg=col)
    # whole days in weeks: T of a customer is (the moment - their first purchase day) / 7
    assert (on_duck["T"] * 7 - (on_duck["T"] * 7).round()).abs().max() < 1e-9
    assert (on_duck["recency"] <= on_duck["T"]).all() and (on_duck["frequency"] >= 0).all()


def test_p_alive_scores_are_the_same_on_duckdb_and_spark(inputs):
    on_duck, on_spark = (
        inputs[name].p_alive.sort_values("customer_id").reset_index(drop=True) for name in ("duckdb", "spark")
    )
    assert on_duck is not None and len(on_duck) > 300
    assert on_spark["customer_id"].tolist() == on_duck["customer_id"].tolist()
    for col in ("frequency", "p_alive", "p_alive_prev"):
        np.testing.assert_allclose(on_spark[col], on_duck[col], rtol=0, atol=1e-9, err_msg=col)
    assert inputs["spark"].model.params_ == pytest.approx(inputs["duckdb"].model.params_, rel=1e-9)


def test_warnings_are_the_same_on_duckdb_and_spark(inputs):
    on_duck, on_spark = (detect_warnings(inputs[name]) for name in ("duckdb", "spark"))
    assert set(on_duck["kind"]) == {"aov_decline", "overdue", "dropped_category", "p_alive_drop"}
    assert len(on_duck) > 30
    assert on_spark[["customer_id", "kind"]].equals(on_duck[["customer_id", "kind"]])
    # evidence word for word, money to the cent (average orders are exact decimal means rounded once)
    assert on_spark["evidence"].tolist() == on_duck["evidence"].tolist()
    assert any(MONEY.search(e) for e in on_duck["evidence"])
    assert on_spark["value_at_risk"].map(Decimal).tolist() == on_duck["value_at_risk"].tolist()
    np.testing.assert_allclose(
        on_spark["p_value"].to_numpy(float), on_duck["p_value"].to_numpy(float), rtol=0, atol=1e-9
    )


def test_review_runs_on_spark_with_the_duckdb_metrics_section(duck, spark, period):
    """The whole monthly review on a Spark store (nothing written back), beside the same review on DuckDB."""
    on_duck, on_spark = (run_review(b, write=False, config=Config()) for b in (duck, spark))
    assert on_spark.period == on_duck.period == period
    assert [s.key for s in on_spark.sections] == [s.key for s in on_duck.sections]
    assert {"warnings", "lost", "metrics"} <= {s.key for s in on_spark.sections}
    assert on_spark.notes == on_duck.notes
    d, s = (next(x for x in r.sections if x.key == "metrics") for r in (on_duck, on_spark))
    assert s.headline == d.headline and "came back after six months or more" in s.headline
    assert s.data == d.data
