"""What the flows read to choose their audience: Ibis expressions, so a dry run works on every engine.

Each function runs one query in the engine and returns one row per customer (or incident) as plain Python
values (``datetime``, ``Decimal``, ``None``), in a stable order. The rules that turn these rows into
messages live in :mod:`keepwise.messages.flows`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd

from keepwise.store.store import Store

__all__ = ["Rhythm", "plain", "recent_incidents", "rhythms", "top_buyers", "with_address"]


@dataclass(frozen=True)
class Rhythm:
    """A customer's buying rhythm up to a moment, and their latest exit (if any)."""

    customer_id: str
    last_at: datetime
    days: int
    gap: float | None
    reason: str | None
    wanted_back: bool | None


def plain(value: Any) -> Any:
    """A value read through pandas as plain Python: missing as ``None``, timestamps as ``datetime``."""
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, float) and pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str):  # NumPy scalars
        return value.item()
    return value


def _rows(store: Store, expr: Any) -> list[dict[str, Any]]:
    df = store.to_pandas(expr)
    return [{str(k): plain(v) for k, v in row.items()} for row in df.astype(object).to_dict("records")]


def _seconds(ts: datetime) -> int:
    """Whole seconds since the epoch (truncated, as the engine's ``date_diff('second', ...)`` counts)."""
    return int(pd.Timestamp(ts).value // 10**9)


def rhythms(store: Store, at: datetime) -> list[Rhythm]:
    """Per customer with an order by ``at``: last order, ordering days, mean days between them, last exit.

    ``gap`` (mean days between ordering days, ``None`` for a single day) is the span from the first to the
    last order in whole seconds, over the number of ordering days less one. The exit is the latest one by
    ``at`` (its reason code and ``wanted_back``), if the store has exits.
    """
    import ibis

    o = store.table("orders")
    o = o.filter(o.ordered_at <= at, o.quantity > 0)
    per = o.group_by("customer_id").aggregate(
        first_at=o.ordered_at.min(), last_at=o.ordered_at.max(), n=o.ordered_at.date().nunique()
    )
    if store.has_table("exits"):
        e = store.table("exits")
        e = e.filter(e.lost_at <= at)
        ex = e.group_by("customer_id").aggregate(
            reason=e.reason_code.argmax(e.lost_at), wanted=e.wanted_back.argmax(e.lost_at)
        )
        joined = per.left_join(ex, "customer_id").select(
            per.customer_id, per.first_at, per.last_at, per.n, ex.reason, ex.wanted
        )
    else:
        joined = per.mutate(reason=ibis.null("string"), wanted=ibis.null("boolean"))
    out = []
    for r in _rows(store, joined.order_by("customer_id")):
        n = int(r["n"])
        gap = (_seconds(r["last_at"]) - _seconds(r["first_at"])) / 86400.0 / (n - 1) if n > 1 else None
        wanted = r["wanted"]
        out.append(
            Rhythm(
                customer_id=str(r["customer_id"]),
                last_at=r["last_at"],
                days=n,
                gap=gap,
                reason=r["reason"],
                wanted_back=None if wanted is None else bool(wanted),
            )
        )
    return out


def recent_incidents(store: Store, at: datetime, within_days: int) -> list[tuple[str, str]]:
    """Incidents opened in the ``within_days`` days up to ``at`` with a concession and its currency.

    Returns ``(incident_id, customer_id)`` pairs ordered by incident id.
    """
    if not store.has_table("incidents"):
        return []
    i = store.table("incidents")
    expr = (
        i.filter(
            i.opened_at <= at,
            i.opened_at > at - timedelta(days=within_days),
            i.concession_amount > 0,
            i.currency.notnull(),
        )
        .select("incident_id", "customer_id")
        .order_by("incident_id")
    )
    return [(str(r["incident_id"]), str(r["customer_id"])) for r in _rows(store, expr)]


def top_buyers(store: Store, at: datetime, days: int = 365) -> list[tuple[str, datetime | None]]:
    """``(customer_id, acquired_at)`` of customers with positive sales in the ``days`` up to ``at``.

    Ordered by those sales, highest first (then by customer id); customers missing from ``customers``
    are left out.
    """
    o = store.table("orders")
    o = o.filter(o.ordered_at <= at, o.ordered_at > at - timedelta(days=days))
    c = store.table("customers").select("customer_id", "acquired_at")
    j = o.join(c, "customer_id")
    sales = j.group_by(["customer_id", "acquired_at"]).aggregate(sales=(j.quantity * j.unit_price).sum())
    expr = sales.filter(sales.sales > 0).order_by([sales.sales.desc(), sales.customer_id])
    return [(str(r["customer_id"]), r["acquired_at"]) for r in _rows(store, expr)]


def with_address(store: Store) -> set[str]:
    """The customers with an e-mail address (one query): only they can be written to."""
    c = store.table("customers")
    rows = store.to_pandas(c.filter(c.email.notnull() & (c.email.strip() != "")).select("customer_id"))
    return set(rows["customer_id"].astype(str))
