"""The stage documents the dashboard reads: what ``keepwise profit``, ``winback`` and ``outreach`` stored.

Each stage saves its JSON document in the store (:meth:`keepwise.store.Store.save_document`) when its command
runs; the web reads it back (one row) and cuts it, and never runs the stage itself: a request costs a read,
not a computation. A month with no stored document is a :class:`~keepwise.web.app.NotFound` (404 in the API,
a page that says so) naming the command that stores it.
"""

from __future__ import annotations

from typing import Any

from keepwise.exceptions import BadInput
from keepwise.signals.period import ReviewPeriod, last_complete_month
from keepwise.store import Store
from keepwise.store.store import DOCUMENTS
from keepwise.web.app import NotFound
from keepwise.web.cache import Kept

__all__ = [
    "VIEWS",
    "check_top",
    "document",
    "not_stored",
    "outreach_document",
    "profit_document",
    "winback_document",
]

#: The views of ``keepwise profit`` (``--view``).
VIEWS = ("month", "ttm", "lifetime")


def not_stored(what: str, command: str) -> NotFound:
    """The 404 for a document no command has stored yet: what is missing and the command that stores it."""
    return NotFound(f"no {what} stored yet; run `{command}` to store it for the dashboard")


def document(store: Store, kind: str, month: str, variant: str = "", kept: Kept[Any] | None = None) -> Any:
    """The stage document of ``kind`` stored for ``month`` (``None``: none), parsed once per version.

    With ``kept``, a document is parsed once and kept until a command stores a new one (its ``written_at``,
    read first, is the stamp); the caller must not change what it gets.
    """
    if not store.has_table(DOCUMENTS):
        return None
    where = {"kind": kind, "month": month, "variant": variant}
    written = store.read(DOCUMENTS, where=where, columns=["written_at"])
    if written.empty:
        return None
    if kept is None:
        return store.load_document(kind, month, variant=variant)
    stamp = (store.url, str(written["written_at"].iloc[0]))
    return kept.get(
        (store.url, kind, month, variant), stamp, lambda: store.load_document(kind, month, variant=variant)
    )


def check_top(top: int) -> None:
    """``top`` (how many ranked rows to keep) must be 0 (all) or more."""
    if top < 0:
        raise BadInput("top", "must be 0 (all) or more", top)


def profit_document(
    store: Store, month: str | None, view: str = "month", kept: Kept[Any] | None = None
) -> dict[str, Any]:
    """``keepwise profit --month M --view V --json`` as the command stored it (``month``: the latest).

    The latest month is that of :func:`keepwise.value.profitability.latest_month` (the last month with an
    order line or a time log), as the command takes it.
    """
    from keepwise.value.profit import KIND
    from keepwise.value.profitability import latest_month, period

    if view not in VIEWS:
        raise BadInput("view", "is not one of: month, ttm, lifetime", view)
    chosen = period(month, "month").month if month is not None else latest_month(store)
    doc: dict[str, Any] | None = document(store, KIND, chosen, "" if view == "month" else view, kept)
    if doc is None:
        where = "" if view == "month" else f" --view {view}"
        raise not_stored(f"profitability ({view}) of {chosen}", f"keepwise profit --month {chosen}{where}")
    return doc


def winback_document(
    store: Store, month: str | None, top: int = 20, kept: Kept[Any] | None = None
) -> dict[str, Any]:
    """``keepwise winback --month M --top N --json`` as the stage stored it, cut to ``top`` (0: all).

    The default month is the last complete month of the orders, as the command takes it.
    """
    from keepwise.decisions.winback.stage import cut

    check_top(top)
    chosen = ReviewPeriod.of(month).month if month is not None else last_complete_month(store).month
    doc = document(store, "winback", chosen, "", kept)
    if doc is None:
        raise not_stored(f"win-back ranking of {chosen}", f"keepwise winback --month {chosen}")
    return cut(doc, top or None)


def outreach_document(store: Store, month: str | None, kept: Kept[Any] | None = None) -> dict[str, Any]:
    """``keepwise outreach --month M --json --no-save``: the plan ``keepwise outreach`` stored for the month.

    The default month is the latest month with an order line or a time log, as the command takes it.
    """
    from keepwise.decisions.outreach import unsaved
    from keepwise.value.profitability import latest_month, period

    chosen = period(month, "month").month if month is not None else latest_month(store)
    doc = document(store, "outreach", chosen, "", kept)
    if doc is None:
        raise not_stored(f"outreach plan of {chosen}", f"keepwise outreach --month {chosen}")
    return unsaved(doc)
