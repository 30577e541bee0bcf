"""Issue 21, items 2, 3, 8, 9 and 11 (overflow): one focused test per item, each failing before the fix.

The adversarial suite (test_adversarial_loads.py) runs the same inputs, and more, through the CLI.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keepwise.exceptions import LoadError
from keepwise.store.ingest import load_file, load_frame

HEADER = (
    "order_id,line_no,customer_id,ordered_at,product_id,category,quantity,unit_price,unit_cost,currency\n"
)


@pytest.fixture
def shop(store, tmp_path):
    (tmp_path / "customers.csv").write_text("customer_id,name\nC1,Ada\nC2,Bo\n")
    load_file(store, "customers", tmp_path / "customers.csv")
    return store


def refused(store, tmp_path: Path, text: str, table: str = "orders") -> str:
    path = tmp_path / f"{table}.csv"
    path.write_text(text)
    count = f'SELECT COUNT(*) FROM "{table}"'
    before = store.con.execute(count).fetchone()
    with pytest.raises(LoadError) as info:
        load_file(store, table, path)
    assert store.con.execute(count).fetchone() == before
    return str(info.value)


def order(**values: str) -> str:
    row = {
        "order_id": "O1",
        "line_no": "1",
        "customer_id": "C1",
        "ordered_at": "2024-03-31",
        "product_id": "P1",
        "category": "coffee",
        "quantity": "1",
        "unit_price": "5",
        "unit_cost": "1",
        "currency": "USD",
    }
    row.update(values)
    return ",".join(row.values()) + "\n"


@pytest.mark.parametrize(
    ("stamp", "problem"),
    [
        ("infinity", "unparseable date 'infinity'"),
        ("-infinity", "unparseable date '-infinity'"),
        ("epoch", "unparseable date 'epoch'"),
        ("10000-01-01", "date out of range: '10000-01-01' (years 1900 to 2200)"),
        ("2024-03-31T10:00:00+25:00", "impossible UTC offset in '2024-03-31T10:00:00+25:00'"),
        ("2024-03-31 10:00:00 PST", "time zone name in '2024-03-31 10:00:00 PST' is ambiguous"),
    ],
)
def test_item_2_impossible_timestamps_are_refused(shop, tmp_path, stamp, problem):
    message = refused(shop, tmp_path, HEADER + order(ordered_at=stamp))
    assert message.startswith(f"orders.csv, row 2, column 'ordered_at': {problem}")


@pytest.mark.parametrize("price", ["1.000000001", "12345678901.12345"])
def test_item_3_money_beyond_four_decimals_is_refused_never_rounded(shop, tmp_path, price):
    assert refused(shop, tmp_path, HEADER + order(unit_price=price)) == (
        f"orders.csv, row 2, column 'unit_price': more than 4 decimal places: '{price}'"
    )


def test_item_8_a_misspelt_column_is_refused_naming_the_closest_known_one(shop, tmp_path):
    message = refused(shop, tmp_path, "customer_id,e_mail\nC9,x@example.com\n", table="customers")
    assert message.startswith("customers.csv, row 1, column 'e_mail': unknown column (did you mean 'email'? ")


@pytest.mark.parametrize(
    ("values", "column", "problem"),
    [
        ({"quantity": "1_000"}, "quantity", "not a number: '1_000'"),
        ({"order_id": "O\x001"}, "order_id", "control character"),
        ({"category": "\x1b[31mred"}, "category", "control character"),
        ({"order_id": "O" * 100_000}, "order_id", "too long"),
    ],
)
def test_item_8_lenient_values_are_refused(shop, tmp_path, values, column, problem):
    message = refused(shop, tmp_path, HEADER + order(**values))
    assert message.startswith(f"orders.csv, row 2, column '{column}': {problem}")
    assert "\x1b" not in message and "\x00" not in message and len(message) < 300


def test_item_8_one_orders_file_may_not_mix_currencies_for_one_customer(shop, tmp_path):
    text = (
        HEADER
        + order()
        + order(line_no="2", customer_id="C2", currency="EUR")
        + order(line_no="3", currency="EUR")
    )
    assert refused(shop, tmp_path, text) == (
        "orders.csv, row 4, column 'currency': currency 'EUR' differs from 'USD' on row 2 for the same "
        "customer_id 'C1' (one currency per customer_id in a file)"
    )


def test_item_9_rows_are_numbered_as_a_spreadsheet_and_parse_errors_by_line(shop, tmp_path):
    assert refused(shop, tmp_path, HEADER + order(unit_price="-1")).startswith("orders.csv, row 2, column")
    ragged = HEADER + order() + "O1,2,C1\n"
    assert refused(shop, tmp_path, ragged) == "orders.csv, line 3: has 3 fields where the header has 10"


def test_item_9_a_dataframe_counts_from_its_first_row(shop):
    import pandas as pd

    frame = pd.DataFrame({"customer_id": ["C5", "C6"], "acquisition_cost": ["1", "-2"]})
    with pytest.raises(LoadError, match=r"^<dataframe>, row 2, column 'acquisition_cost': negative value"):
        load_frame(shop, "customers", frame)


def test_item_11_a_line_whose_quantity_times_price_would_overflow_profit_is_refused(shop, tmp_path):
    # each value fits DECIMAL(18, 4); their product does not fit the DECIMAL(18, 8) that profit sums
    message = refused(shop, tmp_path, HEADER + order(quantity="1000000", unit_price="100000"))
    assert message.startswith(
        "orders.csv, row 2, column 'unit_price': quantity x unit_price is 10,000,000,000 or more"
    )
