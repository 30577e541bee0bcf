"""Typed parsers for what a person types: a month, an amount of money, a count, an id, a note.

One set of parsers for the command line and the web (:mod:`keepwise.web.validation` applies them to query
parameters and JSON bodies), so that a value is refused by the same rule, with the same words, wherever it is
given. Each raises :class:`~keepwise.exceptions.BadInput` naming the field as the Python API calls it
(``month``, ``cost``); the CLI shows it as ``--month``, the web as the query or body field, with exit code 2
or HTTP 400. The bounds are the data contract's (:mod:`keepwise.store.schema.columns`): a value a load would
refuse is refused here too, before it can overflow a computation later.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from keepwise.exceptions import BadInput, KeepwiseInputError

__all__ = [
    "MAX_AMOUNT_DIGITS",
    "MAX_COUNT",
    "MAX_DECIMALS",
    "MAX_MONTHS",
    "amount",
    "calendar_overflow",
    "count",
    "day",
    "has_control_characters",
    "identifier",
    "month",
    "text",
]

#: Digits before and after the decimal point of an amount: the contract's ``DECIMAL(18, 4)`` money, with
#: the 14 digits a load accepts before the point.
MAX_AMOUNT_DIGITS = 14
MAX_DECIMALS = 4
#: The longest span in months (the contract's years, 1900 to 2200).
MAX_MONTHS = (2200 - 1900 + 1) * 12
#: The largest count anyone asks for (rows of a table, ``--top``).
MAX_COUNT = 1_000_000

_AMOUNT = re.compile(rf"^-?\d{{1,{MAX_AMOUNT_DIGITS}}}(\.\d{{1,{MAX_DECIMALS}}})?$")
_INTEGER = re.compile(r"^[+-]?\d{1,30}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def day(value: object, field: str) -> date:
    """A calendar day written ``YYYY-MM-DD`` with a year from 1900 to 2200 (the contract's years)."""
    from keepwise.store.schema.columns import YEAR_RANGE

    low, high = YEAR_RANGE
    try:
        parsed = date.fromisoformat(str(value).strip())
    except ValueError:
        raise BadInput(field, "must be a day written YYYY-MM-DD, e.g. 2024-06-30", value) from None
    if not low <= parsed.year <= high:
        raise BadInput(field, f"is out of range; a day runs from {low}-01-01 to {high}-12-31", value)
    return parsed


def calendar_overflow(exc: BaseException) -> str | None:
    """The one line to show when ``exc`` is a date pushed off Python's calendar by what the user asked for.

    A month or day the parsers let through can still be moved out of the calendar by arithmetic on it (a
    horizon added, a window subtracted): Python raises ``OverflowError: date value out of range`` or
    ``ValueError: year 10000 is out of range``. That is a request too far out, not a fault of keepwise: the
    CLI exits 2 and the web answers 400 with this line. ``None`` for any other exception.
    """
    text = str(exc)
    if isinstance(exc, OverflowError | ValueError) and (
        "date value out of range" in text or re.fullmatch(r"year -?\d+ is out of range", text)
    ):
        return f"a date computed from the request is out of range ({text}); use dates from 1900 to 2200"
    return None


def has_control_characters(value: str) -> bool:
    """Whether ``value`` holds a C0 or C1 control character (NUL, ESC, line breaks...) or DEL."""
    return _CONTROL.search(value) is not None


def month(value: object, field: str = "month", *, strict: bool = True) -> str:
    """``YYYY-MM`` as given (trimmed), checked by :func:`keepwise.months.parse_month` (years 1900 to 2200).

    ``strict=False`` refuses only a month out of range and passes a malformed one on, for the stage that
    takes it to refuse in its own words (those of its command).
    """
    from keepwise.months import MonthOutOfRange, parse_month

    if not isinstance(value, str):
        raise BadInput(field, "must be a month written YYYY-MM, e.g. 2024-06", value)
    try:
        parse_month(value)
    except MonthOutOfRange as exc:
        raise BadInput(field, str(exc)) from None
    except KeepwiseInputError as exc:
        if strict:
            raise BadInput(field, str(exc).removeprefix("month ")) from None
    return value.strip()


def amount(value: object, field: str, *, minimum: Decimal | int | None = 0) -> Decimal:
    """An amount of money written as digits with at most one decimal point, e.g. ``200.00``.

    At most 14 digits before the point and 4 after (what the store holds exactly); ``1e3``, ``NaN``,
    ``1_000`` and a JSON ``true`` are not amounts. ``minimum`` (default 0) is the smallest allowed.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise BadInput(field, f"must be an amount such as 200.00, not {value!r}")
    written = format(value, "f") if isinstance(value, Decimal) and value.is_finite() else str(value).strip()
    if not _AMOUNT.match(written):
        if re.match(r"^-?\d+(\.\d+)?$", written):
            raise BadInput(
                field,
                f"must be an amount with at most {MAX_AMOUNT_DIGITS} digits before the decimal point and "
                f"{MAX_DECIMALS} after, not {written}",
            )
        raise BadInput(field, f"must be an amount such as 200.00, not {value!r}")
    try:
        result = Decimal(written)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise BadInput(field, f"must be an amount such as 200.00, not {value!r}") from None
    if minimum is not None and result < minimum:
        raise BadInput(field, f"must be an amount of at least {minimum}, not {written}")
    return result


def count(value: object, field: str, *, minimum: int | None = 0, maximum: int = MAX_COUNT) -> int:
    """A whole number from ``minimum`` to ``maximum`` (written as digits; ``1e3`` and ``2.5`` are not).

    ``minimum=None`` leaves the lower bound to the stage that takes the number (its message is the CLI's).
    """
    span = f"from {minimum} to {maximum}" if minimum is not None else f"up to {maximum}"
    if isinstance(value, bool):
        raise BadInput(field, f"must be a whole number {span}", value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and _INTEGER.match(value.strip()):
        number = int(value.strip())
    else:
        raise BadInput(field, f"must be a whole number {span}", value)
    if number > maximum or (minimum is not None and number < minimum):
        raise BadInput(field, f"must be a whole number {span}", number)
    return number


def identifier(value: object, field: str) -> str:
    """An id as the store keeps it: text of 1 to 200 characters without control characters, trimmed."""
    from keepwise.store.schema.columns import MAX_ID_LENGTH

    if not isinstance(value, str) or not value.strip():
        raise BadInput(field, "is required, e.g. C001")
    value = value.strip()
    if len(value) > MAX_ID_LENGTH:
        raise BadInput(field, f"is longer than {MAX_ID_LENGTH} characters")
    if _CONTROL.search(value):
        raise BadInput(field, "must not contain control characters")
    return value


def text(value: object, field: str, *, limit: int | None = None) -> str:
    """Free text (a note): no NUL or other control characters but line breaks and tabs, at most 10,000."""
    from keepwise.store.schema.columns import MAX_TEXT_LENGTH

    limit = limit or MAX_TEXT_LENGTH
    if not isinstance(value, str):
        raise BadInput(field, "must be text")
    if len(value) > limit:
        raise BadInput(field, f"is longer than {limit} characters")
    if _CONTROL.search(value.replace("\n", "").replace("\t", "").replace("\r", "")):
        raise BadInput(field, "must not contain control characters")
    return value
