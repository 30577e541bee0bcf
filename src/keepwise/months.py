"""Calendar months, the period every stage works in: one parser, one arithmetic.

A month is written ``YYYY-MM`` by users and reports; inside keepwise it is the first instant of the month in
UTC (a ``datetime``), or a month index (year x 12 + month - 1) where months are counted.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from keepwise.exceptions import KeepwiseInputError

__all__ = ["MonthOutOfRange", "add_months", "month_index", "month_label", "month_start", "parse_month"]

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class MonthOutOfRange(KeepwiseInputError):
    """A month written correctly whose year lies outside the data contract's years (1900 to 2200)."""


def parse_month(text: str) -> datetime:
    """The first instant (UTC) of the month written ``YYYY-MM``; anything else is a user mistake.

    The year must lie in the data contract's :data:`~keepwise.store.schema.columns.YEAR_RANGE` (1900 to 2200,
    the years a load accepts): a month outside it can hold no data, and its arithmetic (a year back, twelve
    months on) would leave the calendar. The message is one line, without the field's name (the CLI and the
    web each add theirs).
    """
    from keepwise.store.schema.columns import YEAR_RANGE

    match = _MONTH.match(str(text).strip())
    if not match or not 1 <= int(match.group(2)) <= 12:
        raise KeepwiseInputError(f"month '{text}' is not understood; write it as YYYY-MM, e.g. 2024-06")
    low, high = YEAR_RANGE
    if not low <= int(match.group(1)) <= high:
        raise MonthOutOfRange(f"'{text}' is out of range; a month runs from {low}-01 to {high}-12")
    return datetime(int(match.group(1)), int(match.group(2)), 1, tzinfo=UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """The first instant of the month ``months`` after the month of ``moment`` (a month start)."""
    index = moment.year * 12 + (moment.month - 1) + months
    return moment.replace(year=index // 12, month=index % 12 + 1, day=1)


def month_index(moment: datetime) -> int:
    """Months since year 0 of ``moment``'s month (year x 12 + month - 1)."""
    return moment.year * 12 + moment.month - 1


def month_start(index: int) -> datetime:
    """The first instant (UTC) of month ``index``."""
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def month_label(index: int) -> str:
    """``YYYY-MM`` for a month index."""
    return f"{index // 12:04d}-{index % 12 + 1:02d}"
