"""Stripe payments export -> orders, with customers matched to other sources by e-mail and Stripe id.

The fixtures follow Stripe's payments export (Dashboard > Payments > Export; "Exporting payment data",
https://support.stripe.com/questions/exporting-payment-data): the newer layout with ``Created date (UTC)`` and
the older one with ``Created (UTC)``, currencies in lower case, amounts in the currency's units. Awkward
cases: a partly refunded charge, a fully refunded one, a failed charge, an uncaptured one, a charge with no
customer and no e-mail, an e-mail in other letter case, an amount with a thousands separator.
"""

from __future__ import annotations

from decimal import Decimal

from keepwise.store.adapters import import_files

from .helpers import FIXTURES, rows, total

NEW = FIXTURES / "stripe_payments_2026-03.csv"
OLD = FIXTURES / "stripe_payments_2019-old-layout.csv"
SHOPIFY = FIXTURES / "shopify_orders_2026-03.csv"


def test_successful_charges_are_orders_and_refunds_negative_lines(store):
    report = import_files(store, "stripe-payments", [NEW])
    assert rows(
        store,
        "orders",
        ["order_id", "line_no", "customer_id", "ordered_at", "quantity", "unit_price", "currency"],
    ) == [
        ("stripe:ch_3Pa1", "1", "stripe:cus_Ada01", "2026-03-03T10:00:00+00:00", "1", "49", "USD"),
        ("stripe:ch_3Pa2", "1", "stripe:cus_Eve02", "2026-03-04T11:00:00+00:00", "1", "30", "USD"),
        ("stripe:ch_3Pa2", "refund", "stripe:cus_Eve02", "2026-03-04T11:00:00+00:00", "-1", "10", "USD"),
        ("stripe:ch_3Pa5", "1", "stripe:cus_Ada01", "2026-03-06T12:30:00+00:00", "1", "25", "USD"),
        ("stripe:ch_3Pa5", "refund", "stripe:cus_Ada01", "2026-03-06T12:30:00+00:00", "-1", "25", "USD"),
    ]
    assert total(store, "orders", "quantity*unit_price") == Decimal("69.00")
    assert (report.revenue, report.refunds) == ({"USD": "104.00"}, {"USD": "35.00"})
    assert report.skipped == {"failed charges": 1, "uncaptured charges": 1}
    assert [(p.kind, p.rows) for p in report.problems] == [("guest", (7,))]
    assert rows(store, "import_ids", ["source", "kind", "source_id", "customer_id"]) == [
        ("stripe", "customer", "cus_Ada01", "stripe:cus_Ada01"),
        ("stripe", "customer", "cus_Eve02", "stripe:cus_Eve02"),
    ]


def test_customers_are_matched_across_sources_by_email_and_linked_by_stripe_id(store):
    import_files(store, "shopify-orders", [SHOPIFY])
    report = import_files(store, "stripe-payments", [NEW])
    assert report.customers == {"new": 1, "known": 1}  # Ada is Shopify's Ada; Eve is new
    assert rows(store, "import_ids", ["source_id", "customer_id"]) == [
        ("cus_Ada01", "shopify:ada@example.com"),
        ("cus_Eve02", "stripe:cus_Eve02"),
    ]
    assert store.count("customers") == 4
    # the next export finds Ada by her Stripe id alone
    assert import_files(store, "stripe-payments", [NEW]).tables["orders"]["unchanged"] == 5


def test_the_older_layout_with_created_utc_and_thousands_separators(store):
    report = import_files(store, "stripe-payments", [OLD])
    assert rows(store, "orders", ["order_id", "ordered_at", "unit_price", "currency"]) == [
        ("stripe:ch_1Eold", "2019-06-01T09:30:00+00:00", "1200", "EUR")
    ]
    assert report.revenue == {"EUR": "1200.00"}


def test_an_ambiguous_email_is_reported_not_guessed(store, tmp_path):
    import pandas as pd

    from keepwise.store.ingest import load_frame

    two = pd.DataFrame({"customer_id": ["C1", "C2"], "email": ["eve@example.com", "EVE@example.com"]})
    load_frame(store, "customers", two)
    report = import_files(store, "stripe-payments", [NEW])
    ambiguous = [p for p in report.problems if p.kind == "ambiguous"]
    assert [(p.rows, p.message) for p in ambiguous] == [((3,), "e-mail matches several customers (C1, C2)")]
    assert "stripe:ch_3Pa2" not in set(store.read("orders")["order_id"])
