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

__all__ = ["COLUMNS", "SORTS", "Ranked", "Stored", "count", "details", "page_ids", "stored"]

#: The orders the list offers: the figure each sorts by (``id``: the customer id).
SORTS: tuple[str, ...] = ("profit", "value", "p_alive", "tier", "last_order", "id")

#: One customer of a page: the id and the figure the page is sorted by (``None`` for the id order).
Ranked = tuple[str, Any]

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


def stored(store: Store) -> Stored:
    """The latest stored profit month, ``clv`` run and reviewed month (one small statement each)."""
    tables = set(store.tables())
    profit_month = review_month = None
    clv_as_of = clv_model = None
    if "profit_ttm" in tables:
        profit_month = store.sql("SELECT max(month) FROM profit_ttm")[0][0]
    if "clv" in tables:
        then = ", computed_at DESC NULLS LAST" if "computed_at" in store.table("clv").columns else ""
        runs = store.sql(f"SELECT as_of, model FROM clv ORDER BY as_of DESC{then} LIMIT 1")
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
) -> list[Ranked]:
    """The ids of one page of customers matching ``query``, in ``sort`` order (ties by id), with the figure.

    Customers without the figure (not in the stored table) come last, in id order. ``tier`` orders by
    profit rank (platinum first when ``descending``). ``last_order_at``, the latest order in the store, lets
    the ``last_order`` sort look at recent orders first.
    """
    where, params = _match(query)
    way = "DESC" if descending else "ASC"
    if sort == "tier":
        way = "ASC" if descending else "DESC"  # rank 1 is the most profitable
    if sort == "id":
        sql = f"SELECT customer_id, NULL FROM customers c WHERE {where} ORDER BY 1 {way} LIMIT ? OFFSET ?"
        return _pairs(store.sql(sql, [*params, limit, offset]))
    if sort == "last_order":
        return _by_last_order(store, where, params, way, limit, offset, last_order_at if descending else None)
    key = _key(found, sort)
    if key is None:  # nothing stored to sort by: id order
        return page_ids(store, found, query=query, sort="id", descending=False, limit=limit, offset=offset)
    sub, sub_params = key
    if not params:  # no search: rank the stored table alone, then the customers it lacks
        return _stored_first(store, sub, sub_params, way, limit, offset)
    sql = (
        f"SELECT c.customer_id, s.k FROM customers c LEFT JOIN ({sub}) s ON s.customer_id = c.customer_id "
        f"WHERE {where} ORDER BY s.k {way} NULLS LAST, c.customer_id LIMIT ? OFFSET ?"
    )
    return _pairs(store.sql(sql, [*sub_params, *params, limit, offset]))


def _pairs(rows: list[tuple[Any, ...]]) -> list[Ranked]:
    return [(str(r[0]), r[1]) for r in rows]


def _stored_first(
    store: Store, sub: str, params: list[Any], way: str, limit: int, offset: int
) -> list[Ranked]:
    """A page of every customer in the order of ``sub``'s figure ``k``: no join over the whole table.

    The customers with a figure come first (one ``ORDER BY k ... LIMIT`` over the stored table), then, from
    the page where they run out, the customers without one, in id order: the order of :func:`page_ids`.
    """
    keyed = f"SELECT customer_id, k FROM ({sub}) s WHERE k IS NOT NULL"
    n = int(store.sql(f"SELECT count(*) FROM ({keyed}) x", params)[0][0])
    ids: list[Ranked] = []
    if offset < n:
        rows = store.sql(f"{keyed} ORDER BY k {way}, customer_id LIMIT ? OFFSET ?", [*params, limit, offset])
        ids = _pairs(rows)
    if len(ids) < limit:
        rest = store.sql(
            f"SELECT customer_id, NULL FROM customers c WHERE NOT EXISTS (SELECT 1 FROM ({keyed}) s "
            "WHERE s.customer_id = c.customer_id) ORDER BY customer_id LIMIT ? OFFSET ?",
            [*params, limit - len(ids), max(0, offset - n)],
        )
        ids += _pairs(rest)
    return ids


def _by_last_order(
    store: Store,
    where: str,
    params: list[Any],
    way: str,
    limit: int,
    offset: int,
    newest: datetime | None,
) -> list[Ranked]:
    """Customers by their latest order; recent windows first (a full page there is the exact answer)."""
    if newest is not None:
        for days in _WINDOWS:
            since = newest - timedelta(days=days)
            join = "" if not params else "JOIN customers c ON c.customer_id = o.customer_id "
            sql = (
                "SELECT o.customer_id, o.k FROM (SELECT customer_id, max(ordered_at) AS k FROM orders "
                f"WHERE ordered_at >= ? GROUP BY customer_id) o {join}"
                f"WHERE {where} ORDER BY o.k DESC, o.customer_id LIMIT ? OFFSET ?"
            )
            rows = store.sql(sql, [since, *params, limit, offset])
            if len(rows) == limit:
                return _pairs(rows)
    sql = (
        "SELECT c.customer_id, o.k FROM customers c "
        "LEFT JOIN (SELECT customer_id, max(ordered_at) AS k FROM orders "
        f"GROUP BY customer_id) o ON o.customer_id = c.customer_id WHERE {where} "
        f"ORDER BY o.k {way} NULLS LAST, c.customer_id LIMIT ? OFFSET ?"
    )
    return _pairs(store.sql(sql, [*params, limit, offset]))


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
)


def details(store: Store, found: Stored, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """The list's figures of each of ``ids`` (a page: tens of ids), by id (:data:`COLUMNS`).

    One small statement per stored table, each filtered to the ids.
    """
    out = {
        str(r[0]): dict(zip(COLUMNS, (*r, *([None] * 7)), strict=True))
        for r in _of(store, "customer_id, name, email", "customers", "TRUE", [], ids)
    }
    if found.profit_month is not None:
        for r in _of(
            store,
            "customer_id, profit, currency, tier, rank",
            "profit_ttm",
            "month = ?",
            [found.profit_month],
            ids,
        ):
            _put(out, r, ("profit", "profit_currency", "tier", "rank"))
    if found.clv_as_of is not None:
        for r in _of(
            store,
            "customer_id, clv, currency",
            "clv",
            "as_of = ? AND model = ?",
            [found.clv_as_of, found.clv_model],
            ids,
        ):
            _put(out, r, ("value", "value_currency"))
    if found.review_month is not None:
        for r in _of(
            store, "customer_id, p_alive", "review_p_alive", "review_month = ?", [found.review_month], ids
        ):
            _put(out, r, ("p_alive",))
    return out


def _of(
    store: Store, columns: str, table: str, where: str, params: list[Any], ids: Sequence[str]
) -> list[tuple[Any, ...]]:
    """``columns`` of ``table``'s rows matching ``where`` whose customer is one of ``ids``."""
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    return store.sql(
        f"SELECT {columns} FROM {table} WHERE {where} AND customer_id IN ({marks})", [*params, *ids]
    )


def _put(out: dict[str, dict[str, Any]], row: tuple[Any, ...], columns: tuple[str, ...]) -> None:
    """Set ``columns`` of the customer ``row[0]`` (if listed) from the rest of ``row``."""
    found = out.get(str(row[0]))
    if found is not None:
        found.update(zip(columns, row[1:], strict=True))
