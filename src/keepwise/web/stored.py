"""The stage documents the dashboard reads: what ``keepwise profit``, ``winback`` and ``outreach`` stored.

Each stage saves its JSON document in the store (:meth:`keepwise.store.Store.save_document`) when its command
runs; the web reads it back (one row) and cuts it, and never runs the stage itself: a request costs a read,
not a computation. A month with no stored document is a :class:`~keepwise.web.app.NotFound` (404 in the API,
a page that says so) naming the command that stores it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from keepwise.exceptions import BadInput
from keepwise.signals.period import ReviewPeriod, last_complete_month
from keepwise.store import Store
from keepwise.store.store import DOCUMENTS
from keepwise.web.app import NotFound
from keepwise.web.cache import Kept
from keepwise.web.paging import Page

__all__ = [
    "VIEWS",
    "Cut",
    "check_top",
    "cut_document",
    "document",
    "not_stored",
    "outreach_document",
    "outreach_page",
    "outreach_statuses",
    "profit_document",
    "profit_page",
    "winback_document",
    "winback_page",
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


class Cut:
    """One page of a stored document's lists: ``doc`` (the lists cut to the page) and each list's ``totals``.

    Read from the document's parts (:mod:`keepwise.store.documents`: the head and the page's items, a few
    rows) when the command stored them, else from the whole document (parsed once per version and kept).
    """

    def __init__(self, doc: dict[str, Any], totals: dict[str, int], tail: Any, stamp: Any = None):
        self.doc = doc
        self.totals = totals
        self._tail = tail
        #: the stored document's version (store, kind, month, variant and when it was written)
        self.stamp = stamp

    def tail(self, name: str, count: int) -> list[Any]:
        """The last ``count`` items of the list ``name`` (of the whole list, not the page), in order."""
        rows: list[Any] = self._tail(name, count, True)
        return rows

    def head(self, name: str, count: int) -> list[Any]:
        """The first ``count`` items of the list ``name`` (of the whole list, not the page), in order."""
        rows: list[Any] = self._tail(name, count, False)
        return rows


def _written(store: Store, kind: str, month: str, variant: str) -> Any:
    """When the document was written (``None``: not stored)."""
    if not store.has_table(DOCUMENTS):
        return None
    where = {"kind": kind, "month": month, "variant": variant}
    written = store.read(DOCUMENTS, where=where, columns=["written_at"])
    return None if written.empty else written["written_at"].iloc[0]


def cut_document(
    store: Store,
    kind: str,
    month: str,
    lists: Sequence[str],
    page: Page,
    *,
    variant: str = "",
    limits: Mapping[str, int] | None = None,
    kept: Kept[Any] | None = None,
) -> Cut | None:
    """The stored document with each of its top-level ``lists`` cut to ``page`` (``None``: not stored).

    ``limits`` keeps only the first so many items of a list (``top``) before the page is cut.
    """
    from keepwise.store import documents

    written = _written(store, kind, month, variant)
    if written is None:
        return None
    limits = limits or {}
    stamp = (store.url, kind, month, variant, str(written))

    def read_head() -> documents.Head | None:
        return documents.head(store, kind, month, written, variant=variant)

    head = read_head() if kept is None else kept.get(("head", *stamp), stamp, read_head)
    if head is None:
        whole = document(store, kind, month, variant, kept)
        if whole is None:
            return None
        out, totals = dict(whole), {}
        for name in lists:
            if isinstance(whole.get(name), list):
                rows = whole[name][: limits[name]] if limits.get(name) else whole[name]
                totals[name] = len(rows)
                out[name] = page.cut(rows)

        def whole_ends(name: str, count: int, last: bool) -> list[Any]:
            if not count:
                return []
            return list(whole[name][-count:] if last else whole[name][:count])

        return Cut(out, totals, whole_ends, stamp)
    out, totals = dict(head.document), {}
    ranges: dict[str, tuple[int, int]] = {}
    for name in lists:
        if name in head.lists:
            n = min(head.lists[name], limits[name]) if limits.get(name) else head.lists[name]
            totals[name] = n
            ranges[name] = (page.start, min(page.start + page.size, n))
        elif isinstance(out.get(name), list):  # a short list, kept in the head
            rows = out[name][: limits[name]] if limits.get(name) else out[name]
            totals[name] = len(rows)
            out[name] = page.cut(rows)
    for name, n in head.lists.items():  # a long list no page cuts comes whole
        if name not in lists:
            ranges[name] = (0, n)
    out.update(documents.pages(store, kind, month, ranges, variant=variant))

    def ends(name: str, count: int, last: bool) -> list[Any]:
        n = head.lists.get(name)
        if not count:
            return []
        if n is None:
            rows = head.document[name]
            return list(rows[-count:] if last else rows[:count])
        start, stop = (max(n - count, 0), n) if last else (0, min(count, n))
        return documents.items(store, kind, month, name, start, stop, variant=variant)

    return Cut(out, totals, ends, stamp)


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


def profit_page(store: Store, month: str | None, view: str, page: Page, kept: Kept[Any] | None = None) -> Cut:
    """A page of ``keepwise profit --month M --view V --json`` as stored: ``customers`` cut to ``page``."""
    from keepwise.value.profit import KIND
    from keepwise.value.profitability import latest_month, period

    if view not in VIEWS:
        raise BadInput("view", "is not one of: month, ttm, lifetime", view)
    chosen = period(month, "month").month if month is not None else latest_month(store)
    variant = "" if view == "month" else view
    found = cut_document(store, KIND, chosen, ("customers",), page, variant=variant, kept=kept)
    if found is None:
        where = "" if view == "month" else f" --view {view}"
        raise not_stored(f"profitability ({view}) of {chosen}", f"keepwise profit --month {chosen}{where}")
    return found


def winback_page(
    store: Store, month: str | None, top: int, lists: Sequence[str], page: Page, kept: Kept[Any] | None = None
) -> Cut:
    """A page of ``keepwise winback --month M --top N --json`` as stored: ``ranked`` cut to ``top`` (0: all).

    As :func:`winback_document` then each of ``lists`` cut to ``page``; ``expected_value_of_ranked`` is that
    of the first ``top`` ranked (:func:`keepwise.decisions.winback.stage.cut`), read from their rows alone.
    """
    from decimal import Decimal

    from keepwise.money import cents

    check_top(top)
    chosen = ReviewPeriod.of(month).month if month is not None else last_complete_month(store).month
    found = cut_document(store, "winback", chosen, lists, page, limits={"ranked": top}, kept=kept)
    if found is None:
        raise not_stored(f"win-back ranking of {chosen}", f"keepwise winback --month {chosen}")
    if top and "ranked" in found.totals:
        first = found.head("ranked", found.totals["ranked"])
        total = sum((Decimal(r.get("expected_value") or 0) for r in first), Decimal(0))
        found.doc["expected_value_of_ranked"] = cents(total)
    return found


def outreach_statuses(store: Store, month: str, actions: int) -> tuple[dict[str, int], int]:
    """How many of the month's stored plan's ``actions`` are planned, done and skipped, and how many unsaved.

    Each action's status is that of its row of ``outreach_actions`` (by customer and action); read in one
    query from the plan's stored items where the command stored them, else from the whole document.
    """
    from keepwise.store import documents

    counts: dict[Any, int] | None = None
    written = _written(store, "outreach", month, "")
    head = None if written is None else documents.head(store, "outreach", month, written)
    if not store.has_table("outreach_actions"):
        counts = {None: actions}
    elif head is not None and "actions" in head.lists:
        counts = documents.count_by_match(
            store, "outreach", month, "actions", "outreach_actions", ("customer_id", "action"), "status",
            {"month": month},
        )  # fmt: skip
    if counts is None:
        counts = {}
        t = store.table("outreach_actions")
        rows = t.filter(t.month == month).select("customer_id", "action", "status").to_pyarrow().to_pylist()
        saved = {(r["customer_id"], r["action"]): r["status"] for r in rows}
        plan = (store.load_document("outreach", month) or {}).get("actions", [])
        for a in plan:
            status = saved.get((a["customer_id"], a["action"]))
            counts[status] = counts.get(status, 0) + 1
    statuses = {s: counts.get(s, 0) for s in ("planned", "done", "skipped")}
    return statuses, counts.get(None, 0)


def outreach_page(
    store: Store, month: str | None, lists: Sequence[str], page: Page, kept: Kept[Any] | None = None
) -> Cut:
    """A page of :func:`outreach_document` (``saved`` is ``null``): each of ``lists`` cut to ``page``."""
    from keepwise.decisions.outreach import unsaved
    from keepwise.value.profitability import latest_month, period

    chosen = period(month, "month").month if month is not None else latest_month(store)
    found = cut_document(store, "outreach", chosen, lists, page, kept=kept)
    if found is None:
        raise not_stored(f"outreach plan of {chosen}", f"keepwise outreach --month {chosen}")
    found.doc = unsaved(found.doc)
    return found
