"""The review's pages and their API: the overview (``/``), warnings (``/warnings``) and lost (``/lost``).

All three read the review document ``keepwise review`` stored (:func:`keepwise.web.data.review_document`) and
cut it with :mod:`keepwise.web.pages.reviewed`, so every figure is the CLI's. ``/?print=1`` is the overview
laid out as a report for the browser's print (``keepwise review --pdf`` prints the CLI's report the same way).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from fastapi import Query, Request
from fastapi.responses import Response

from keepwise.money import cents, shown
from keepwise.operations import last_run
from keepwise.store import Store
from keepwise.web import data, stored
from keepwise.web.app import WebState, json_response, render, state_of
from keepwise.web.pages import reviewed
from keepwise.web.pages.common import (
    MANAGER_API,
    MANAGER_PAGE,
    api,
    currency_of,
    data_month,
    derived,
    fragment,
    router,
)
from keepwise.web.paging import Page, page_of

__all__ = ["lost_api", "lost_page", "overview", "warnings_api", "warnings_page"]

#: Rows of the overview's short tables of warnings and lost customers (the rest: /warnings and /lost).
PREVIEW = 10


def _review(state: WebState, backend: Store, month: str | None) -> tuple[dict[str, Any], str]:
    """The stored review of ``month`` (default: the latest) and the currency its money is in."""
    doc = data.review_document(backend, data_month(month), kept=state.documents)
    cur = (doc.get("profitability") or {}).get("currency") or currency_of(state, backend)
    return doc, cur


def _charts(doc: dict[str, Any], currency: str) -> dict[str, str]:
    """The overview's charts of the review document, by ``div`` id (made once per stored review)."""
    from keepwise.report import figures

    lost = doc.get("lost") or {}
    metrics = doc.get("metrics") or {}
    months, by_reason = reviewed.lost_by_month(doc)
    return {
        "fig-warnings": fragment(
            figures.warnings_bar(reviewed.warnings_by_kind(doc), currency), "fig-warnings"
        ),
        "fig-lost-months": fragment(figures.lost_by_month(months, by_reason), "fig-lost-months"),
        "fig-reasons": fragment(figures.reasons_pareto(lost.get("by_reason", {})), "fig-reasons"),
        "fig-cohorts": fragment(figures.cohort_heatmap(metrics.get("cohorts", [])), "fig-cohorts"),
        "fig-trend": fragment(figures.trend_chart(metrics.get("monthly", [])[-24:]), "fig-trend"),
    }


def _whale(state: WebState, backend: Store, month: str, known: reviewed.Known) -> tuple[str | None, str]:
    """The whale curve of the review month's stored twelve-month profit, or why it is not drawn."""
    from keepwise.value import whale_curve, whale_figure
    from keepwise.value.profit import KIND, table_name

    if not known.margin_known:
        return None, (
            "No whale curve: no unit costs are recorded, so each customer's 'profit' would be their revenue; "
            "record unit costs (or set [value] default_margin_rate) to see who earns and who costs money."
        )
    doc = stored.document(backend, KIND, month, "ttm", state.documents)
    if doc is None or not backend.has_table(table_name("ttm")):
        return None, (
            f"The whale curve needs the twelve-month profit of {month}: run "
            f"`keepwise profit --view ttm --month {month}` (or `keepwise run`)."
        )

    def chart(doc: dict[str, Any]) -> str:  # the stored rows' whale curve, drawn once per document
        rows_of = backend.table(table_name("ttm"))
        curve, drawn = whale_curve(rows_of.filter(rows_of.month == doc["month"]))
        return fragment(whale_figure(curve, drawn, currency=doc["currency"]), "fig-whale")

    caveat = "" if known.staff_time else " No staff time is recorded, so profit leaves out the cost to serve."
    return derived(state, ("whale", doc["month"]), doc, chart), str(doc["whale"]["sentence"]) + caveat


