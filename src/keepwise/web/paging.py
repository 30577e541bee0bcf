"""Pages of a list: ``?page=&per_page=`` on every list route and dashboard page.

A route reads the two parameters with :func:`page_of` (1-based ``page``, ``per_page`` from 1 to
:data:`MAX_PER_PAGE`, default :data:`PER_PAGE`; anything else is a 400 in the one error shape), cuts the lists
of its document with :func:`paginate` and adds ``"pagination"``: the page, the rows per page, each list's
``total`` count and the links to the next and previous pages (``null`` at either end). A page past the last
one is empty, never an error: its ``total`` still says how many rows there are.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from keepwise.arguments import MAX_COUNT
from keepwise.web import validation

__all__ = ["MAX_PER_PAGE", "PER_PAGE", "Page", "page_of", "paginate"]

#: Rows per page when ``per_page`` is not given.
PER_PAGE = 50
#: The most rows one page may ask for.
MAX_PER_PAGE = 1000


@dataclass(frozen=True)
class Page:
    """One page of a list: which page (from 1) and how many rows a page holds."""

    number: int = 1
    size: int = PER_PAGE

    @property
    def start(self) -> int:
        """Index of the page's first row in the whole list."""
        return (self.number - 1) * self.size

    def cut(self, rows: Sequence[Any]) -> list[Any]:
        """The rows of this page."""
        return list(rows[self.start : self.start + self.size])

    def pages(self, total: int) -> int:
        """How many pages ``total`` rows fill (at least 1)."""
        return max(1, math.ceil(total / self.size))

    def link(self, path: str, params: Mapping[str, Any], number: int) -> str:
        """The address of page ``number`` of ``path`` with the request's other ``params``."""
        query = {k: v for k, v in params.items() if k not in ("page", "per_page") and v is not None}
        query["page"] = number
        if self.size != PER_PAGE:
            query["per_page"] = self.size
        return f"{path}?{urlencode(query)}"

    def info(self, totals: Mapping[str, int], path: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """``pagination``: page, per_page, total (the first list's), pages, next and prev links.

        With more than one list, ``totals`` gives each list's count and ``pages`` is that of the longest.
        """
        most = max(totals.values(), default=0)
        pages = self.pages(most)
        doc: dict[str, Any] = {
            "page": self.number,
            "per_page": self.size,
            "total": next(iter(totals.values()), 0),
        }
        if len(totals) > 1:
            doc["totals"] = dict(totals)
        doc["pages"] = pages
        doc["next"] = self.link(path, params, self.number + 1) if self.number < pages else None
        doc["prev"] = self.link(path, params, min(self.number - 1, pages)) if self.number > 1 else None
        return doc


def page_of(page: str | int | None, per_page: str | int | None) -> Page:
    """The page a request asks for: ``page`` from 1, ``per_page`` from 1 to :data:`MAX_PER_PAGE`."""
    number = validation.count(page, "page", minimum=1, maximum=MAX_COUNT)
    size = validation.count(per_page, "per_page", minimum=1, maximum=MAX_PER_PAGE)
    return Page(number or 1, size or PER_PAGE)


def paginate(
    doc: Mapping[str, Any],
    lists: Sequence[str],
    page: Page,
    path: str,
    params: Mapping[str, Any],
    *,
    totals: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """``doc`` with each of its ``lists`` cut to ``page`` and ``"pagination"`` added (totals by list).

    A list inside an object is named with a dot (``lost.customers``). A list that is absent (or ``null``)
    in ``doc`` is left as it is and not counted. ``doc`` itself is not changed. With ``totals`` (each
    list's length), the lists of ``doc`` are the page already (:class:`keepwise.web.stored.Cut`).
    """
    if totals is not None:
        return {**doc, "pagination": page.info(totals, path, params)}
    out = dict(doc)
    counted: dict[str, int] = {}
    for key in lists:
        outer, _, inner = key.partition(".")
        if inner:
            holder = out.get(outer)
            if not isinstance(holder, Mapping) or not isinstance(holder.get(inner), list):
                continue
            counted[key] = len(holder[inner])
            out[outer] = {**holder, inner: page.cut(holder[inner])}
        elif isinstance(out.get(key), list):
            counted[key] = len(out[key])
            out[key] = page.cut(out[key])
    out["pagination"] = page.info(counted, path, params)
    return out
