"""Periods and the engine's exact money arithmetic, shared by every part of profitability."""

from __future__ import annotations

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
#: Sums before rounding: exact products of two 4-place decimals.
_RAW = "decimal(18, 8)"
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

    The sum (``DECIMAL(38, 8)`` in DuckDB, 128-bit) is first narrowed to ``DECIMAL(18, 8)``: 128-bit decimal
    rounding is ~40x slower, and a customer's amount for a period is far below 10^10.
    """
    return x.cast(_RAW).round(4).cast(MONEY)


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


def _month_key(ts: ir.TimestampValue, by_month: bool) -> ir.IntegerValue:
    """The month index when results are wanted per month, else a constant (no per-row date arithmetic)."""
    return _month_of(ts) if by_month else ibis.literal(0, type="int64")


#: Columns of every stream: raw (unrounded, 8-place) amounts in the source currency. ``cts_minute_cost`` is
#: minutes x hourly cost, i.e. 60 x the cost to serve; it is divided by 60 once, after summing.
_RAW_COLUMNS = ("revenue", "cogs", "cts_minute_cost", "concessions", "advocacy_value")


def _stream(t: ir.Table, **amounts: ir.Value) -> ir.Table:
    """One source of amounts in the common shape: customer, month key, source currency, every raw amount."""
    cols: dict[str, Any] = {"customer_id": t.customer_id, "m": t.m.cast("int64"), "cur": t.cur}
    for name in _RAW_COLUMNS:
        cols[name] = amounts[name].cast(_RAW) if name in amounts else ibis.literal(_ZERO, type=_RAW)
    return t.select(**cols)


def frame(expr: ir.Table, *, sort_by: str | None = None) -> pd.DataFrame:
    """Execute ``expr`` into pandas through Arrow, money as :class:`decimal.Decimal`.

    Ibis' own ``to_pandas`` converts decimals value by value (50 s for a million customers); Arrow's
    conversion takes about 2 s. Sorting, if asked, is done on the Arrow table: ``ORDER BY`` after the ranking
    window costs the engine more than the window itself.
    """
    table = expr.to_pyarrow()
    if sort_by is not None:
        table = table.sort_by(sort_by)
    return table.to_pandas()
