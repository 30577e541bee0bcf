"""Find customers among millions: the customers list's queries, each one statement with ORDER BY ... LIMIT.

The list shows, per customer, what the commands stored: the trailing-twelve-month profit and tier
(``profit_ttm``, ``keepwise profit --view ttm``), the lifetime value (``clv``, ``keepwise clv``), P(alive)
(``review_p_alive``, ``keepwise review``), and the last order (``orders``). :func:`stored` says which month
or run of each is read (the latest); :func:`page_ids` finds one page of customer ids, matching a search and
in the order asked, in one statement that joins only the table the order needs; :func:`details` reads the
figures of those few ids (each table filtered to them before it is joined). Nothing of the whole table comes
back to Python, so a page costs about as much as a bare ``SELECT ... ORDER BY ... LIMIT`` on the engine.

Sorting by the last order ranks customers by their latest ``ordered_at``: the customers whose last order
falls in the most recent weeks are a prefix of that ranking, so the page is first sought among orders of the
last month, then three months, a year, and only then the whole table (:func:`page_ids`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from keepwise.store.store import Store

__all__ = ["SORTS", "Found", "Stored", "count", "details", "page_ids", "stored"]

#: The orders the list offers: the figure each sorts by (``id``: the customer id).
SORTS: tuple[str, ...] = ("profit", "value", "p_alive", "tier", "last_order", "id")

#: How far back the last-order sort first looks (days), before it reads every order line.
_WINDOWS = (31, 92, 366)


@dataclass(frozen=True)
class Stored:
    """Which stored results the list reads: the latest of each, ``None`` where no command stored any.

    Attributes
    ----------
    profit_month:
        The latest month of ``profit_ttm`` (``keepwise profit --view ttm``).
    clv_as_of, clv_model:
        The latest ``keepwise clv`` run (history date, then the time it was computed).
    review_month:
        The latest month of ``review_p_alive`` (``keepwise review``).
    """

    profit_month: str | None = None
    clv_as_of: datetime | None = None
    clv_model: str | None = None
    review_month: str | None = None


@dataclass(frozen=True)
class Found:
    """One page of the list: the customer ids in order, and how many customers match in all."""

    ids: list[str]
    total: int


def stored(store: Store) -> Stored:
    """The latest stored profit month, ``clv`` run and reviewed month (one small statement each)."""
    tables = set(store.tables())
    profit_month = review_month = None
    clv_as_of = clv_model = None
    if "profit_ttm" in tables:
        profit_month = store.sql("SELECT max(month) FROM profit_ttm")[0][0]
    if "clv" in tables:
        runs = store.sql(
            "SELECT as_of, model FROM clv ORDER BY as_of DESC, computed_at DESC NULLS LAST LIMIT 1"
        )
        if runs:
            clv_as_of, clv_model = runs[0]
    if "review_p_alive" in tables:
        review_month = store.sql("SELECT max(review_month) FROM review_p_alive")[0][0]
    return Stored(profit_month, clv_as_of, clv_model, review_month)


def _match(query: str) -> tuple[str, list[Any]]:
    """The WHERE clause of a search (``query`` a substring of the id, name or e-mail, any case)."""
    needle = query.strip().lower()
    if not needle:
        return "TRUE", []
    cols = ("c.customer_id", "c.name", "c.email")
    return "(" + " OR ".join(f"position(? IN lower({c})) > 0" for c in cols) + ")", [needle] * len(cols)


def count(store: Store, query: str = "") -> int:
    """How many customers match ``query`` (all of them for an empty one)."""
    where, params = _match(query)
    return int(store.sql(f"SELECT count(*) FROM customers c WHERE {where}", params)[0][0])


def _key(found: Stored, sort: str) -> tuple[str, list[Any]] | None:
    """The subquery ``(customer_id, k)`` a sort orders by, with its parameters; ``None``: not stored."""
    if sort in ("profit", "tier") and found.profit_month is not None:
        column = "profit" if sort == "profit" else "rank"
        return f"SELECT customer_id, {column} AS k FROM profit_ttm WHERE month = ?", [found.profit_month]
    if sort == "value" and found.clv_as_of is not None:
        return "SELECT customer_id, clv AS k FROM clv WHERE as_of = ? AND model = ?", [
            found.clv_as_of,
            found.clv_model,
        ]
    if sort == "p_alive" and found.review_month is not None:
        return "SELECT customer_id, p_alive AS k FROM review_p_alive WHERE review_month = ?", [
            found.review_month
        ]
    return None


def page_ids(
    store: Store,
    found: Stored,
    *,
    query: str = "",
    sort: str = "profit",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
    last_order_at: datetime | None = None,
) -> list[str]:
    """The ids of one page of customers matching ``query``, in ``sort`` order, ties by customer id.

    Customers without the figure (not in the stored table) come last, in id order. ``tier`` orders by
    profit rank (platinum first when ``descending``). ``last_order_at``, the latest order in the store, lets
    the ``last_order`` sort look at recent orders first.
    """
    where, params = _match(query)
    way = "DESC" if descending else "ASC"
    if sort == "tier":
        way = "ASC" if descending else "DESC"  # rank 1 is the most profitable
    if sort == "id":
        sql = f"SELECT customer_id FROM customers c WHERE {where} ORDER BY customer_id {way} LIMIT ? OFFSET ?"
        return [str(r[0]) for r in store.sql(sql, [*params, limit, offset])]
    if sort == "last_order":
        return _by_last_order(store, where, params, way, limit, offset, last_order_at if descending else None)
    key = _key(found, sort)
    if key is None:  # nothing stored to sort by: id order
        return page_ids(store, found, query=query, sort="id", descending=False, limit=limit, offset=offset)
    sub, sub_params = key
    sql = (
        f"SELECT c.customer_id FROM customers c LEFT JOIN ({sub}) s ON s.customer_id = c.customer_id "
        f"WHERE {where} ORDER BY s.k {way} NULLS LAST, c.customer_id LIMIT ? OFFSET ?"
    )
    return [str(r[0]) for r in store.sql(sql, [*sub_params, *params, limit, offset])]


def _by_last_order(
    store: Store,
    where: str,
    params: list[Any],
    way: str,
    limit: int,
    offset: int,
    newest: datetime | None,
) -> list[str]:
    """Customers by their latest order; recent windows first (a full page there is the exact answer)."""
    if newest is not None:
        for days in _WINDOWS:
            since = newest - timedelta(days=days)
            sql = (
                "SELECT o.customer_id FROM (SELECT customer_id, max(ordered_at) AS k FROM orders "
                "WHERE ordered_at >= ? GROUP BY customer_id) o "
                "JOIN customers c ON c.customer_id = o.customer_id "
                f"WHERE {where} ORDER BY o.k DESC, o.customer_id LIMIT ? OFFSET ?"
            )
            rows = store.sql(sql, [since, *params, limit, offset])
            if len(rows) == limit:
                return [str(r[0]) for r in rows]
    sql = (
        "SELECT c.customer_id FROM customers c "
        "LEFT JOIN (SELECT customer_id, max(ordered_at) AS k FROM orders "
        f"GROUP BY customer_id) o ON o.customer_id = c.customer_id WHERE {where} "
        f"ORDER BY o.k {way} NULLS LAST, c.customer_id LIMIT ? OFFSET ?"
    )
    return [str(r[0]) for r in store.sql(sql, [*params, limit, offset])]


#: What :func:`details` returns for each customer.
COLUMNS = (
    "customer_id",
    "name",
    "email",
    "profit",
    "profit_currency",
    "tier",
    "rank",
    "value",
    "value_currency",
    "p_alive",
    "orders",
    "last_order",
)


def details(store: Store, found: Stored, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The list's figures of each of ``ids`` (a page: tens of ids), by id; one statement.

    Each stored table is filtered to the ids before it is joined, so the cost is that of reading the few rows.
    """
    if not ids:
        return {}
    marks = ", ".join("?" for _ in ids)
    of = f"customer_id IN ({marks})"
    parts = ["c.customer_id", "c.name", "c.email"]
    joins: list[str] = []
    params: list[Any] = []
    if found.profit_month is not None:
        parts += ["p.profit", "p.currency", "p.tier", "p.rank"]
        joins.append(
            "LEFT JOIN (SELECT customer_id, profit, currency, tier, rank FROM profit_ttm "
            f"WHERE month = ? AND {of}) p ON p.customer_id = c.customer_id"
        )
        params += [found.profit_month, *ids]
    else:
        parts += ["NULL", "NULL", "NULL", "NULL"]
    if found.clv_as_of is not None:
        parts += ["v.clv", "v.currency"]
        joins.append(
            "LEFT JOIN (SELECT customer_id, clv, currency FROM clv "
            f"WHERE as_of = ? AND model = ? AND {of}) v ON v.customer_id = c.customer_id"
        )
        params += [found.clv_as_of, found.clv_model, *ids]
    else:
        parts += ["NULL", "NULL"]
    if found.review_month is not None:
        parts += ["a.p_alive"]
        joins.append(
            "LEFT JOIN (SELECT customer_id, p_alive FROM review_p_alive "
            f"WHERE review_month = ? AND {of}) a ON a.customer_id = c.customer_id"
        )
        params += [found.review_month, *ids]
    else:
        parts += ["NULL"]
    parts += ["o.orders", "o.last_order"]
    joins.append(
        "LEFT JOIN (SELECT customer_id, count(DISTINCT order_id) AS orders, max(ordered_at) AS last_order "
        f"FROM orders WHERE {of} GROUP BY customer_id) o ON o.customer_id = c.customer_id"
    )
    params += list(ids)
    sql = f"SELECT {', '.join(parts)} FROM customers c {' '.join(joins)} WHERE c.{of}"
    rows = store.sql(sql, [*params, *ids])
    return {str(r[0]): dict(zip(COLUMNS, r, strict=True)) for r in rows}
