"""Periods and the engine's exact money arithmetic, shared by every part of profitability."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

import ibis
import ibis.expr.types as ir
import pandas as pd

from keepwise import months
from keepwise.exceptions import KeepwiseInputError
from keepwise.store import Store, as_store
from keepwise.store.memo import once

__all__ = [
    "COMPONENTS",
    "FIELDS",
    "MONEY",
    "CurrencyView",
    "Period",
    "View",
    "frame",
    "latest_month",
    "month_label",
    "parse_month",
    "period",
    "too_large_to_keep",
]

View = Literal["month", "ttm", "lifetime"]
CurrencyView = Literal["reporting", "customer"]

#: Amounts computed from the records, in the order they are added up.
COMPONENTS: tuple[str, ...] = ("revenue", "cogs", "cost_to_serve", "concessions", "advocacy_value")
#: Every money field of a customer's row, as the JSON output lists them.
FIELDS: tuple[str, ...] = (
    "revenue",
    "cogs",
    "gross_margin",
    "cost_to_serve",
    "concessions",
    "advocacy_value",
    "profit",
)

#: A customer's amount for a period: ``DECIMAL(18, 4)`` like the store's money, so the engine works on 64-bit
#: integers (an amount of 10^14 or more is an overflow error, never a silent wrong figure).
MONEY = "decimal(18, 4)"
#: An order line's amount before rounding: the exact product of two 4-place decimals. The contract keeps
#: quantity x price below 10^10 (``LINE_TOTAL_LIMIT``), so a line fits 64 bits.
_RAW = "decimal(18, 8)"
#: Sums of line amounts (a customer's period, the union of every source): 128-bit, so many lines that each fit
#: the contract cannot overflow their sum (issue 21). Only the final figure is narrowed to :data:`MONEY`.
_SUM = "decimal(38, 8)"
#: Below this, an 8-place sum is rounded in 64-bit arithmetic (about 40x faster than 128-bit).
_FAST_BELOW = Decimal(10) ** 9
_SUM_4 = "decimal(38, 4)"
_FX = "decimal(38, 12)"
_ZERO = Decimal("0.0000")
_FOREVER = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Period:
    """The months a view covers: ``[start, end)`` in UTC, ending with ``month``."""

    month: str
    view: View
    start: datetime | None
    end: datetime

    @property
    def first_index(self) -> int | None:
        """Month index (year x 12 + month - 1) of the first month, ``None`` for all history."""
        return None if self.start is None else _index(self.start)

    @property
    def last_index(self) -> int:
        """Month index of the last month (``month``)."""
        return _index(self.end) - 1


def _index(ts: datetime) -> int:
    return months.month_index(ts)


def _month_start(index: int) -> datetime:
    return months.month_start(index)


def month_label(index: int) -> str:
    """``YYYY-MM`` for a month index (year x 12 + month - 1)."""
    return months.month_label(index)


def parse_month(month: str) -> int:
    """The month index of ``YYYY-MM`` (read by :func:`keepwise.months.parse_month`); else an input error."""
    try:
        return months.month_index(months.parse_month(month))
    except months.MonthOutOfRange:
        raise
    except KeepwiseInputError:
        raise KeepwiseInputError(
            f"month '{month}' is not understood; write it as YYYY-MM, e.g. 2024-05"
        ) from None


def period(month: str, view: View = "month") -> Period:
    """The UTC window of ``view`` ending with ``month``.

    Parameters
    ----------
    month:
        ``YYYY-MM``, the last month of the window.
    view:
        ``"month"`` (that month), ``"ttm"`` (the trailing twelve months ending with it) or ``"lifetime"``
        (everything up to its end).
    """
    index = parse_month(month)
    end = _month_start(index + 1)
    if view == "month":
        start: datetime | None = _month_start(index)
    elif view == "ttm":
        start = _month_start(index - 11)
    elif view == "lifetime":
        start = None
    else:
        raise KeepwiseInputError(f"view '{view}' is not one of: month, ttm, lifetime")
    return Period(month=month_label(index), view=view, start=start, end=end)


@once
def latest_month(store: Store) -> str:
    """The last month with an order line or a time log (``YYYY-MM``, UTC)."""
    store = as_store(store)
    orders = store.table("orders")
    logs = store.table("time_logs")
    last: list[Any] = [store.to_pandas(orders.ordered_at.max()), store.to_pandas(logs.started_at.max())]
    found = [pd.Timestamp(t) for t in last if t is not None and not pd.isna(t)]
    if not found:
        raise KeepwiseInputError("the store has no orders and no time logs yet; load your records first")
    newest = max(t.tz_convert("UTC") if t.tzinfo else t.tz_localize("UTC") for t in found)
    return f"{newest.year:04d}-{newest.month:02d}"


# --------------------------------------------------------------------------------------------------- engine


def _month_of(ts: ir.TimestampValue) -> ir.IntegerValue:
    """Month index of a timestamp in UTC (the session runs in UTC)."""
    return ts.year() * 12 + ts.month() - 1


def _in_window(ts: ir.TimestampValue, per: Period) -> ir.BooleanValue:
    cond = ts < ibis.literal(per.end)
    if per.start is not None:
        cond = cond & (ts >= ibis.literal(per.start))
    return cond


def _round4(x: ir.NumericValue) -> ir.DecimalValue:
    """Round an 8-place sum half away from zero to 4 places, typed ``DECIMAL(18, 4)``.

    A sum below 10^9 in size (nearly every customer's period) is narrowed to ``DECIMAL(18, 8)`` and rounded
    in 64-bit arithmetic: 128-bit decimal rounding is ~40x slower. A larger one is rounded in 128 bits, so
    a customer whose lines each fit the contract never overflows here; a figure of 10^14 or more cannot be
    kept as ``DECIMAL(18, 4)`` and is an error (:func:`frame` says so in one line).
    """
    wide = x.cast(_SUM)
    fast = wide.cast(_RAW).round(4).cast(_SUM_4)
    slow = wide.round(4).cast(_SUM_4)
    return ibis.cases((wide.abs() < ibis.literal(_FAST_BELOW, type=_SUM), fast), else_=slow).cast(MONEY)


def _times(a: ir.NumericValue, b: ir.NumericValue) -> ir.DecimalValue:
    """Exact product of two ``DECIMAL(18, 4)`` values, ``DECIMAL(18, 8)`` (overflow is an error)."""
    return (a * b).cast(_RAW)


def _div60(total: ir.NumericValue) -> ir.DecimalValue:
    """``total / 60`` rounded half up to 4 places, exactly, in 64-bit decimal arithmetic.

    DuckDB divides decimals in floating point, so the quotient is only a candidate ``c``; the exact remainder
    ``d = total - 60c`` corrects it: the answer is ``c + 0.0001`` if ``d >= 0.003``, ``c - 0.0001`` if
    ``d < -0.003``, else ``c`` (the floating-point candidate is never more than one unit off for totals
    below 10^10).
    """
    x = total.cast(_RAW)
    c = (x.cast("float64") / 60).round(4).cast(MONEY)
    d = (x - (c * 60).cast(MONEY)).cast(_RAW)
    unit = ibis.literal(Decimal("0.0001"), type=MONEY)
    half = ibis.literal(Decimal("0.003"), type=MONEY)
    return ibis.cases((d >= half, c + unit), (d < -half, c - unit), else_=c).cast(MONEY)


#: How amounts are keyed: per month (``True``), not at all (``False``: one key), or by the segments between
#: the given moments (a sorted tuple: 0 before the first, ``i`` from the ``i``-th on, see :func:`_month_key`).
Key = bool | tuple[datetime, ...]


def _month_key(ts: ir.TimestampValue, by_month: Key) -> ir.IntegerValue:
    """The month index when results are wanted per month, else a constant (no per-row date arithmetic).

    Given moments ``b[0] < b[1] < ...`` instead, the number of them at or before ``ts``: comparisons of
    timestamps only (extracting a calendar month in the session's time zone costs the engine far more).
    """
    if isinstance(by_month, tuple):
        steps = [(ts < ibis.literal(b), i) for i, b in enumerate(by_month)]
        return ibis.cases(*steps, else_=len(by_month)).cast("int64")
    return _month_of(ts) if by_month else ibis.literal(0, type="int64")


#: Columns of every stream: raw (unrounded, 8-place) amounts in the source currency. ``cts_minute_cost`` is
#: minutes x hourly cost, i.e. 60 x the cost to serve; it is divided by 60 once, after summing.
_RAW_COLUMNS = ("revenue", "cogs", "cts_minute_cost", "concessions", "advocacy_value")


def _stream(t: ir.Table, **amounts: ir.Value) -> ir.Table:
    """One source of amounts in the common shape: customer, month key, source currency, every raw amount."""
    cols: dict[str, Any] = {"customer_id": t.customer_id, "m": t.m.cast("int64"), "cur": t.cur}
    for name in _RAW_COLUMNS:
        cols[name] = amounts[name].cast(_SUM) if name in amounts else ibis.literal(_ZERO, type=_SUM)
    return t.select(**cols)


def frame(expr: ir.Table, *, sort_by: str | None = None) -> pd.DataFrame:
    """Execute ``expr`` into pandas through Arrow, money as :class:`decimal.Decimal`.

    Ibis' own ``to_pandas`` converts decimals value by value (50 s for a million customers); Arrow's
    conversion takes about 2 s. Sorting, if asked, is done on the Arrow table: ``ORDER BY`` after the ranking
    window costs the engine more than the window itself.
    """
    with too_large_to_keep():
        table = expr.to_pyarrow()
    if sort_by is not None:
        table = table.sort_by(sort_by)
    return table.to_pandas()


_OVERFLOW = re.compile(
    r"DECIMAL\(18, ?([48])\).*out of range|out of range.*DECIMAL\(18, ?([48])\)"
    r"|Overflow in multiplication of DECIMAL",
    re.IGNORECASE | re.DOTALL,
)


@contextmanager
def too_large_to_keep() -> Iterator[None]:
    """Turn the engine's overflow of a ``DECIMAL(18, 4)`` figure into a one-line input error.

    Sums are 128-bit (:data:`_SUM`), so only a customer's figure for a period of 10^14 or more (what the
    ``profit`` table and every other money column of the contract can hold) ends up here, or one staff time
    log (or a customer's staff minutes of the period) costing 10^10 or more: minutes x hourly cost is exact
    in 64 bits (:func:`_times`, :func:`_div60`) as the contract keeps every line below 10^10.
    """
    try:
        yield
    except KeepwiseInputError:
        raise
    except Exception as exc:
        found = _OVERFLOW.search(str(exc))
        if found is None:
            raise
        if "4" in found.groups():
            raise KeepwiseInputError(
                "a customer's total for the period is 10^14 or more, more than a money figure of the store "
                "(DECIMAL(18,4)) can hold; check the order lines' quantities and prices"
            ) from None
        raise KeepwiseInputError(
            "an amount of the period is 10^10 or more before rounding (a staff time log's minutes x hourly "
            "cost, or a customer's staff time, or a line's quantity x cost); check time_logs minutes, "
            "staff_rates hourly_cost and the products' unit_cost"
        ) from None
