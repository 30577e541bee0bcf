"""A small business whose March 2024 profit is computed by hand in test_profitability.py."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from keepwise.config import Config, ValueAssumptions
from keepwise.store.ingest import load_frame


def _frame(columns: str, rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns.split(), dtype=object)


FIXTURE: dict[str, pd.DataFrame] = {
    "customers": _frame(
        "customer_id acquired_at currency",
        [
            ("A", "2023-06-01", "USD"),  # returns, a concession, staff time across a rate change
            ("B", "2023-06-01", "USD"),  # staff time only, no orders
            ("C", "2023-06-01", "USD"),  # refers D
            ("D", "2024-03-05", "USD"),  # the referred customer
            ("E", "2023-06-01", "USD"),  # a review (configured value) and a case study (own value)
        ],
    ),
    "products": _frame("product_id category unit_cost currency", [("P2", "tea", "7.25", "USD")]),
    "orders": _frame(
        "order_id line_no customer_id ordered_at product_id quantity unit_price unit_cost currency",
        [
            ("O1", "1", "A", "2024-03-03T10:00:00Z", "P1", "3", "20.00", "12.00", "USD"),
            ("O2", "1", "A", "2024-03-08T10:00:00Z", "P1", "-1", "20.00", "12.00", "USD"),  # a return
            ("O3", "1", "A", "2024-03-09T10:00:00Z", "P2", "2", "15.50", None, "USD"),  # product's cost
            # 01:30 on 1 April in UTC+2 is 23:30 on 31 March in UTC: March.
            ("O4", "1", "A", "2024-04-01T01:30:00+02:00", "P1", "1", "10.00", "4.00", "USD"),
            # 00:30 on 1 March in UTC+2 is 22:30 on 29 February in UTC: February, not March.
            ("O5", "1", "A", "2024-03-01T00:30:00+02:00", "P1", "1", "1000.00", "0.00", "USD"),
            ("O6", "1", "C", "2024-03-04T12:00:00Z", "P1", "1", "100.00", "40.00", "USD"),
            ("O7", "1", "D", "2024-03-06T12:00:00Z", "P1", "2", "25.00", "10.00", "USD"),
            ("O8", "1", "D", "2024-04-10T12:00:00Z", "P1", "1", "25.00", "10.00", "USD"),
            ("O9", "1", "D", "2025-03-06T12:00:00Z", "P1", "1", "25.00", "10.00", "USD"),  # after year one
        ],
    ),
    "staff_rates": _frame(
        "staff_id hourly_cost currency valid_from practical_minutes_per_month",
        [
            ("S1", "48.00", "USD", "2024-01-01T00:00:00Z", "6000"),
            ("S1", "60.00", "USD", "2024-03-16T00:00:00Z", "6000"),  # the rate changes mid-March
            ("S2", "50.00", "USD", "2024-01-01T00:00:00Z", "1000"),
        ],
    ),
    "time_logs": _frame(
        "customer_id staff_id started_at minutes activity",
        [
            ("A", "S1", "2024-03-10T09:00:00Z", "30", "call"),  # at 48.00/h
            ("A", "S1", "2024-03-20T09:00:00Z", "30", "call"),  # at 60.00/h
            ("B", "S1", "2024-03-18T09:00:00Z", "45", "visit"),  # at 60.00/h
            ("B", "S2", "2024-03-18T11:00:00Z", "7", "quote"),  # at 50.00/h
        ],
    ),
    "incidents": _frame(
        "incident_id customer_id opened_at status concession_amount currency resolved_at",
        [
            ("I1", "A", "2024-02-27T10:00:00Z", "resolved", "10.00", "USD", "2024-03-02T10:00:00Z"),
            ("I2", "C", "2024-03-10T10:00:00Z", "resolved", None, None, "2024-03-11T10:00:00Z"),
        ],
    ),
    "advocacy": _frame(
        "customer_id kind at referred_customer_id value currency",
        [
            ("C", "referral", "2024-03-05T09:00:00Z", "D", None, None),
            ("E", "review", "2024-03-12T09:00:00Z", None, None, None),
            ("E", "case_study", "2024-03-14T09:00:00Z", None, "150.00", "USD"),
        ],
    ),
}


def load_fixture(store, extra: dict[str, pd.DataFrame] | None = None) -> None:
    for name in ("customers", "products", "orders", "staff_rates", "time_logs", "incidents", "advocacy"):
        frame = FIXTURE[name]
        if extra and name in extra:
            frame = pd.concat([frame, extra[name]], ignore_index=True)
        load_frame(store, name, frame, source=f"fixture {name}")


#: Assumptions of the fixture: a review is worth 20.00; platinum and gold are 20% each so that, with five
#: customers, each tier has someone in it.
def eur_customer() -> dict[str, pd.DataFrame]:
    """Customer F, who buys in EUR: one line of 1 x 100.00, cost 50.00, on 2024-03-07 (extra rows for
    :func:`load_fixture`)."""
    return {
        "customers": pd.DataFrame([{"customer_id": "F", "currency": "EUR"}]),
        "orders": pd.DataFrame(
            [
                {
                    "order_id": "O10",
                    "line_no": "1",
                    "customer_id": "F",
                    "ordered_at": "2024-03-07T12:00:00Z",
                    "quantity": "1",
                    "unit_price": "100.00",
                    "unit_cost": "50.00",
                    "currency": "EUR",
                }
            ]
        ),
    }


CONFIG = Config(
    value=ValueAssumptions(
        review_value=Decimal("20.00"), platinum_share=0.2, gold_share=0.2, fx={"EUR": Decimal("1.10")}
    )
)


@pytest.fixture
def shop(store):
    load_fixture(store)
    return store
