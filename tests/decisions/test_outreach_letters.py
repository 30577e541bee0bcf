"""Letters for outreach (issue 17, item 7): reprice and part-ways letters, and a goodbye that fits the reason.

The store is the two unprofitable customers of ``test_service.py``'s hand-computed business (June 2024):
R loses 130 on revenue 1,000 (13.0% higher prices break even: reprice), P loses 310 on revenue 200 (155%:
part ways).
"""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from keepwise.config import Config
from keepwise.decisions import outreach
from keepwise.exceptions import KeepwiseInputError
from keepwise.messages.compose import compose
from keepwise.messages.preview import preview
from keepwise.store.ingest import load_frame

AT = datetime(2024, 7, 1, 12, tzinfo=UTC)


def _frame(columns: str, rows: list[tuple[str | None, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns.split(), dtype=object)


def _order(oid: str, cid: str, at: str, revenue: str, cost: str) -> tuple[str, ...]:
    return (oid, "1", cid, at, "P1", "1", revenue, cost, "USD")


@pytest.fixture
def planned(store):
    tables = {
        "customers": _frame(
            "customer_id name email language acquired_at currency",
            [
                ("R", "Rita Rowe", "r@example.com", "en", "2024-01-01", "USD"),
                ("P", "Paweł Pawlak", "p@example.com", "pl", "2024-01-01", "USD"),
            ],
        ),
        "staff_rates": _frame(
            "staff_id hourly_cost currency valid_from", [("S1", "60.00", "USD", "2023-01-01T00:00:00Z")]
        ),
        "orders": _frame(
            "order_id line_no customer_id ordered_at product_id quantity unit_price unit_cost currency",
            [
                _order("R1", "R", "2024-02-01T10:00:00Z", "500.00", "300.00"),
                _order("R2", "R", "2024-05-01T10:00:00Z", "500.00", "300.00"),
                _order("P1", "P", "2024-02-01T10:00:00Z", "100.00", "80.00"),
                _order("P2", "P", "2024-05-01T10:00:00Z", "100.00", "80.00"),
            ],
        ),
        "time_logs": _frame(
            "customer_id staff_id started_at minutes activity",
            [
                ("R", "S1", "2024-03-10T09:00:00Z", "250", "call"),
                ("R", "S1", "2024-06-10T09:00:00Z", "280", "call"),
                ("P", "S1", "2024-03-10T09:00:00Z", "200", "call"),
                ("P", "S1", "2024-06-10T09:00:00Z", "150", "call"),
            ],
        ),
        "exits": _frame("customer_id lost_at reason_code", [("P", "2024-06-30", "competitor")]),
    }
    for name, frame in tables.items():
        load_frame(store, name, frame, source=name)
    result = outreach.run(store, "2024-06", config=Config())
    recs = {
        a.customer_id: a.recommendation for a in result.plan.actions if a.action == "reprice_or_part_ways"
    }
    assert recs == {"R": "reprice", "P": "part_ways"}
    return store


def test_the_reprice_letter_quotes_the_plans_increase_and_owns_the_mistake(planned):
    letter = preview(planned, customer="R", kind="reprice", config=Config(), at=AT)
    # break even at +13.0%: 13%, from the decision's due date (2024-07-31) plus 30 days of notice
    assert "prices on your orders will be 13% higher" in letter.text
    assert "From 30 August 2024, prices" in letter.text
    assert "That is our doing" in letter.text and "we got them wrong" in letter.text
    assert "free to take your business elsewhere" in letter.text and "We hope you stay" in letter.text
    assert "13% higher" in letter.html and letter.subject.startswith("A change to your prices, Rita Rowe")
    assert letter.cause == "outreach-2024-06"


def test_the_part_ways_letter_in_polish_keeps_the_door_open(planned):
    letter = preview(planned, customer="P", kind="partways", config=Config(), at=AT)
    assert letter.language == "pl"
    assert "To nasze niedociągnięcie, nie Twoje." in letter.text
    assert "Nasze drzwi pozostają otwarte" in letter.text and "Nasze drzwi pozostają otwarte" in letter.html
    assert "przyjmujemy ostatnie zamówienia do 30.08.2024" in letter.text  # due 2024-07-31 + 30 days


def test_the_wrong_letter_for_the_plan_is_an_input_error(planned):
    with pytest.raises(KeepwiseInputError, match="recommends the 'partways' letter"):
        preview(planned, customer="P", kind="reprice", config=Config(), at=AT)


def _goodbye(reason: str | None, language: str = "en") -> str:
    facts = {} if reason == "omitted" else {"reason": reason}
    m = compose(
        "goodbye",
        customer_id="C",
        recipient="c@example.com",
        customer_name="Emma Wilson",
        language=language,
        cause="lapse",
        facts=facts,
        business_name="Shop",
    )
    assert m.html.count("<p>") >= 4
    return m.text


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("price", "our prices did not suit you"),
        ("competitor", "You chose another supplier"),
        ("service", "Our service let you down, and we are sorry"),
        ("quality", "not up to the standard you needed"),
        ("moved", "you have moved away"),
        ("closed", "your business has closed"),
        ("no_need", "you no longer need what we sell"),
        (None, "It has been a while since your last order"),
        ("omitted", "It has been a while since your last order"),
        ("made_up_code", "It has been a while since your last order"),
    ],
)
def test_the_goodbye_fits_the_exit_reason(reason, words):
    text = _goodbye(reason)
    assert words in text
    assert "you have moved on" not in text  # said to everyone before, whether they had or not
    assert "Our door stays open." in text


def test_the_polish_goodbye_fits_the_exit_reason():
    assert "Wybrano innego dostawcę." in _goodbye("competitor", "pl")
    assert "Od ostatniego zamówienia u nas minęło już sporo czasu." in _goodbye(None, "pl")
    assert "potrzeby się zmieniły" not in _goodbye("service", "pl")
