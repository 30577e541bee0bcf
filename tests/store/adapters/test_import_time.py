"""Toggl, Harvest and Clockify detailed reports -> time_logs (and Harvest's cost rates -> staff_rates).

Fixtures follow each tool's documented export: Toggl Track's detailed report CSV ("Editing and uploading a
CSV file", https://support.toggl.com/import-and-export/csv-import/editing-and-uploading-a-csv-file: User,
Email, Client, Project, Task, Description, Billable, Start date, Start time, End date, End time, Duration,
Tags), written as Toggl writes it with a UTF-8 BOM and CRLF; Harvest's detailed time report ("Importing and
exporting data", https://support.getharvest.com/hc/en-us/articles/360048685111: Date, Client, Project, Task,
Notes, Hours in decimals, First and Last name, with the rates and currency of the detailed report), with a
decimal comma; Clockify's detailed report ("Understand & use your reports",
https://clockify.me/help/getting-started/understand-use-your-reports), dates DD/MM/YYYY, BOM and CRLF.
Awkward cases: an entry without a client, a client in other letter case, a client that is no customer, a
day with two entries for one person and client (Harvest: one row, minutes added up).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from keepwise.exceptions import BadInput
from keepwise.store.adapters import import_files
from keepwise.store.ingest import load_file

from .helpers import FIXTURES, rows, total

WARSAW = "Europe/Warsaw"


@pytest.fixture
def customers(store):
    load_file(store, "customers", FIXTURES / "customers_contract.csv", show_progress=False)
    return store


def test_toggl_entries_become_time_logs_of_the_clients_customers(customers):
    report = import_files(customers, "toggl", [FIXTURES / "toggl_detailed_2026-03.csv"], timezone=WARSAW)
    assert rows(customers, "time_logs", ["customer_id", "staff_id", "started_at", "minutes", "activity"]) == [
        ("C-ACME", "ola@beanleaf.example", "2026-03-02T08:00:00+00:00", "45", "Call"),
        ("C-ACME", "ola@beanleaf.example", "2026-03-02T13:30:00+00:00", "30", "Call"),
        ("C-BOLT", "ola@beanleaf.example", "2026-03-03T09:00:00+00:00", "60", "Visit"),  # "bolt & co"
    ]
    assert total(customers, "time_logs", "minutes") == Decimal("135.00")
    assert report.skipped == {"time entries without a client (internal time)": 1}
    assert [(p.kind, p.rows, p.column, p.message) for p in report.problems] == [
        ("unmatched", (6,), "Client", "client 'Nowhere Inc' matches no customer's name or id")
    ]
    assert report.customers == {"new": 0, "known": 2}
    again = import_files(customers, "toggl", [FIXTURES / "toggl_detailed_2026-03.csv"], timezone=WARSAW)
    assert again.tables["time_logs"] == {"rows": 3, "new": 0, "updated": 0, "unchanged": 3}


def test_local_times_need_a_zone(customers):
    with pytest.raises(
        BadInput, match=r"toggl_detailed_2026-03\.csv has local times in 'Start date' without a"
    ):
        import_files(customers, "toggl", [FIXTURES / "toggl_detailed_2026-03.csv"])


def test_the_zone_can_come_from_keepwise_toml(customers, tmp_path, monkeypatch):
    (tmp_path / "keepwise.toml").write_text('[import]\ntimezone = "Europe/Warsaw"\n')
    monkeypatch.chdir(tmp_path)
    import_files(customers, "toggl", [FIXTURES / "toggl_detailed_2026-03.csv"])
    assert customers.count("time_logs") == 3


def test_harvest_days_two_entries_add_up_and_cost_rates_load(customers):
    report = import_files(customers, "harvest", [FIXTURES / "harvest_detailed_2026-03.csv"], timezone=WARSAW)
    assert rows(customers, "time_logs", ["customer_id", "staff_id", "started_at", "minutes", "activity"]) == [
        ("C-ACME", "Ola Kot", "2026-03-02T23:00:00+00:00", "105", "Call; Visit"),  # 0,5 h + 1,25 h
        ("C-BOLT", "Jan Mak", "2026-03-03T23:00:00+00:00", "45", "Quote"),
    ]
    assert report.minutes == "150.00"
    assert rows(customers, "staff_rates", ["staff_id", "role", "hourly_cost", "currency", "valid_from"]) == [
        ("Jan Mak", "Sales", "35", "EUR", "2026-03-03T23:00:00+00:00"),
        ("Ola Kot", "Account manager", "40", "EUR", "2026-03-02T23:00:00+00:00"),
    ]


def test_clockify_day_first_dates_and_exact_durations(customers):
    report = import_files(
        customers, "clockify", [FIXTURES / "clockify_detailed_2026-03.csv"], timezone=WARSAW
    )
    assert rows(customers, "time_logs", ["customer_id", "staff_id", "started_at", "minutes"]) == [
        ("C-ACME", "ola@beanleaf.example", "2026-03-13T08:00:00+00:00", "20"),
        ("C-ACME", "ola@beanleaf.example", "2026-03-13T14:00:00+00:00", "40"),
        ("C-BOLT", "jan@beanleaf.example", "2026-03-02T10:00:00+00:00", "90"),
    ]
    assert report.minutes == "150.00"


def test_dates_that_read_both_ways_are_refused_unless_told(customers, tmp_path):
    text = (FIXTURES / "clockify_detailed_2026-03.csv").read_text(encoding="utf-8-sig")
    ambiguous = tmp_path / "clockify.csv"
    ambiguous.write_text(text.replace("13/03/2026", "03/04/2026").replace("14/03/2026", "03/04/2026"))
    with pytest.raises(BadInput, match="could be day/month or month/day"):
        import_files(customers, "clockify", [ambiguous], timezone=WARSAW)
    import_files(customers, "clockify", [ambiguous], timezone=WARSAW, date_format="%d/%m/%Y")
    assert customers.count("time_logs") == 3


def test_an_import_section_leaves_every_other_command_working(tmp_path, monkeypatch):
    # [import] is a section of keepwise.toml like the others: the settings load, and its zone is listed
    from keepwise.config import load_config, used

    (tmp_path / "keepwise.toml").write_text(
        '[import]\ntimezone = "Europe/Warsaw"\n[clv]\nhorizon_months = 6\n'
    )
    monkeypatch.chdir(tmp_path)
    config = load_config()
    assert config.imports.timezone == "Europe/Warsaw" and config.clv.horizon_months == 6
    (listed,) = used(config, "import")
    assert (listed["name"], listed["value"], listed["from"]) == (
        "import.timezone",
        "Europe/Warsaw",
        "keepwise.toml",
    )