def _cards(doc: dict[str, Any], known: reviewed.Known, cur: str) -> list[dict[str, Any]]:
    """The overview's headline figures: label, figure, a line under it and the element id of the figure."""

    def money(v: Any) -> str:
        return shown(v, cur, whole=True)

    warnings = doc.get("warnings", [])
    lost = doc.get("lost") or {}
    metrics = doc.get("metrics") or {}
    at_risk = sum((Decimal(w["value_at_risk"]) for w in warnings), Decimal(0))
    word = known.margin_word
    cards = [
        {
            "id": "card-warnings",
            "label": "customers with warning signs",
            "big": f"{len({w['customer_id'] for w in warnings}):,}",
            "under": f"{money(at_risk)} of {word} a year at risk",
        },
        {
            "id": "card-lost",
            "label": "customers lost (12 months)",
            "big": f"{lost.get('count', 0):,}",
            "under": f"{100 * (lost.get('rate') or 0):.1f}% of those at risk",
        },
        {
            "id": "card-lost-margin",
            "label": f"{word} a year they took",
            "big": money(lost.get("annual_margin_lost") or 0),
            "under": known.margin_caveat or "what they brought a year while they bought",
        },
    ]
    value_lost = (lost.get("lifetime_value_lost") or {}).get("discounted")
    cards.append(
        {
            "id": "card-value-lost",
            "label": "lifetime value lost",
            "big": money(value_lost) if value_lost is not None else "not estimated",
            "under": "discounted, by the purchase model" + ("" if known.margin_known else " (on revenue)")
            if value_lost is not None
            else "no purchase model",
        }
    )
    replace = (lost.get("replacement_cost") or {}).get("total")
    cards.append(
        {
            "id": "card-replacement",
            "label": "cost to replace them",
            "big": money(replace) if replace is not None else "unknown",
            "under": "" if replace is not None else "no acquisition costs recorded",
        }
    )
    ttm = ((doc.get("profitability") or {}).get("ttm") or {}).get("totals") or {}
    if ttm and known.profit_known:
        cards.append(
            {
                "id": "card-profit",
                "label": "profit, twelve months",
                "big": money(ttm["profit"]),
                "under": f"on {money(ttm['revenue'])} of revenue",
            }
        )
    elif ttm:
        cards.append(
            {
                "id": "card-profit",
                "label": "profit, twelve months",
                "big": "not known",
                "under": "no unit costs recorded" if not known.margin_known else "no staff time recorded",
            }
        )
    rate = metrics.get("no_purchase_rate", metrics.get("churn_rate"))
    if rate is not None:
        cards.append(
            {
                "id": "card-repeat",
                "label": "bought again this month",
                "big": f"{100 * (1 - rate):.0f}%",
                "under": "of last month's buyers",
            }
        )
    return cards


@router.get("/", dependencies=MANAGER_PAGE)
def overview(
    request: Request,
    month: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
    printing: Annotated[str | None, Query(alias="print")] = None,
) -> Response:
    """The latest review (or ``?month=``): headline figures, the whale curve, warnings, lost, retention."""
    state = state_of(request)
    page_of(page, per_page)  # checked as every page checks it; the overview's tables are previews
    with state.store() as backend:
        months = data.review_months(backend)
        if not months and month is None:
            return render(request, "empty.html.j2", title="No review yet", months=[])
        doc, cur = _review(state, backend, month)
        known = reviewed.known(doc)
        whale, whale_text = _whale(state, backend, doc["month"], known)
        last = last_run(backend)  # when `keepwise run` last ran the monthly loop (None: never)
    charts = derived(state, ("overview", doc["month"]), doc, lambda d: _charts(d, cur))
    warnings = reviewed.warnings_rows(doc)
    lost = doc.get("lost") or {}
    return render(
        request,
        "overview.html.j2",
        title=f"Retention review {doc['month']}",
        doc=doc,
        months=months,
        month=doc["month"],
        known=known,
        cards=_cards(doc, known, cur),
        warnings=warnings[:PREVIEW],
        n_warnings=len(warnings),
        lost=lost,
        lost_rows=reviewed.lost_rows(doc)[:PREVIEW],
        charts=charts,
        whale=whale,
        whale_text=whale_text,
        money=lambda v: shown(v, cur),
        last_run=last,
        printing=printing not in (None, "", "0"),
    )


def _warnings_doc(
    request: Request, month: str | None, kind: str | None, sort: str | None, page: Page
) -> tuple[dict[str, Any], reviewed.Known]:
    """The warnings of the review month as the page and ``/api/v1/warnings`` give them, and the currency."""
    state = state_of(request)
    with state.store() as backend:
        doc, cur = _review(state, backend, month)
    rows = reviewed.warnings_rows(doc, kind, sort)
    by_kind = reviewed.warnings_by_kind(doc)
    out = {
        "month": doc["month"],
        "currency": cur,
        "kind": kind or None,
        "sort": sort or reviewed.WARNING_SORTS[0],
        "customers": len({w["customer_id"] for w in doc.get("warnings", [])}),
        "value_at_risk": cents(sum((v["value_at_risk"] for v in by_kind.values()), Decimal(0))),
        "by_kind": {
            k: {"count": v["count"], "value_at_risk": cents(v["value_at_risk"])} for k, v in by_kind.items()
        },
        **reviewed.known(doc).to_json(),
        "warnings": page.cut(rows),
        "pagination": page.info({"warnings": len(rows)}, request.url.path, dict(request.query_params)),
    }
    return out, reviewed.known(doc)


