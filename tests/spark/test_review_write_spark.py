"""The review's tables written back to a Spark store: a rerun of a month replaces its rows, as on DuckDB.

Spark's plain Parquet tables cannot delete rows, so the review keeps the other months' rows, adds the month's
new ones and overwrites the table through a staging table. The same three reviews (the last complete month,
the same month again, the month before) run on a fresh DuckDB store of the same business; every review table
must then hold the same number of rows per month on both engines, and the warnings the same rows.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
import pytest

from keepwise.config import Config
from keepwise.review import run_review
from keepwise.signals.period import ReviewPeriod, last_complete_month
from keepwise.store import connect
from keepwise.store.ingest import load_frame

pytestmark = [
    pytest.mark.spark,
    # PySpark 4.0's toPandas under pandas 3, not keepwise
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]

TABLES = ("customers", "products", "orders")  # what tests/spark/conftest.py loads
REVIEW_TABLES = ("review_warnings", "review_lost", "review_metrics", "review_document", "review_p_alive")


def _months(duck) -> tuple[str, str]:
    last = last_complete_month(duck)
    before = (pd.Timestamp(last.start).tz_convert(None) - pd.DateOffset(months=1)).strftime("%Y-%m")
    return last.month, ReviewPeriod.of(before).month


def _rows_per_month(backend, table: str) -> dict[str, int]:
    months = backend.table(table).select("review_month").to_pyarrow().column("review_month").to_pylist()
    return dict(Counter(months))


def _warnings(backend, month: str) -> list[tuple[str, str, str]]:
    t = backend.table("review_warnings")
    rows = t.filter(t.review_month == month).select("customer_id", "kind", "evidence").to_pyarrow()
    return sorted(zip(*(rows.column(c).to_pylist() for c in rows.column_names), strict=True))


@pytest.fixture(scope="module")
def written(business, duck, spark, tmp_path_factory: pytest.TempPathFactory):
    """engine -> (backend, the JSON of each review) after reviews of months m, m, m-1 with write-back."""
    month, before = _months(duck)
    fresh = connect(f"duckdb:///{tmp_path_factory.mktemp('review-write') / 'store.duckdb'}")
    for name in TABLES:
        load_frame(fresh, name, business.tables[name], source=name)
    out = {}
    for name, backend in (("duckdb", fresh), ("spark", spark)):
        docs = [run_review(backend, m, config=Config()).to_json() for m in (month, month, before)]
        out[name] = (backend, docs)
    yield out, month, before
    fresh.disconnect()


def test_a_rerun_replaces_the_month_and_keeps_the_others_on_both_engines(written):
    out, month, before = written
    counts = {name: {t: _rows_per_month(b, t) for t in REVIEW_TABLES} for name, (b, _) in out.items()}
    duck_counts = counts["duckdb"]
    # one document per review month, however many times the month was reviewed
    assert duck_counts["review_document"] == {month: 1, before: 1}
    # the month's rows are those of its last review (nothing left over from the first)
    docs = out["duckdb"][1]
    assert duck_counts["review_warnings"][month] == len(docs[1]["warnings"]) > 10
    assert duck_counts["review_warnings"][before] == len(docs[2]["warnings"]) > 10
    assert duck_counts["review_lost"].get(month, 0) == docs[1]["lost"]["count"]
    assert duck_counts["review_p_alive"][month] > 300
    assert counts["spark"] == duck_counts


def test_written_warnings_are_the_same_rows_on_both_engines(written):
    out, month, before = written
    for m in (month, before):
        on_duck, on_spark = (_warnings(b, m) for b, _ in out.values())
        assert len(on_duck) > 10
        assert on_spark == on_duck  # evidence word for word, money to the cent


def test_no_staging_table_is_left_on_spark(written):
    out, _, _ = written
    backend = out["spark"][0]
    assert not [t for t in backend.list_tables() if t.endswith("_kw_staging")]
    assert set(REVIEW_TABLES) <= set(backend.list_tables())
