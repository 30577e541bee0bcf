"""``keepwise import mapping``: any CSV onto a contract table through a YAML mapping.

The fixture is a bakery till's export as Polish tills write it: semicolons, ``dd.mm.yyyy HH:MM`` local times,
decimal commas (one with a thousands space), a sale without a customer e-mail.
"""

from __future__ import annotations

import pytest

from keepwise.exceptions import KeepwiseInputError, LoadError
from keepwise.store.adapters import import_files
from keepwise.store.adapters.mapping import load_mapping

from .helpers import FIXTURES, rows

MAPPING = FIXTURES / "till_mapping.yaml"
SALES = FIXTURES / "till_sales_2026-03.csv"


def test_a_mapping_loads_any_csv_onto_the_contract(store):
    report = import_files(store, load_mapping(MAPPING), [SALES])
    assert rows(
        store,
        "orders",
        [
            "order_id",
            "line_no",
            "customer_id",
            "ordered_at",
            "product_id",
            "quantity",
            "unit_price",
            "currency",
            "category",
        ],
    ) == [
        (
            "till:P/0001",
            "1",
            "till:ada@example.com",
            "2026-03-02T07:05:00+00:00",
            "Drozdzowka",
            "2",
            "4.5",
            "PLN",
            "bakery",
        ),
        (
            "till:P/0001",
            "2",
            "till:ada@example.com",
            "2026-03-02T07:05:00+00:00",
            "Kawa",
            "1",
            "9",
            "PLN",
            "bakery",
        ),
        (
            "till:P/0003",
            "1",
            "till:ewa@example.com",
            "2026-03-03T06:55:00+00:00",
            "Kawa",
            "1",
            "9",
            "PLN",
            "bakery",
        ),
    ]
    assert [(p.kind, p.rows) for p in report.problems] == [("guest", (4,))]
    assert import_files(store, load_mapping(MAPPING), [SALES]).tables["orders"]["unchanged"] == 3


def test_a_mapping_missing_a_required_column_says_which(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("table: orders\ncolumns:\n  order_id: Paragon\ncustomer:\n  email: E-mail\n")
    with pytest.raises(
        KeepwiseInputError, match=r"m\.yaml: map the orders column\(s\) line_no, ordered_at, "
    ):
        load_mapping(bad)


def test_a_bad_date_names_the_data_file_row_and_column(store, tmp_path):
    sales = tmp_path / "sales.csv"
    sales.write_text(SALES.read_text().replace("03.03.2026 07:55", "3 March"))
    with pytest.raises(LoadError) as info:
        import_files(store, load_mapping(MAPPING), [sales])
    assert (
        str(info.value)
        == "sales.csv, row 5, column 'Data': unreadable date '3 March' (expected %d.%m.%Y %H:%M)"
    )
