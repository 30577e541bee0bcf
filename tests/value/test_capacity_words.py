"""Unused staff capacity in words (issue 17, item 6): negative unused capacity is time over capacity."""

from __future__ import annotations

from decimal import Decimal

from keepwise.value.profitability.cost_to_serve import capacity_words


def test_over_capacity_is_said_as_minutes_over_capacity_not_negative_money():
    text = capacity_words(Decimal("-7055.0000"), Decimal("-5403.18"), "USD", "2024-06")
    assert text == (
        "Staff worked 7,055 minutes over capacity in 2024-06; all of it is in customers' cost to serve, "
        "so no capacity went unused."
    )
    assert "-7" not in text and "$" not in text


def test_unused_capacity_keeps_its_money_in_the_reporting_currency():
    text = capacity_words("900.00", "1200.00", "PLN", "2024-06")
    assert text.startswith("Staff capacity paid for but not used on customers in 2024-06: ")
    assert "(900 minutes)" in text and "1,200.00 zł" in text
    assert capacity_words("0", "0", "USD") == "Staff worked exactly their capacity: none went unused."
