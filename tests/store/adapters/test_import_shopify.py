"""Shopify orders export -> orders, customers, consent and charges.

The fixture follows Shopify's documented orders export ("Exporting orders", Shopify Help Center,
https://help.shopify.com/en/manual/fulfillment/managing-orders/exporting-orders: one row per line item, the
order's own fields on its first row only, timestamps with their UTC offset) and its full header as Shopify
writes it. Awkward cases: a two-line order (#1001, with shipping and taxes), a discount code (#1002, through
``Lineitem discount``; #1007 through the order's ``Discount Amount``), a refunded line (#1003, refunded with
its shipping), a partly refunded order (#1004), a cancelled order (#1005), a guest checkout without an
e-mail (#1006), and a later export, written with CRLF, that overlaps the first (#1004 again, #1007 new).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from keepwise.exceptions import KeepwiseInputError
from keepwise.store.adapters import import_files

from .helpers import FIXTURES, rows, total

MARCH = FIXTURES / "shopify_orders_2026-03.csv"
LATER = FIXTURES / "shopify_orders_2026-03-later.csv"
ORDER_COLUMNS = [
    "order_id",
    "line_no",
    "customer_id",
    "ordered_at",
    "product_id",
    "quantity",
    "unit_price",
    "currency",
]


def test_orders_export_loads_lines_refunds_and_customers(store):
    report = import_files(store, "shopify-orders", [MARCH])
    assert rows(store, "orders", ORDER_COLUMNS) == sorted(
        [
            (
                "shopify:#1001",
                "1",
                "shopify:ada@example.com",
                "2026-03-02T14:14:02+00:00",
                "BEAN-1KG",
                "2",
                "18.5",
                "USD",
            ),
            (
                "shopify:#1001",
                "2",
                "shopify:ada@example.com",
                "2026-03-02T14:14:02+00:00",
                "TEA-100",
                "1",
                "7.25",
                "USD",
            ),
            # the discount code reduces the price paid: 12.00 - 1.20
            (
                "shopify:#1002",
                "1",
                "shopify:bolek@example.pl",
                "2026-03-05T13:00:00+00:00",
                "MUG-1",
                "1",
                "10.8",
                "USD",
            ),
            # a refunded order: its line again, negative
            (
                "shopify:#1003",
                "1",
                "shopify:ada@example.com",
                "2026-03-08T15:00:00+00:00",
                "GRIND-1",
                "1",
                "60",
                "USD",
            ),
            (
                "shopify:#1003",
                "r1",
                "shopify:ada@example.com",
                "2026-03-08T15:00:00+00:00",
                "GRIND-1",
                "-1",
                "60",
                "USD",
            ),
            # a partly refunded order: one refund line of the amount refunded
            (
                "shopify:#1004",
                "1",
                "shopify:cy@example.com",
                "2026-03-11T05:30:00+00:00",
                "BEAN-1KG",
                "1",
                "18.5",
                "USD",
            ),
            (
                "shopify:#1004",
                "2",
                "shopify:cy@example.com",
                "2026-03-11T05:30:00+00:00",
                "FILT-100",
                "2",
                "4",
                "USD",
            ),
            (
                "shopify:#1004",
                "refund",
                "shopify:cy@example.com",
                "2026-03-11T05:30:00+00:00",
                None,
                "-1",
                "8",
                "USD",
            ),
        ],
        key=repr,
    )
    assert total(store, "orders", "quantity*unit_price") == Decimal("73.55")
    assert report.revenue == {"USD": "141.55"} and report.refunds == {"USD": "68.00"}
    assert report.skipped == {"cancelled orders": 1}  # #1005 is not revenue
    assert [(p.kind, p.rows) for p in report.problems] == [("guest", (9,))]  # #1006, never guessed
    assert rows(store, "customers", ["customer_id", "email", "name", "acquired_at"]) == [
        ("shopify:ada@example.com", "ada@example.com", "Ada Nowak", "2026-03-02T14:14:02+00:00"),
        ("shopify:bolek@example.pl", "bolek@example.pl", "Bolek Lis", "2026-03-05T13:00:00+00:00"),
        ("shopify:cy@example.com", "cy@example.com", "Cy Tran", "2026-03-11T05:30:00+00:00"),
    ]
    # Accepts Marketing = yes on #1001: consent from that order, the export as its source
    assert rows(store, "consent", ["customer_id", "channel", "purpose", "granted_at", "source"]) == [
        (
            "shopify:ada@example.com",
            "email",
            "marketing",
            "2026-03-02T14:14:02+00:00",
            "shopify orders export shopify_orders_2026-03.csv",
        )
    ]


def test_shipping_and_taxes_are_kept_apart_from_product_revenue(store):
    import_files(store, "shopify-orders", [MARCH])
    assert rows(store, "import_charges", ["order_id", "kind", "amount"]) == [
        ("shopify:#1001", "shipping", "5"),
        ("shopify:#1001", "tax", "3.5"),
        ("shopify:#1003", "refund_shipping_tax", "-5"),  # the refund gave the shipping back too
        ("shopify:#1003", "shipping", "5"),
    ]


def test_importing_the_same_export_twice_changes_nothing(store):
    import_files(store, "shopify-orders", [MARCH])
    before = {t: rows(store, t, store.read(t).columns.tolist()) for t in ("orders", "customers", "consent")}
    again = import_files(store, "shopify-orders", [MARCH])
    assert again.tables["orders"] == {"rows": 8, "new": 0, "updated": 0, "unchanged": 8}
    assert again.customers == {"new": 0, "known": 3}
    assert {t: rows(store, t, store.read(t).columns.tolist()) for t in before} == before


def test_a_later_overlapping_export_adds_only_the_new_orders(store):
    import_files(store, "shopify-orders", [MARCH])
    report = import_files(store, "shopify-orders", [LATER])
    assert report.tables["orders"] == {"rows": 4, "new": 1, "updated": 0, "unchanged": 3}
    assert report.customers == {"new": 0, "known": 2}
    # #1007: the order's Discount Amount (5.00) shared over its one line: 25.00 - 5.00
    assert rows(store, "orders", ["order_id", "customer_id", "unit_price"])[-1] == (
        "shopify:#1007",
        "shopify:bolek@example.pl",
        "20",
    )
    assert store.count("orders") == 9


def test_dry_run_reports_and_changes_nothing(store):
    report = import_files(store, "shopify-orders", [MARCH], dry_run=True)
    assert store.count("orders") == 0 and store.count("customers") == 0
    assert not store.has_table("import_ids")
    doc = report.as_dict()
    assert doc["tables"]["orders"] == {"rows": 8, "new": 8, "known": 0}
    assert doc["customers"] == {"new": 3, "known": 0}
    assert (doc["first"], doc["last"]) == ("2026-03-02T14:14:02+00:00", "2026-03-11T05:30:00+00:00")
    assert doc["problems"][0]["message"] == "no e-mail and no customer id (guest checkout)"


def test_a_bad_value_names_file_row_and_column(store, tmp_path):
    bad = tmp_path / "orders_export.csv"
    bad.write_text(MARCH.read_text().replace("2026-03-05 14:00:00 +0100", "5th of March"))
    with pytest.raises(KeepwiseInputError) as info:
        import_files(store, "shopify-orders", [bad])
    assert (
        str(info.value)
        == "orders_export.csv, row 4, column 'Created at': unreadable date or time '5th of March'"
    )
    assert store.count("orders") == 0


def test_two_overlapping_exports_in_one_import_are_one_set_of_orders(store):
    report = import_files(store, "shopify-orders", [MARCH, LATER])
    assert report.tables["orders"] == {"rows": 9, "new": 9, "updated": 0, "unchanged": 0}
    assert store.count("orders") == 9


def test_dry_run_of_a_later_export_tells_new_from_known(store):
    import_files(store, "shopify-orders", [MARCH])
    report = import_files(store, "shopify-orders", [LATER], dry_run=True)
    assert report.tables["orders"] == {"rows": 4, "new": 1, "known": 3}
    assert report.customers == {"new": 0, "known": 2}
    assert store.count("orders") == 8


def test_a_value_the_contract_refuses_is_told_against_the_export(store, tmp_path):
    bad = tmp_path / "orders_export.csv"
    bad.write_text(MARCH.read_text().replace(",USD,10.80,", ",XYZ,10.80,"))
    with pytest.raises(KeepwiseInputError) as info:
        import_files(store, "shopify-orders", [bad])
    assert str(info.value) == (
        "orders_export.csv, row 4, column 'Currency': unknown currency 'XYZ' "
        "(use an ISO 4217 code such as USD, EUR, PLN) (customers.currency)"
    )
    assert store.count("orders") == 0 and store.count("customers") == 0
