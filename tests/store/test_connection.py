from __future__ import annotations

import pytest

from keepwise.exceptions import KeepwiseInputError
from keepwise.store import connect
from keepwise.store.connection import duckdb_path


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("duckdb:///keepwise.duckdb", "keepwise.duckdb"),
        ("duckdb:////var/data/kw.duckdb", "/var/data/kw.duckdb"),
        ("duckdb://:memory:", ":memory:"),
    ],
)
def test_duckdb_urls_follow_the_sqlalchemy_convention(url, path):
    assert duckdb_path(url) == path


def test_connect_creates_every_contract_table_and_runs_in_utc(db_url):
    backend = connect(db_url)
    assert {
        "customers",
        "orders",
        "time_logs",
        "staff_rates",
        "incidents",
        "exits",
        "advocacy",
        "consent",
    } <= set(backend.list_tables())
    assert backend.con.execute("SELECT current_setting('TimeZone')").fetchone()[0] == "UTC"
    assert str(backend.table("orders").schema()["ordered_at"]) == "timestamp('UTC', 6)"
    backend.disconnect()


def test_a_missing_folder_is_an_input_error(tmp_path):
    with pytest.raises(KeepwiseInputError, match=r"folder '.*nowhere' does not exist"):
        connect(f"duckdb:///{tmp_path}/nowhere/x.duckdb")
