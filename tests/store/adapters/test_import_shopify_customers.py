"""Shopify customers export -> new customers, links to their Shopify ids, and e-mail marketing consent.

The fixture follows Shopify's customers export ("Exporting customers", Shopify Help Center,
https://help.shopify.com/en/manual/customers/import-export-customers: Customer ID, First Name, Last Name,
Email, Accepts Email Marketing, Default Address ..., Total Spent, Total Orders, Tags; ids and zip codes
written with a leading apostrophe). The export carries no dates, so its consents are dated by the file.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime

from keepwise.store.adapters import import_files

from .helpers import FIXTURES, rows


def test_customers_export_adds_new_customers_links_and_consent(store, tmp_path):
    import_files(store, "shopify-orders", [FIXTURES / "shopify_orders_2026-03.csv"])
    export = shutil.copy(FIXTURES / "shopify_customers_export.csv", tmp_path / "customers_export.csv")
    day = datetime(2026, 3, 31, 18, 0, tzinfo=UTC).timestamp()
    os.utime(export, (day, day))
    report = import_files(store, "shopify-customers", [export])
    assert report.customers == {"new": 2, "known": 2}
    assert rows(store, "customers", ["customer_id", "email", "name"]) == [
        ("shopify:7003", "gus@example.com", "Gus Berg"),
        ("shopify:7004", None, "Walk-in"),
        ("shopify:ada@example.com", "ada@example.com", "Ada Nowak"),
        ("shopify:bolek@example.pl", "bolek@example.pl", "Bolek Lis"),
        ("shopify:cy@example.com", "cy@example.com", "Cy Tran"),
    ]
    assert rows(store, "import_ids", ["source_id", "customer_id"]) == [
        ("7001", "shopify:ada@example.com"),
        ("7002", "shopify:bolek@example.pl"),
        ("7003", "shopify:7003"),
        ("7004", "shopify:7004"),
    ]
    # Ada's consent came with her first order; Gus's is new, dated by the export and named after it
    assert rows(store, "consent", ["customer_id", "granted_at", "source"]) == [
        ("shopify:7003", "2026-03-31T00:00:00+00:00", "shopify customers export customers_export.csv"),
        (
            "shopify:ada@example.com",
            "2026-03-02T14:14:02+00:00",
            "shopify orders export shopify_orders_2026-03.csv",
        ),
    ]
    again = import_files(store, "shopify-customers", [export])
    assert again.customers == {"new": 0, "known": 4} and store.count("consent") == 2
