"""keepwise.arguments: the typed parsers the command line and the web share (issue 21, item 5)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from keepwise import arguments
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.months import MonthOutOfRange, parse_month


@pytest.mark.parametrize("text", ["9999-12", "0001-01", "1899-12", "2201-01"])
def test_a_month_outside_the_contracts_years_is_refused_in_one_line(text):
    with pytest.raises(
        MonthOutOfRange, match=rf"^'{text}' is out of range; a month runs from 1900-01 to 2200-12$"
    ):
        parse_month(text)
    with pytest.raises(BadInput) as caught:
        arguments.month(text)
    assert caught.value.field == "month" and "out of range" in caught.value.problem


def test_the_contracts_first_and_last_months_are_accepted():
    assert parse_month("1900-01").year == 1900 and parse_month("2200-12").month == 12
    assert arguments.month(" 2024-06 ") == "2024-06"
    with pytest.raises(BadInput, match="is not understood"):
        arguments.month("2024-13")
    assert arguments.month("2024-13", strict=False) == "2024-13"  # left to the stage's own words
    with pytest.raises(BadInput):
        arguments.month("9999-12", strict=False)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("200.00", Decimal("200.00")),
        (150, Decimal("150")),
        (1.5, Decimal("1.5")),
        (Decimal("1E+2"), Decimal("100")),
        ("99999999999999.9999", Decimal("99999999999999.9999")),
        ("0", Decimal("0")),
    ],
)
def test_amounts_that_fit_the_store(value, expected):
    assert arguments.amount(value, "cost") == expected


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("1e400", "must be an amount such as 200.00, not '1e400'"),
        (
            "99999999999999999999",
            "must be an amount with at most 14 digits before the decimal point and 4 after",
        ),
        ("0.123456", "must be an amount with at most 14 digits"),
        ("NaN", "must be an amount such as 200.00"),
        ("1_000", "must be an amount such as 200.00"),
        (1e300, "must be an amount such as 200.00"),
        (True, "must be an amount such as 200.00"),
        (None, "must be an amount such as 200.00"),
        ("-5", "must be an amount of at least 0, not -5"),
    ],
)
def test_amounts_that_would_overflow_or_are_not_amounts_are_refused(value, problem):
    with pytest.raises(BadInput) as caught:
        arguments.amount(value, "cost")
    assert caught.value.field == "cost" and caught.value.problem.startswith(problem)


def test_counts_are_whole_numbers_within_bounds():
    assert arguments.count("12", "months", minimum=1, maximum=arguments.MAX_MONTHS) == 12
    assert arguments.count(-3, "top", minimum=None) == -3  # the lower bound left to the stage
    for bad in ("1000000000", "1e3", "2.5", "", True, "9" * 40):
        with pytest.raises(BadInput):
            arguments.count(bad, "months", minimum=1, maximum=arguments.MAX_MONTHS)


def test_ids_and_text():
    assert arguments.identifier(" X/1 ", "customer_id") == "X/1"
    for bad in ("", "a\x00b", "\x1b[2J", "C" * 201, 5):
        with pytest.raises(BadInput):
            arguments.identifier(bad, "customer_id")
    assert arguments.text("called\ntwice", "note") == "called\ntwice"
    with pytest.raises(BadInput):
        arguments.text("a\x00", "note")


def test_days_within_the_contracts_years():
    assert arguments.day("2024-06-30", "as_of") == date(2024, 6, 30)
    for bad in ("9999-12-31", "1899-12-31", "2024-02-30", "soon"):
        with pytest.raises(BadInput):
            arguments.day(bad, "as_of")


def test_a_date_pushed_off_the_calendar_is_named_as_such_and_nothing_else_is():
    from datetime import datetime, timedelta

    with pytest.raises(OverflowError) as overflow:
        date(9999, 12, 31) + timedelta(days=1)
    with pytest.raises(ValueError) as year:
        datetime(10000, 1, 1)
    for caught in (overflow, year):
        line = arguments.calendar_overflow(caught.value)
        assert line is not None and line.endswith("use dates from 1900 to 2200")
    assert arguments.calendar_overflow(ValueError("invalid literal for int()")) is None
    assert arguments.calendar_overflow(KeepwiseInputError("year 10000 is out of range")) is None
