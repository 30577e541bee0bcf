"""WooCommerce orders export (the Order Import Export plugin's layout) -> orders, customers, charges.

The fixture follows the columns documented on WooCommerce.com ("Import and Export of WooCommerce Orders",
https://woocommerce.com/document/import-and-export-of-woocommerce-orders/: order_id, order_date, status,
shipping_total, tax_total, order_currency, customer_user, billing_email, line_item_N as
``name:...|sku:...|quantity:...|total:...``). Awkward cases: a discount code (item total after discount), a
refunded order, a refunded line, a cancelled order, a guest without an e-mail, shipping and taxes, an e-mail
in capitals, and an order written one row per line item (2006).
"""

from __future__ import annotations

from decimal import Decimal

from keepwise.store.adapters import import_files

from .helpers import FIXTURES, rows, total

WOO = FIXTURES / "woocommerce_orders_2026-03.csv"


def test_woocommerce_orders(store):
    report = import_files(store, "woocommerce-orders", [WOO], timezone="Europe/Warsaw")
    assert rows(
        store, "orders", ["order_id", "line_no", "customer_id", "product_id", "quantity", "unit_price"]
    ) == [
        ("woocommerce:2001", "1", "woocommerce:14", "BEAN-1KG", "2", "33.3"),  # 74.00 less 10%: 66.60 for 2
        ("woocommerce:2001", "2", "woocommerce:14", "TEA-100", "1", "20"),
        ("woocommerce:2002", "1", "woocommerce:15", "GRIND-1", "1", "250"),
        ("woocommerce:2002", "r1", "woocommerce:15", "GRIND-1", "-1", "250"),  # the refunded order
        ("woocommerce:2003", "1", "woocommerce:16", "BEAN-1KG", "1", "37"),
        ("woocommerce:2003", "2", "woocommerce:16", "MUG-1", "1", "30"),
        ("woocommerce:2003", "r1", "woocommerce:16", "BEAN-1KG", "-1", "37"),  # the refunded line
        ("woocommerce:2006", "1", "woocommerce:14", "FILT-100", "3", "8"),  # one row per line item
        ("woocommerce:2006", "2", "woocommerce:14", "BEAN-1KG", "1", "37"),
    ]
    assert total(store, "orders", "quantity*unit_price") == Decimal("177.60")
    assert (report.revenue, report.refunds) == ({"PLN": "464.60"}, {"PLN": "287.00"})
    assert report.charges == {"shipping PLN": "15.00", "tax PLN": "19.92"}
    assert report.skipped == {"cancelled orders": 1}
    assert [(p.kind, p.rows) for p in report.problems] == [("guest", (6,))]
    assert rows(store, "customers", ["customer_id", "email", "name"]) == [
        ("woocommerce:14", "ada@example.com", "Ada Nowak"),
        ("woocommerce:15", "bolek@example.pl", "Bolek Lis"),
        ("woocommerce:16", "cy@example.com", "Cy Tran"),
    ]
    again = import_files(store, "woocommerce-orders", [WOO], timezone="Europe/Warsaw")
    assert again.tables["orders"] == {"rows": 9, "new": 0, "updated": 0, "unchanged": 9}