@router.get("/warnings", dependencies=MANAGER_PAGE)
def warnings_page(
    request: Request,
    month: str | None = None,
    kind: str | None = None,
    sort: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
) -> Response:
    """The review month's warnings by kind, largest value at risk first (or ``?sort=``), a page at a time."""
    doc, known = _warnings_doc(request, month, kind, sort, page_of(page, per_page))
    cur = doc["currency"]
    return render(
        request,
        "warnings.html.j2",
        title=f"Warning signs {doc['month']}",
        doc=doc,
        known=known,
        sorts=reviewed.WARNING_SORTS,
        pager=doc["pagination"],
        first=(doc["pagination"]["page"] - 1) * doc["pagination"]["per_page"],
        money=lambda v: shown(v, cur),
    )


@api.get("/warnings", dependencies=MANAGER_API)
def warnings_api(
    request: Request,
    month: str | None = None,
    kind: str | None = None,
    sort: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
) -> Response:
    """The review month's warnings (``?kind=``, ``?sort=``), totals by kind, paginated."""
    doc, _ = _warnings_doc(request, month, kind, sort, page_of(page, per_page))
    return json_response(doc)


def _lost_doc(
    request: Request, month: str | None, reason: str | None, sort: str | None, page: Page
) -> tuple[dict[str, Any], reviewed.Known]:
    """The customers lost in the review's twelve months as the page and ``/api/v1/lost`` give them."""
    state = state_of(request)
    with state.store() as backend:
        doc, cur = _review(state, backend, month)
    lost = doc.get("lost") or {}
    rows = reviewed.lost_rows(doc, reason, sort)
    known = reviewed.known(doc)

    def money(v: Any) -> str | None:
        return None if v is None else cents(v)

    out = {
        "month": doc["month"],
        "currency": cur,
        "reason": reason or None,
        "sort": sort or reviewed.LOST_SORTS[0],
        **{
            k: lost.get(k)
            for k in ("rule", "count", "at_risk", "rate", "annual_margin_rule", "one_time_buyers")
        },
        "annual_margin_lost": lost.get("annual_margin_lost"),
        "lifetime_value_lost": lost.get("lifetime_value_lost"),
        "replacement_cost": lost.get("replacement_cost"),
        "competitors": lost.get("competitors", {}),
        **known.to_json(),
        "by_reason": [
            {**r, **{k: money(r[k]) for k in ("annual_margin", "discounted_value", "replacement_cost")}}
            for r in reviewed.lost_by_reason(doc)
        ],
        "notes": lost.get("notes", []),
        "customers": page.cut(rows),
        "pagination": page.info({"customers": len(rows)}, request.url.path, dict(request.query_params)),
    }
    return out, known


@router.get("/lost", dependencies=MANAGER_PAGE)
def lost_page(
    request: Request,
    month: str | None = None,
    reason: str | None = None,
    sort: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
) -> Response:
    """Customers lost in the last twelve months: why (by reason, by month), what it cost, who, paginated."""
    from keepwise.report import figures

    state = state_of(request)
    doc, known = _lost_doc(request, month, reason, sort, page_of(page, per_page))
    with state.store() as backend:
        whole, _ = _review(state, backend, doc["month"])

    def charts(whole: dict[str, Any]) -> dict[str, str]:
        months, by_reason = reviewed.lost_by_month(whole)
        return {
            "fig-lost-months": fragment(figures.lost_by_month(months, by_reason), "fig-lost-months"),
            "fig-reasons": fragment(
                figures.reasons_pareto((whole.get("lost") or {}).get("by_reason", {})), "fig-reasons"
            ),
        }

    cur = doc["currency"]
    return render(
        request,
        "lost.html.j2",
        title=f"Customers lost, twelve months to {doc['month']}",
        doc=doc,
        known=known,
        sorts=reviewed.LOST_SORTS,
        charts=derived(state, ("lost", doc["month"]), whole, charts),
        pager=doc["pagination"],
        money=lambda v: shown(v, cur),
    )


@api.get("/lost", dependencies=MANAGER_API)
def lost_api(
    request: Request,
    month: str | None = None,
    reason: str | None = None,
    sort: str | None = None,
    page: str | None = None,
    per_page: str | None = None,
) -> Response:
    """Customers lost in the review's twelve months (``?reason=``, ``?sort=``), by reason, paginated."""
    doc, _ = _lost_doc(request, month, reason, sort, page_of(page, per_page))
    return json_response(doc)
