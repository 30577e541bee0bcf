"""The review period: which calendar month a review describes and the windows derived from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from keepwise.exceptions import KeepwiseInputError
from keepwise.months import add_months, parse_month

if TYPE_CHECKING:
    from keepwise.store import Store
    from keepwise.store.inventory import Note

__all__ = ["ReviewPeriod", "add_months", "last_complete_month", "parse_month", "resolve_period"]


@dataclass(frozen=True)
class ReviewPeriod:
    """One review month and the windows the signals use.

    Attributes
    ----------
    start, end:
        First instant of the month and of the next month (UTC); data at or after ``end`` is ignored.
    recent_start:
        Start of the recent window of the order-value test (the last three calendar months).
    year_start:
        Start of the ledger's twelve-month window (twelve calendar months ending with the review month).
    """

    start: datetime

    @classmethod
    def of(cls, month: str) -> ReviewPeriod:
        """The period of ``YYYY-MM``."""
        return cls(parse_month(month))

    @property
    def month(self) -> str:
        """``YYYY-MM``."""
        return f"{self.start.year:04d}-{self.start.month:02d}"

    @property
    def end(self) -> datetime:
        """First instant of the next month."""
        return add_months(self.start, 1)

    @property
    def previous(self) -> ReviewPeriod:
        """The month before."""
        return ReviewPeriod(add_months(self.start, -1))

    @property
    def recent_start(self) -> datetime:
        """First instant of the three-month recent window ending with this month."""
        return add_months(self.start, -2)

    @property
    def year_start(self) -> datetime:
        """First instant of the twelve-month window ending with this month."""
        return add_months(self.start, -11)


def last_complete_month(backend: Store) -> ReviewPeriod:
    """The last calendar month the orders cover completely.

    A month counts as complete when the latest order falls on its last day or later; so with orders up to
    2024-06-17 the last complete month is 2024-05, and with orders up to 2024-06-30 it is 2024-06.
    """
    return _complete_month(_latest_order(backend))


def _latest_order(backend: Store) -> datetime:
    """The latest ``ordered_at`` of the store (UTC); a store without orders is a user error."""
    orders = backend.table("orders")
    latest = orders.ordered_at.max().to_pyarrow().as_py()
    if latest is None:
        raise KeepwiseInputError("the store holds no orders; load some first (keepwise load DIR)")
    if latest.tzinfo is None:
        latest = latest.replace(tzinfo=UTC)
    return latest.astimezone(UTC)


def _complete_month(latest: datetime) -> ReviewPeriod:
    """The last calendar month that data reaching ``latest`` cover completely."""
    month_start = datetime(latest.year, latest.month, 1, tzinfo=UTC)
    last_day = add_months(month_start, 1) - timedelta(days=1)
    if latest >= last_day:
        return ReviewPeriod(month_start)
    return ReviewPeriod(add_months(month_start, -1))


def resolve_period(backend: Store, month: str | None) -> tuple[ReviewPeriod, Note | None]:
    """The month a review looks at: ``month`` when given, else the data's last complete month, said in a note.

    The default comes from the data, never from the wall clock: a store whose history ends in 1998 is
    reviewed for its last complete month of 1998. A month the data reach only partly is not the default,
    because its figures would be judged as if the whole month had passed (every customer a few weeks more
    overdue than they are); it can still be asked for with ``month``.

    A month given that the data reach only partly is reviewed as asked, with a note saying so; a month that
    starts after the last order is refused (there is nothing to review, only silence the data cannot see).

    Returns
    -------
    tuple
        ``(period, note)``; ``note`` is ``None`` for a month given that the data cover, else a
        :class:`~keepwise.store.inventory.Note` with input ``month`` naming the month used and why.

    Raises
    ------
    KeepwiseInputError
        The store has no orders, or ``month`` starts after the last order.
    """
    from keepwise.store.inventory import Note

    asked = ReviewPeriod.of(month) if month else None  # a malformed month is named before anything is read
    latest = _latest_order(backend)
    complete = _complete_month(latest)
    if asked is not None:
        period = asked
        if period.start > latest:
            raise KeepwiseInputError(
                f"month {period.month} is after the last order ({latest:%Y-%m-%d}); pick {latest:%Y-%m} or "
                "an earlier month"
            )
        if period.start <= complete.start:
            return period, None
        return period, Note(
            "month",
            f"the data end on {latest:%Y-%m-%d}, before {period.month} does",
            f"figures are as of the month's end, so customers look silent over the days without data; "
            f"{complete.month} is the last complete month",
        )
    period = complete
    return period, Note(
        "month",
        "none given",
        f"used {period.month}, the last complete month of the data (orders up to {latest:%Y-%m-%d})",
    )
