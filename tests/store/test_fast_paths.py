"""The shortcuts of a valid load (store/validate.py) never let a bad value through, nor change a stored one.

A load tests each value cheaply (ids of a row with one expression, a file's one currency once) and stores the
text of a column as it is when every value passed an exact test; any other file takes the full checks. These
files sit on the edges of the shortcuts: each must be refused with the message the full checks give, or
stored exactly as trimming and upper-casing would store it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keepwise.exceptions import LoadError
from keepwise.store.ingest import load_file

CUSTOMERS = "customer_id,name,currency\nC1,Ada,USD\nC2,Bolek,PLN\n"
HEADER = (
    "order_id,line_no,customer_id,ordered_at,product_id,category,quantity,unit_price,unit_cost,currency\n"
)


def _load(store, tmp_path: Path, table: str, text: str) -> None:
    path = tmp_path / f"{table}.csv"
    path.write_text(text)
    load_file(store, table, path, show_progress=False)


@pytest.fixture
def shop(store, tmp_path):
    _load(store, tmp_path, "customers", CUSTOMERS)
    return store


@pytest.mark.parametrize(
    ("line", "column", "problem"),
    [
        # a control character between two visible ones: one joined expression must not read it as a seam
        ("O1,1\x01,C1,2024-03-01T10:00:00Z,P1,tea,1,2,1,USD", "line_no", "control character"),
        ("O1,1,C1,2024-03-01T10:00:00Z,P\x011,tea,1,2,1,USD", "product_id", "control character"),
        ("O1,1,,2024-03-01T10:00:00Z,P1,tea,1,2,1,USD", "customer_id", "missing value"),
        ("O2,1,C2,2024-03-01,P1,tea,1,2,1,XYZ\nO1,1,C1,2024-03-01T10:00:00Z,P1,tea,1,2,1,USD", "currency",
         "unknown currency"),
        ("O1,1,C1,2024-03-01T10:00:00Z,P1,tea,1,2,1,US", "currency", "unknown currency"),
        ("O1,1,C1,2024-03-01T10:00:00Z,P1,tea,99999,999999,1,USD", "unit_price", "quantity x unit_price"),
    ],
)  # fmt: skip
def test_a_bad_value_beside_the_shortcuts_is_refused(shop, tmp_path, line, column, problem):
    """Each bad value is named by row and column, as the full checks name it."""
    with pytest.raises(LoadError) as info:
        _load(shop, tmp_path, "orders", HEADER + line + "\n")
    message = str(info.value)
    assert f"orders.csv, row 2, column '{column}'" in message and problem in message, message


def test_values_the_shortcuts_do_not_take_are_stored_trimmed_and_upper_cased(shop, tmp_path):
    """Spaces around an id, a lower-case currency, a quoted empty optional id: stored as full checks do."""
    _load(
        shop,
        tmp_path,
        "orders",
        HEADER
        + "O1,1, C1 ,2024-03-01T10:00:00Z,,tea,1,2,1,usd\n"
        + 'O1,2,C1,2024-03-01T10:00:00Z,"",tea,1,2,1,USD\n'
        + "O2,1,C2,2024-03-02T10:00:00Z,P 1,tea,1,2,1,PLN\n",
    )
    rows = shop.con.execute(
        "SELECT order_id, line_no, customer_id, product_id, currency FROM orders ORDER BY order_id, line_no"
    ).fetchall()
    assert rows == [
        ("O1", "1", "C1", None, "USD"),
        ("O1", "2", "C1", None, "USD"),
        ("O2", "1", "C2", "P 1", "PLN"),
    ]


def test_a_file_in_several_currencies_loads_when_each_customer_keeps_one(shop, tmp_path):
    """Not one currency: each value is tested against the list, and the load goes through."""
    _load(
        shop,
        tmp_path,
        "orders",
        HEADER
        + "O1,1,C1,2024-03-01T10:00:00Z,P1,tea,1,2,1,USD\n"
        + "O2,1,C2,2024-03-02T10:00:00Z,P1,tea,1,2,1,PLN\n",
    )
    assert shop.con.execute("SELECT COUNT(DISTINCT currency) FROM orders").fetchone() == (2,)
