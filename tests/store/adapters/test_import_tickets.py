"""Zendesk and Freshdesk ticket exports -> incidents.

Fixtures follow Zendesk's CSV ticket export ("Exporting data to a JSON, CSV, or XML file", Zendesk help,
https://support.zendesk.com/hc/en-us/articles/4408886165402: Id, Requester, Requester id, Requester email,
Subject, Tags, Status, Ticket type, Created at, Solved at, ... in the account's time zone) and Freshdesk's
ticket export (Tickets > Export; its ticket fields as documented in the Freshdesk API,
https://developers.freshdesk.com/api/#tickets: status Open, Pending, Resolved, Closed, Waiting on Customer),
written with a BOM and CRLF. Awkward cases: a ticket merged into another, a requester e-mail in capitals, a
requester who is no customer, a ticket without an e-mail, an open ticket without a resolution time.
"""

from __future__ import annotations

import pytest

from keepwise.store.adapters import import_files
from keepwise.store.ingest import load_file

from .helpers import FIXTURES, rows

WARSAW = "Europe/Warsaw"
COLUMNS = ["incident_id", "customer_id", "opened_at", "category", "status", "resolved_at"]


@pytest.fixture
def customers(store):
    load_file(store, "customers", FIXTURES / "customers_contract.csv", show_progress=False)
    return store


def test_zendesk_tickets_become_incidents(customers):
    report = import_files(customers, "zendesk", [FIXTURES / "zendesk_tickets_2026-03.csv"], timezone=WARSAW)
    assert rows(customers, "incidents", COLUMNS) == [
        (
            "zendesk:101",
            "C-ACME",
            "2026-03-02T08:15:00+00:00",
            "incident",
            "resolved",
            "2026-03-03T16:00:00+00:00",
        ),
        ("zendesk:102", "C-BOLT", "2026-03-05T10:00:00+00:00", "question", "open", None),
        (
            "zendesk:105",
            "C-BOLT",
            "2026-03-10T07:00:00+00:00",
            "problem",
            "closed",
            "2026-03-11T08:30:00+00:00",
        ),
    ]
    assert report.skipped == {"tickets merged into another": 1}  # 103, closed_by_merge
    assert [(p.kind, p.rows, p.column) for p in report.problems] == [("unmatched", (5,), "Requester email")]
    again = import_files(customers, "zendesk", [FIXTURES / "zendesk_tickets_2026-03.csv"], timezone=WARSAW)
    assert again.tables["incidents"] == {"rows": 3, "new": 0, "updated": 0, "unchanged": 3}


def test_freshdesk_tickets_become_incidents(customers):
    report = import_files(
        customers, "freshdesk", [FIXTURES / "freshdesk_tickets_2026-03.csv"], timezone=WARSAW
    )
    assert rows(customers, "incidents", COLUMNS) == [
        (
            "freshdesk:7",
            "C-ACME",
            "2026-03-04T09:00:00+00:00",
            "incident",
            "resolved",
            "2026-03-04T14:00:00+00:00",
        ),
        ("freshdesk:8", "C-BOLT", "2026-03-06T08:00:00+00:00", "question", "open", None),
    ]
    assert report.skipped == {"tickets merged into another": 1}
    assert [(p.kind, p.rows, p.message) for p in report.problems] == [
        ("unmatched", (5,), "no e-mail or client to match a customer by")
    ]
