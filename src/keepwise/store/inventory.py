"""What a store holds and what it lacks: the inputs every stage states it needs or can do without.

A real business loads what it has: often customers and orders only, sometimes without unit costs, in one
currency that is not the US dollar, with history that ends months before today. Each stage asks
:func:`inventory` what is there, carries on without what is missing, and says so in its output as
:class:`Note` objects (``{"input": ..., "missing": ..., "instead": ...}`` in every JSON document, under
``notes``).

:data:`INPUTS` is the one list of optional inputs: what each is, which commands use it and what keepwise does
without it. The README's table "What keepwise needs from your data" is generated from it (``keepwise schema
--inputs``) and a test holds the two together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import ibis

from keepwise.store.memo import once
from keepwise.store.schema import TABLES
from keepwise.store.store import Store, as_store

__all__ = ["INPUTS", "REQUIRED", "Input", "Inventory", "Note", "inventory", "resolve_month"]

#: Tables every command needs (a store without them has nothing to review).
REQUIRED: tuple[str, ...] = ("customers", "orders")


@dataclass(frozen=True)
class Input:
    """One optional input: a table (``incidents``) or a column that may be empty (``orders.unit_cost``).

    Attributes
    ----------
    name:
        ``table`` or ``table.column``.
    what:
        What it is, in a user's words.
    used_by:
        The commands (and dashboard pages) that use it.
    without:
        What keepwise does when it is missing (the default ``instead`` of a :class:`Note`).
    """

    name: str
    what: str
    used_by: tuple[str, ...]
    without: str


#: Every optional input, in the order the README lists them.
INPUTS: tuple[Input, ...] = (
    Input(
        "orders.unit_cost",
        "cost of each order line (or products.unit_cost)",
        ("profit", "review", "winback", "concession", "outreach", "clv"),
        "margin is revenue times [value] default_margin_rate when it is set; otherwise the margin shown is "
        "revenue, labelled so",
    ),
    Input(
        "customers.acquisition_cost",
        "what it cost to win each customer",
        ("review", "concession"),
        "the cost of replacing a lost customer is shown as unknown, never as 0",
    ),
    Input(
        "time_logs",
        "staff time spent on each customer (with staff_rates)",
        ("profit", "review", "outreach"),
        "cost to serve is left out of profit (profit is margin less concessions), said in the notes",
    ),
    Input(
        "staff_rates",
        "what an hour of each staff member costs",
        ("profit", "review", "outreach"),
        "staff time is counted in minutes only and not charged to customers",
    ),
    Input(
        "incidents",
        "complaints and the concessions granted",
        ("concession", "concessions report", "review", "profit"),
        "the concession advisor uses its documented default effect ([decisions]) instead of one estimated "
        "from your history; no concessions are charged to profit",
    ),
    Input(
        "exits",
        "customers who left and why",
        ("review", "winback", "wins", "clv"),
        "a customer counts as lost after a long silence (the review's rule); reasons are unknown, so "
        "win-back offers use the default for an unknown reason",
    ),
    Input(
        "advocacy",
        "referrals, case studies and reviews",
        ("profit", "review"),
        "no referral value is added to any customer",
    ),
    Input(
        "consent",
        "permission to contact each customer",
        ("flows run", "messages send"),
        "no marketing message is queued or sent (nobody has given permission)",
    ),
    Input(
        "products",
        "the product list with categories and standard costs",
        ("profit", "review"),
        "order lines use their own category and unit_cost columns",
    ),
)

_BY_NAME = {i.name: i for i in INPUTS}


@dataclass(frozen=True)
class Note:
    """What a stage could not use and what it did instead (machine-readable, also read by people).

    Attributes
    ----------
    input:
        The missing input (``incidents``, ``orders.unit_cost``, ``fx``, ...).
    missing:
        What is missing, e.g. ``"no rows"``, ``"empty on 69,659 of 69,659 order lines"``.
    instead:
        What the stage did instead.
    """

    input: str
    missing: str
    instead: str

    def to_json(self) -> dict[str, str]:
        """``{"input": ..., "missing": ..., "instead": ...}``."""
        return {"input": self.input, "missing": self.missing, "instead": self.instead}

    def __str__(self) -> str:
        return f"{self.input}: {self.missing}; {self.instead}"


@dataclass(frozen=True)
class Inventory:
    """What one store holds, read once by :func:`inventory`.

    Attributes
    ----------
    rows:
        Rows per table that :data:`REQUIRED` or :data:`INPUTS` name (0 for a table that does not exist).
    filled:
        For each ``table.column`` of :data:`INPUTS`: how many rows of the table have a value.
    currencies:
        The currencies of the order lines, sorted.
    last_order_at:
        The latest ``ordered_at`` (UTC), or ``None`` without orders.
    """

    rows: dict[str, int]
    filled: dict[str, int] = field(default_factory=dict)
    currencies: tuple[str, ...] = ()
    last_order_at: datetime | None = None

    def has(self, name: str) -> bool:
        """Whether ``name`` (a table, or ``table.column``) has at least one row or value."""
        if "." in name:
            return self.filled.get(name, 0) > 0
        return self.rows.get(name, 0) > 0

    def complete(self, name: str) -> bool:
        """Whether every row of the table has a value in column ``name`` (``table.column``)."""
        table = name.split(".", 1)[0]
        return self.rows.get(table, 0) > 0 and self.filled.get(name, 0) >= self.rows[table]

    @property
    def currency(self) -> str | None:
        """The one currency of every order line, or ``None`` for none or several."""
        return self.currencies[0] if len(self.currencies) == 1 else None

    @property
    def last_month(self) -> str | None:
        """``YYYY-MM`` of the latest order line (UTC), or ``None`` without orders."""
        t = self.last_order_at
        return None if t is None else f"{t.year:04d}-{t.month:02d}"

    def note(self, name: str, instead: str | None = None) -> Note | None:
        """A :class:`Note` for ``name`` when it is missing (``None`` when it is there).

        ``instead`` replaces the default words of :data:`INPUTS` when the stage did something more specific.
        A column that is only partly filled is not missing (the stage decides whether to say so).
        """
        if self.has(name):
            return None
        spec = _BY_NAME.get(name)
        if "." in name:
            table = name.split(".", 1)[0]
            n = self.rows.get(table, 0)
            missing = f"empty on all {n:,} rows of {table}" if n else f"no rows in {table}"
        else:
            missing = "no rows"
        return Note(name, missing, instead or (spec.without if spec else "left out"))

    def notes(self, *names: str, instead: dict[str, str] | None = None) -> list[Note]:
        """The notes of every input of ``names`` that is missing, in the order given."""
        found = (self.note(n, (instead or {}).get(n)) for n in names)
        return [n for n in found if n is not None]


@once
def inventory(store: Store | Any) -> Inventory:
    """Read what ``store`` holds: rows per table, filled optional columns, currencies, the last order."""
    store = as_store(store)
    present = set(store.tables())
    rows: dict[str, int] = {}
    filled: dict[str, int] = {}
    wanted: dict[str, list[str]] = {}
    for spec in INPUTS:
        if "." in spec.name:
            table, column = spec.name.split(".", 1)
            wanted.setdefault(table, []).append(column)
    wanted.setdefault("products", []).append("unit_cost")
    names = {*REQUIRED, *(i.name.split(".", 1)[0] for i in INPUTS)}
    for t in TABLES:
        if t.name not in names:
            continue
        if t.name not in present:
            rows[t.name] = 0
            continue
        expr = store.table(t.name)
        metrics: dict[str, Any] = {"n": expr.count()}
        for column in wanted.get(t.name, []):
            if column in expr.columns:
                metrics[column] = expr[column].count()
        got = store.to_pandas(expr.aggregate(**metrics)).iloc[0]
        rows[t.name] = int(got["n"])
        for column in wanted.get(t.name, []):
            filled[f"{t.name}.{column}"] = int(got[column]) if column in got.index else 0
    currencies: tuple[str, ...] = ()
    last: datetime | None = None
    if rows.get("orders"):
        orders = store.table("orders")
        found = store.to_pandas(orders.select("currency").distinct())
        currencies = tuple(sorted(str(c) for c in found["currency"].dropna()))
        newest = store.to_pandas(orders.ordered_at.max())
        if newest is not None:
            last = _utc(newest)
    # A line's own unit cost or its product's standard cost both count as a unit cost.
    if rows.get("orders") and rows.get("products") and filled.get("products.unit_cost", 0):
        filled["orders.unit_cost"] = _costed_lines(store)
    return Inventory(rows=rows, filled=filled, currencies=currencies, last_order_at=last)


def _costed_lines(store: Store) -> int:
    """Order lines with a unit cost of their own or from their product."""
    lines = store.table("orders")
    products = store.table("products")
    std = products.select(pid=products.product_id, std_cost=products.unit_cost)
    joined = lines.left_join(std, lines.product_id == std.pid)
    expr = joined.aggregate(n=ibis.coalesce(joined.unit_cost, joined.std_cost).count())
    return int(store.to_pandas(expr).iloc[0]["n"])


def _utc(value: Any) -> datetime:
    """A timestamp from the engine as an aware UTC datetime."""
    import pandas as pd

    ts = pd.Timestamp(value)
    ts = ts.tz_convert("UTC") if ts.tzinfo else ts.tz_localize("UTC")
    return ts.to_pydatetime()


def resolve_month(
    store: Store | Any, month: str | None, *, inv: Inventory | None = None
) -> tuple[str, Note | None]:
    """The month a command looks at: ``month`` when given, else the last month of the data, said in a note.

    Parameters
    ----------
    store:
        The store.
    month:
        ``YYYY-MM`` as the user gave it (checked by :func:`keepwise.months.parse_month`), or ``None``.
    inv:
        An inventory already read (saves a second read).

    Returns
    -------
    tuple
        ``(YYYY-MM, note)``; ``note`` is ``None`` when ``month`` was given, else a :class:`Note` with input
        ``month`` saying which month was used and why (the data's last month, not the wall clock's).

    Raises
    ------
    BadInput
        ``month`` is malformed, or none was given and the store has no orders.
    """
    from keepwise.exceptions import BadInput
    from keepwise.months import month_index, month_label, parse_month

    if month is not None:
        return month_label(month_index(parse_month(month))), None
    inv = inv or inventory(store)
    last = inv.last_month
    if last is None:
        raise BadInput("month", "no month given and the store has no orders to take the last month from")
    return last, Note("month", "none given", f"used {last}, the last month with an order in the data")
