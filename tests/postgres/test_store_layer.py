"""The Store's writes on PostgreSQL: tests/store/test_store_layer.py run again on a PostgreSQL database, and
what PostgreSQL adds (placeholders beside ``%`` and ``?`` in literals, exact money and time through COPY, the
contract's tables created once by processes opening a new database together)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal

import pandas as pd
import pytest
from test_store_layer import (  # the DuckDB suite's tests, collected again here with this module's store
    test_connect_returns_a_store_that_is_also_the_ibis_backend,
    test_documents_round_trip_and_replace,
    test_literals_are_escaped,
    test_replace_month_keeps_other_months,
    test_transaction_rolls_back_every_write,
    test_upsert_replaces_by_key_and_update_delete_count,
)

from keepwise.store import connect
from keepwise.store.schema import SCHEMA

__all__ = [
    "test_connect_returns_a_store_that_is_also_the_ibis_backend",
    "test_documents_round_trip_and_replace",
    "test_literals_are_escaped",
    "test_replace_month_keeps_other_months",
    "test_transaction_rolls_back_every_write",
    "test_upsert_replaces_by_key_and_update_delete_count",
]


@pytest.fixture
def store(pg_url: str):
    s = connect(pg_url)
    yield s
    s.disconnect()


def test_the_store_is_postgres_in_utc_with_every_contract_table(store):
    assert store.kind == "postgres" and store.is_postgres and not store.is_duckdb
    assert store.sql("SHOW TimeZone") == [("UTC",)]
    assert set(SCHEMA) <= set(store.tables())
    types = dict(
        store.sql("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'orders'")
    )
    assert types["unit_price"] == "numeric" and types["ordered_at"] == "timestamp with time zone"


def test_placeholders_leave_percent_signs_and_quoted_question_marks_alone(store):
    store.append("kv", pd.DataFrame({"k": ["50% off?", "b"], "v": [1, 2]}))
    assert store.sql("SELECT v FROM kv WHERE k LIKE '%off?' AND v = ?", [1]) == [(1,)]
    assert store.sql("SELECT count(*) FROM kv WHERE k = ?", ["50% off?"]) == [(1,)]


def test_money_and_times_keep_their_exact_values(store):
    at = datetime(2024, 3, 31, 23, 59, 59, 500000, tzinfo=UTC)
    store.append(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["O1"],
                "line_no": [Decimal(1)],
                "customer_id": ["C1"],
                "ordered_at": [at],
                "quantity": [Decimal("3")],
                "unit_price": [Decimal("0.1235")],
                "currency": ["USD"],
                "category": [None],
            }
        ),
    )
    ((price, when, category),) = store.sql("SELECT unit_price, ordered_at, category FROM orders")
    assert price == Decimal("0.1235") and when == at and category is None
    got = store.read("orders")
    assert got.unit_price.iloc[0] == Decimal("0.1235")


def test_upsert_of_many_rows_is_one_statement_pair(store):
    rows = pd.DataFrame({"k": [f"k{i}" for i in range(5000)], "v": range(5000)})
    store.upsert("kv", rows, key=["k"])
    store.upsert("kv", rows.assign(v=rows.v + 1), key=["k"])
    assert store.sql("SELECT count(*), sum(v) FROM kv") == [(5000, sum(range(1, 5001)))]


def test_connections_opening_a_new_database_together_create_its_tables_once(pg_url):
    def one(_: int) -> list[str]:
        store = connect(pg_url)  # each its own session: the advisory lock is what orders them
        try:
            return store.tables()
        finally:
            store.disconnect()

    with ThreadPoolExecutor(4) as pool:
        seen = list(pool.map(one, range(4)))
    assert all(set(SCHEMA) <= set(names) for names in seen)


def test_a_server_that_is_not_there_is_a_one_line_input_error(pg_server):
    from keepwise.exceptions import KeepwiseInputError

    url = f"postgresql://keepwise:secret@127.0.0.1:{pg_server.port}/no_such_database"
    with pytest.raises(KeepwiseInputError, match="cannot open store") as info:
        connect(url)
    assert "secret" not in str(info.value) and "\n" not in str(info.value)


def test_replace_month_rebuilds_a_table_whose_columns_changed(store):
    store.replace_month("review_y", "2024-01", pd.DataFrame({"a": [1]}))
    store.replace_month("review_y", "2024-02", pd.DataFrame({"a": [2], "b": ["new column"]}))
    got = store.read("review_y").to_dict("list")
    assert got == {"review_month": ["2024-02"], "a": [2], "b": ["new column"]}


def test_a_url_shown_in_messages_hides_its_password():
    from keepwise.store.postgres import redacted

    assert (
        redacted("postgresql://kw:s3cret@db.example:5432/shop") == "postgresql://kw:***@db.example:5432/shop"
    )
    assert redacted("postgresql://kw@db.example/shop") == "postgresql://kw@db.example/shop"
