"""The customers list: search, sort and pages over what the commands stored, for the page and ``/api/v1``.

:func:`customer_list` reads one page through :mod:`keepwise.store.customer_search` (one engine query for the
page's ids in order, one for their figures, one count), never the whole table: it answers in well under a
second on a million customers (bench/customers_page.py). Each figure says where it comes from
(``sources``: the stored month or run and the command that stores it); a figure no command has stored yet is
blank and a note names the command that fills it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from keepwise.config import Config
from keepwise.exceptions import BadInput
from keepwise.money import cents
from keepwise.store import Store
from keepwise.store import customer_search as search
from keepwise.store.inventory import Inventory, Note, inventory
from keepwise.web.paging import Page

__all__ = ["MAX_QUERY", "ORDERS", "SORTS", "costs_note", "customer_list", "sort_of"]

#: The orders the list can be sorted in (``sort``).
SORTS: tuple[str, ...] = search.SORTS
#: ``order``: largest first (the default; for ``tier`` platinum first, for ``id`` A to Z) or smallest first.
ORDERS = ("desc", "asc")
#: The longest search accepted (characters).
MAX_QUERY = 200

#: What each sort is called on the page.
SORT_LABELS = {
    "profit": "profit",
    "value": "lifetime value",
    "p_alive": "P(alive)",
    "tier": "tier",
    "last_order": "last order",
    "id": "customer id",
}


def sort_of(sort: str | None, order: str | None, query: str | None) -> tuple[str, str, str]:
    """The checked ``sort``, ``order`` and search text of a request (a bad one is a 400 naming the field)."""
    chosen = (sort or "profit").strip()
    if chosen not in SORTS:
        raise BadInput("sort", f"is not one of: {', '.join(SORTS)}", chosen)
    way = (order or ("asc" if chosen == "id" else "desc")).strip()
    if way not in ORDERS:
        raise BadInput("order", "is not one of: desc, asc", way)
    text = (query or "").strip()
    if len(text) > MAX_QUERY:
        raise BadInput("q", f"is longer than {MAX_QUERY} characters")
    return chosen, way, text


def costs_note(inv: Inventory, config: Config) -> Note | None:
    """The note when no order line has a unit cost: margins are assumed, or are revenue (labelled so)."""
    if inv.has("orders.unit_cost"):
        return None
    rate = config.value.default_margin_rate
    if rate is not None:
        return Note(
            "orders.unit_cost",
            "no unit costs recorded",
            f"profit and value assume a gross margin of {rate} of revenue ([value] default_margin_rate)",
        )
    return Note(
        "orders.unit_cost",
        "no unit costs recorded",
        "profit and value are revenue, not margin (no cost of goods is known); load unit costs or set "
        "[value] default_margin_rate",
    )


def _sources(found: search.Stored) -> dict[str, Any]:
    """Where each column comes from: the stored month or run, and the command that stores it."""
    as_of = found.clv_as_of
    return {
        "profit": {
            "table": "profit_ttm",
            "month": found.profit_month,
            "command": "keepwise profit --view ttm",
        },
        "value": {
            "table": "clv",
            "as_of": as_of.date().isoformat() if isinstance(as_of, datetime) else as_of,
            "model": found.clv_model,
            "command": "keepwise clv",
        },
        "p_alive": {"table": "review_p_alive", "month": found.review_month, "command": "keepwise review"},
        "last_order": {"table": "orders", "command": "keepwise load"},
    }


def _missing(found: search.Stored) -> list[Note]:
    """A note for each column no command has stored yet, naming the command that fills it."""
    notes = []
    if found.profit_month is None:
        notes.append(
            Note(
                "profit_ttm",
                "no twelve-month profit stored",
                "profit and tier are blank; run `keepwise profit --view ttm` to fill them",
            )
        )
    if found.clv_as_of is None:
        notes.append(
            Note("clv", "no lifetime values stored", "value is blank; run `keepwise clv` to fill it")
        )
    if found.review_month is None:
        notes.append(
            Note("review_p_alive", "no review stored", "P(alive) is blank; run `keepwise review` to fill it")
        )
    return notes


def _unsortable(found: search.Stored, sort: str) -> bool:
    """Whether ``sort``'s figure is stored nowhere (the list is then in customer id order)."""
    return (
        (sort in ("profit", "tier") and found.profit_month is None)
        or (sort == "value" and found.clv_as_of is None)
        or (sort == "p_alive" and found.review_month is None)
    )


