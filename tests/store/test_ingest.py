"""Loads: every rejection with its exact message, atomicity, idempotence and upserts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from keepwise.exceptions import KeepwiseInputError, LoadError
from keepwise.store.ingest import load_file, load_frame, load_path
from keepwise.store.schema import TABLES

CUSTOMERS = """customer_id,name,email,language,acquired_at,acquisition_cost,currency
C1,Ada,ada@example.com,en,2024-01-05,100.00,USD
C2,Bolek,bolek@example.pl,pl,2024-02-10T09:30:00+01:00,80,PLN
"""

ORDERS_HEADER = (
    "order_id,line_no,customer_id,ordered_at,product_id,category,quantity,unit_price,unit_cost,currency\n"
)
ORDERS = ORDERS_HEADER + (
    "O1,1,C1,2024-03-01T10:00:00Z,P1,coffee,2,18.50,9.40,USD\n"
    "O1,2,C1,2024-03-01T10:00:00Z,P2,tea,1,7.25,3.00,USD\n"
    "O2,1,C2,2024-03-02,P1,coffee,-1,18.50,9.40,USD\n"
)


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path


def snapshot(store) -> dict[str, list[tuple]]:
    con = store.con
    return {t.name: sorted(con.execute(f'SELECT * FROM "{t.name}"').fetchall(), key=repr) for t in TABLES}


@pytest.fixture
def loaded(store, tmp_path):
    load_file(store, "customers", write(tmp_path / "customers.csv", CUSTOMERS))
    load_file(store, "orders", write(tmp_path / "orders.csv", ORDERS))
    return store


def rejection(store, tmp_path, table: str, text: str | bytes, name: str | None = None) -> str:
    before = snapshot(store)
    path = write(tmp_path / (name or f"{table}.csv"), text)
    with pytest.raises(LoadError) as info:
        load_file(store, table, path)
    assert snapshot(store) == before, "a failed load changed the store"
    message = str(info.value)
    assert "\n" not in message
    return message


def test_a_valid_load_reports_new_rows_and_keeps_values_exact(loaded):
    rows = loaded.con.execute(
        "SELECT order_id, line_no, quantity, unit_price, ordered_at FROM orders ORDER BY order_id, line_no"
    ).fetchall()
    assert [str(r[3]) for r in rows] == ["18.5000", "7.2500", "18.5000"]
    assert [str(r[2]) for r in rows] == ["2.0000", "1.0000", "-1.0000"]  # a return is valid data
    # a date without a zone is UTC midnight; an offset is converted to UTC
    acquired = dict(loaded.con.execute("SELECT customer_id, acquired_at FROM customers").fetchall())
    assert acquired["C1"].isoformat() == "2024-01-05T00:00:00+00:00"
    assert acquired["C2"].isoformat() == "2024-02-10T08:30:00+00:00"


def test_missing_column(loaded, tmp_path):
    text = "order_id,line_no,customer_id,ordered_at,quantity,currency\nO9,1,C1,2024-03-01,1,USD\n"
    assert rejection(loaded, tmp_path, "orders", text) == (
        "orders.csv, row 1, column 'unit_price': missing column "
        "(the header has: order_id, line_no, customer_id, ordered_at, quantity, currency)"
    )


def test_wrong_type(loaded, tmp_path):
    text = (
        ORDERS_HEADER
        + "O9,1,C1,2024-03-01,P1,coffee,2,18.50,9.40,USD\nO9,2,C1,2024-03-01,P1,coffee,two,1,1,USD\n"
    )
    assert (
        rejection(loaded, tmp_path, "orders", text)
        == "orders.csv, row 3, column 'quantity': not a number: 'two'"
    )


def test_unparseable_date(loaded, tmp_path):
    text = ORDERS_HEADER + "O9,1,C1,31/03/2024,P1,coffee,2,18.50,9.40,USD\n"
    assert rejection(loaded, tmp_path, "orders", text) == (
        "orders.csv, row 2, column 'ordered_at': unparseable date '31/03/2024' "
        "(use ISO 8601, e.g. 2024-03-31 or 2024-03-31T14:05:00+02:00)"
    )


def test_negative_price(loaded, tmp_path):
    text = (
        ORDERS_HEADER + "O9,1,C1,2024-03-01,P1,coffee,1,5,1,USD\nO9,2,C1,2024-03-01,P1,coffee,1,-5.00,1,USD\n"
    )
    assert rejection(loaded, tmp_path, "orders", text) == (
        "orders.csv, row 3, column 'unit_price': negative price '-5.00' (unit_price must be 0 or more)"
    )


def test_unknown_currency(loaded, tmp_path):
    text = ORDERS_HEADER + "O9,1,C1,2024-03-01,P1,coffee,1,5,1,XYZ\n"
    assert rejection(loaded, tmp_path, "orders", text) == (
        "orders.csv, row 2, column 'currency': unknown currency 'XYZ' "
        "(use an ISO 4217 code such as USD, EUR, PLN)"
    )


def test_duplicate_key_inside_the_file(loaded, tmp_path):
    text = ORDERS_HEADER + (
        "O9,1,C1,2024-03-01,P1,coffee,1,5,1,USD\nO9,2,C1,2024-03-01,P1,coffee,1,5,1,USD\n"
        "O9,1,C1,2024-03-01,P1,coffee,3,5,1,USD\n"
    )
    assert rejection(loaded, tmp_path, "orders", text) == (
        "orders.csv, row 4, column 'line_no': duplicate key (order_id='O9', line_no='1'), first seen on row 2"
    )


def test_order_line_for_an_unknown_customer(loaded, tmp_path):
    text = (
        ORDERS_HEADER + "O9,1,C1,2024-03-01,P1,coffee,1,5,1,USD\nO9,2,C404,2024-03-01,P1,coffee,1,5,1,USD\n"
    )
    assert rejection(loaded, tmp_path, "orders", text) == (
        "orders.csv, row 3, column 'customer_id': customer 'C404' does not exist in customers "
        "(load customers first, or put customers.csv in the same folder)"
    )


def test_non_utf8_bytes(loaded, tmp_path):
    text = CUSTOMERS.encode() + "C3,Zo\u00e9,zoe@example.com,en,2024-01-05,1,USD\n".encode("latin-1")
    assert rejection(loaded, tmp_path, "customers", text) == (
        "customers.csv, line 4, column 'name': not valid UTF-8 (byte 0xe9); save the file as UTF-8"
    )


def test_empty_file(loaded, tmp_path):
    assert rejection(loaded, tmp_path, "orders", b"") == (
        "orders.csv: file is empty (expected a header line and at least one row)"
    )


def test_header_only(loaded, tmp_path):
    assert rejection(loaded, tmp_path, "orders", ORDERS_HEADER) == "orders.csv: has a header but no rows"


def test_missing_required_value(loaded, tmp_path):
    text = ORDERS_HEADER + "O9,1,,2024-03-01,P1,coffee,1,5,1,USD\n"
    assert rejection(loaded, tmp_path, "orders", text) == (
        "orders.csv, row 2, column 'customer_id': missing value (orders.customer_id is required)"
    )


def test_ragged_row(loaded, tmp_path):
    text = ORDERS_HEADER + "O9,1,C1,2024-03-01,P1,coffee,1,5,1,USD\nO9,2,C1,2024-03-01,P1,1,5,USD\n"
    assert rejection(loaded, tmp_path, "orders", text) == (
        "orders.csv, line 3: has 8 fields where the header has 10"
    )


def test_too_many_decimals_are_refused_not_rounded(loaded, tmp_path):
    text = ORDERS_HEADER + "O9,1,C1,2024-03-01,P1,coffee,1,5.12345,1,USD\n"
    assert rejection(loaded, tmp_path, "orders", text) == (
        "orders.csv, row 2, column 'unit_price': more than 4 decimal places: '5.12345'"
    )


def test_the_first_bad_row_is_reported_whatever_the_check(loaded, tmp_path):
    # row 3 has a bad currency, row 4 a bad date: row 3 comes first
    text = ORDERS_HEADER + (
        "O9,1,C1,2024-03-01,P1,coffee,1,5,1,USD\nO9,2,C1,2024-03-01,P1,coffee,1,5,1,ZZZ\n"
        "O9,3,C1,yesterday,P1,coffee,1,5,1,USD\n"
    )
    assert rejection(loaded, tmp_path, "orders", text).startswith("orders.csv, row 3, column 'currency'")


def test_same_file_twice_changes_nothing(store, tmp_path):
    customers = write(tmp_path / "customers.csv", CUSTOMERS)
    first = load_file(store, "customers", customers)
    before = snapshot(store)
    second = load_file(store, "customers", customers)
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    assert (second.new, second.updated, second.unchanged) == (0, 0, 2)
    assert snapshot(store) == before


def test_updates_upsert_known_keys(loaded, tmp_path):
    text = ORDERS_HEADER + (
        "O1,1,C1,2024-03-01T10:00:00Z,P1,coffee,3,18.50,9.40,USD\n"  # quantity changed
        "O1,2,C1,2024-03-01T10:00:00Z,P2,tea,1,7.25,3.00,USD\n"  # unchanged
        "O3,1,C2,2024-03-05,P2,tea,1,7.25,3.00,USD\n"  # new
    )
    result = load_file(loaded, "orders", write(tmp_path / "orders2.csv", text))
    assert (result.new, result.updated, result.unchanged) == (1, 1, 1)
    assert str(result) == "orders: 3 rows from orders2.csv: 1 new, 1 updated, 1 unchanged"
    rows = loaded.con.execute("SELECT order_id, line_no, quantity FROM orders ORDER BY 1, 2").fetchall()
    assert [(o, n, str(q)) for o, n, q in rows] == [
        ("O1", "1", "3.0000"),
        ("O1", "2", "1.0000"),
        ("O2", "1", "-1.0000"),
        ("O3", "1", "1.0000"),
    ]


def test_columns_absent_from_an_update_keep_their_values(loaded, tmp_path):
    result = load_file(loaded, "customers", write(tmp_path / "c.csv", "customer_id,name\nC1,Ada Lovelace\n"))
    assert (result.new, result.updated, result.unchanged) == (0, 1, 0)
    row = loaded.con.execute(
        "SELECT name, email, acquisition_cost FROM customers WHERE customer_id='C1'"
    ).fetchone()
    assert (row[0], row[1], str(row[2])) == ("Ada Lovelace", "ada@example.com", "100.0000")


def test_folder_load_is_one_all_or_nothing_load(store, tmp_path):
    folder = tmp_path / "data"
    folder.mkdir()
    write(folder / "orders.csv", ORDERS)
    write(folder / "customers.csv", CUSTOMERS)
    write(folder / "truth.json", "{}")  # not a table: ignored
    results = load_path(store, folder)
    assert [r.table for r in results] == ["customers", "orders"]  # dependency order, not file order
    assert [r.new for r in results] == [2, 3]

    # second folder: customers are fine, orders has a bad row -> nothing of either is loaded
    bad = tmp_path / "bad"
    bad.mkdir()
    write(
        bad / "customers.csv",
        CUSTOMERS.replace("C2,Bolek", "C2,Bolesław") + "C3,Cy,c@x,en,2024-01-01,1,USD\n",
    )
    write(bad / "orders.csv", ORDERS + "O7,1,C3,2024-13-01,P1,coffee,1,1,1,USD\n")
    before = snapshot(store)
    with pytest.raises(
        LoadError, match=r"^orders.csv, row 5, column 'ordered_at': unparseable date '2024-13-01'"
    ):
        load_path(store, bad)
    assert snapshot(store) == before


def test_parquet_and_dataframe_loads(store, tmp_path):
    frame = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "acquired_at": pd.to_datetime(["2024-01-05 12:00", "2024-01-06 12:00"]).tz_localize(
                "Europe/Warsaw"
            ),
            "acquisition_cost": ["10.50", "0"],
        }
    )
    frame.to_parquet(tmp_path / "customers.parquet")
    [result] = load_path(store, tmp_path / "customers.parquet")
    assert (result.table, result.new) == ("customers", 2)
    acquired = dict(store.con.execute("SELECT customer_id, acquired_at FROM customers").fetchall())
    assert acquired["C1"].isoformat() == "2024-01-05T11:00:00+00:00"  # Warsaw is UTC+1 in January
    again = load_frame(store, "customers", frame)
    assert (again.new, again.unchanged) == (0, 2)
    bad = frame.assign(acquisition_cost=["1", "-2"])
    with pytest.raises(
        LoadError, match=r"^<dataframe>, row 2, column 'acquisition_cost': negative value '-2"
    ):
        load_frame(store, "customers", bad)


def test_unknown_table_and_system_tables(store, tmp_path):
    path = write(tmp_path / "x.csv", "a\n1\n")
    with pytest.raises(KeepwiseInputError, match="unknown table 'nope'; the tables are: customers, products"):
        load_file(store, "nope", path)
    with pytest.raises(KeepwiseInputError, match="table 'outbox' is written by keepwise itself"):
        load_file(store, "outbox", path)


def test_cli_rejection_is_one_line_on_stderr_with_exit_code_2(db_url, tmp_path):
    write(tmp_path / "customers.csv", CUSTOMERS)
    bad = write(tmp_path / "orders.csv", ORDERS_HEADER + "O9,1,C1,2024-03-01,P1,coffee,1,-5,1,USD\n")
    cli = [sys.executable, "-m", "keepwise.cli"]
    ok = subprocess.run(
        [*cli, "load", "customers", str(tmp_path / "customers.csv"), "--db", db_url],
        capture_output=True,
        text=True,
    )
    assert ok.returncode == 0, ok.stderr
    assert "customers: 2 rows from customers.csv: 2 new, 0 updated, 0 unchanged" in ok.stderr
    failed = subprocess.run(
        [*cli, "load", "orders", str(bad), "--db", db_url], capture_output=True, text=True
    )
    assert failed.returncode == 2
    assert failed.stdout == ""
    assert failed.stderr == (
        "error: orders.csv, row 2, column 'unit_price': negative price '-5' (unit_price must be 0 or more)\n"
    )