def _row(r: dict[str, Any], last_order: Any) -> dict[str, Any]:
    """One customer of the list as the JSON gives it (money as 2-place strings, P(alive) to 4 places)."""
    p_alive = r["p_alive"]
    return {
        "customer_id": r["customer_id"],
        "name": r["name"],
        "email": r["email"],
        "tier": r["tier"],
        "rank": None if r["rank"] is None else int(r["rank"]),
        "profit": None if r["profit"] is None else cents(r["profit"]),
        "currency": r["profit_currency"],
        "value": None if r["value"] is None else cents(r["value"]),
        "value_currency": r["value_currency"],
        "p_alive": None if p_alive is None or p_alive != p_alive else round(float(p_alive), 4),
        "last_order": last_order,
    }


def customer_list(
    store: Store,
    config: Config,
    *,
    query: str = "",
    sort: str = "profit",
    order: str = "desc",
    page: Page | None = None,
    path: str = "/api/v1/customers",
    params: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One page of the customers matching ``query``, in ``sort`` order, with where each figure comes from.

    Parameters
    ----------
    store, config:
        The store and the assumptions (``[value] default_margin_rate`` for the note on costs).
    query:
        Part of a customer id, name or e-mail address, in any case (empty: every customer).
    sort, order:
        One of :data:`SORTS`; ``"desc"`` (largest first) or ``"asc"``. Ties and customers without the figure
        (last) are in customer id order.
    page:
        Which page (:mod:`keepwise.web.paging`).
    path, params:
        The route and the request's query parameters, for the links to the next and previous pages.

    Returns
    -------
    dict
        ``query``, ``sort``, ``order``, ``sources`` (the stored month or run of each figure and its command),
        ``customers`` (``customer_id``, ``name``, ``email``, ``tier``, ``rank``, ``profit`` and its
        ``currency`` (trailing twelve months), ``value`` and ``value_currency`` (``keepwise clv``),
        ``p_alive`` (the latest review) and ``last_order`` (when sorted by it; else ``null``: finding it
        reads every order line)), ``notes`` and ``pagination``.
    """
    sort, order, query = sort_of(sort, order, query)
    page = page or Page()
    found = search.stored(store)
    inv = inventory(store)
    ranked = search.page_ids(
        store,
        found,
        query=query,
        sort=sort,
        descending=order == "desc",
        limit=page.size,
        offset=page.start,
        last_order_at=inv.last_order_at,
    )
    figures = search.details(store, found, [i for i, _ in ranked])
    by_last = sort == "last_order"
    total = inv.rows.get("customers", 0) if not query else search.count(store, query)
    if not query and total == 0:
        total = search.count(store)
    notes = _missing(found)
    if _unsortable(found, sort):
        notes.append(Note("sort", f"no {SORT_LABELS[sort]} stored to sort by", "listed by customer id"))
    cost = costs_note(inv, config)
    if cost is not None:
        notes.append(cost)
    doc: dict[str, Any] = {
        "query": query,
        "sort": sort,
        "order": order,
        "sources": _sources(found),
        "margin_known": cost is None or config.value.default_margin_rate is not None,
        "customers": [_row(figures[i], k if by_last else None) for i, k in ranked if i in figures],
        "notes": [n.to_json() for n in notes],
    }
    doc["pagination"] = page.info({"customers": total}, path, params or {})
    return doc
