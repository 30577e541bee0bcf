"""Dashboard pages, server-rendered for a business owner: the review, profitability, customers, decisions.

Pages read what the commands stored (the review's document, the profit, win-back and outreach documents,
:mod:`keepwise.web.stored`); a month nothing is stored for says which command to run. Long tables come a
page at a time (``?page=&per_page=``, :mod:`keepwise.web.paging`) with links to the next and previous pages.
``/outreach`` lists the month's actions with a Done / Skip form per saved action; the forms post to this
router (session cookie), which records them through the same function as ``keepwise outreach done|skip``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response

from keepwise.exceptions import KeepwiseInputError
from keepwise.money import shown
from keepwise.operations import last_run
from keepwise.store import Store
from keepwise.web import data, stored, validation
from keepwise.web.access import Role, api_guard, page_guard
from keepwise.web.app import NotFound, WebState, render, state_of
from keepwise.web.paging import Page, page_of, paginate

__all__ = ["api", "router"]

#: How many of the ranked lost customers the win-back page shows (the API's ``top``), a page at a time.
TOP = 25


router = APIRouter(dependencies=[Depends(page_guard(Role.REP))])

#: This module's part of the REST API (``/api/v1/...``, JSON, the one error shape).
api = APIRouter(
    prefix="/api/v1", dependencies=[Depends(api_guard(Role.REP)), Depends(validation.json_body_required)]
)


def _currency(state: WebState, store: Store) -> str:
    """The reporting currency: ``[value]``'s, else the one currency of the data."""
    from keepwise.value.profitability import reporting_currency

    return reporting_currency(store, state.config)


def _pager(request: Request, page: Page, total: int) -> dict[str, Any]:
    """The ``pagination`` of a page's table of ``total`` rows (links to the next and previous pages)."""
    return page.info({"rows": total}, request.url.path, dict(request.query_params))


def _fragment(fig: Any, div_id: str) -> str:
    from keepwise.report.figures import fragment

    return fragment(fig, div_id)


def _derived(state: WebState, key: tuple[str, ...], doc: dict[str, Any], make: Any) -> Any:
    """``make(doc)``, made once per stored document ``doc`` (kept with it) and reused while it is current."""
    kept: tuple[dict[str, Any], Any] = state.documents.get(
        (state.db, *key), id(doc), lambda: (doc, make(doc))
    )
    return kept[1]


def _overview_parts(doc: dict[str, Any]) -> tuple[list[Any], dict[str, Any], list[Any], list[str]]:
    """The overview's warnings by value at risk, totals by kind, lost customers by margin and its 4 charts."""
    from keepwise.report import figures
    from keepwise.signals import KINDS

    warnings = sorted(doc.get("warnings", []), key=lambda w: Decimal(w["value_at_risk"]), reverse=True)
    by_kind = {
        k: {
            "count": sum(1 for w in warnings if w["kind"] == k),
            "value_at_risk": sum(
                (Decimal(w["value_at_risk"]) for w in warnings if w["kind"] == k), Decimal(0)
            ),
        }
        for k in KINDS
    }
    lost = doc.get("lost") or {}
    metrics = doc.get("metrics") or {}
    charts = [
        _fragment(figures.warnings_bar(by_kind), "fig-warnings"),
        _fragment(figures.reasons_pareto(lost.get("by_reason", {})), "fig-reasons"),
        _fragment(figures.cohort_heatmap(metrics.get("cohorts", [])), "fig-cohorts"),
        _fragment(figures.trend_chart(metrics.get("monthly", [])[-24:]), "fig-trend"),
    ]
    lost_rows = sorted(lost.get("customers", []), key=lambda r: Decimal(r["annual_margin"]), reverse=True)
    return warnings, by_kind, lost_rows, charts


@router.get("/")
def overview(
    request: Request, month: str | None = None, page: str | None = None, per_page: str | None = None
) -> Response:
    """The latest review (or ``?month=``): warnings by value at risk, lost customers, cohort retention."""
    state = state_of(request)
    chosen = page_of(page, per_page)
    with state.store() as backend:
        months = data.review_months(backend)
        if not months and month is None:
            return render(request, "empty.html.j2", title="No review yet", months=[])
        doc = data.review_document(backend, month, kept=state.documents)
        section = doc.get("profitability") or {}
        cur = section.get("currency") or _currency(state, backend)  # the review's money is in its currency
        last = last_run(backend)  # when `keepwise run` last ran the monthly loop (None: never)
    # sorted lists, sums and charts are made once per stored review and kept with it
    warnings, by_kind, lost_rows, charts = _derived(state, ("overview", doc["month"]), doc, _overview_parts)
    lost = doc.get("lost") or {}
    return render(
        request,
        "overview.html.j2",
        title=f"Retention review {doc['month']}",
        doc=doc,
        months=months,
        month=doc["month"],
        warnings=chosen.cut(warnings),
        first=chosen.start,
        pager=_pager(request, chosen, max(len(warnings), len(lost_rows))),
        n_warnings=len(warnings),
        at_risk=shown(sum((Decimal(w["value_at_risk"]) for w in warnings), Decimal(0)), cur),
        by_kind={k: {**v, "value_at_risk": shown(v["value_at_risk"], cur)} for k, v in by_kind.items()},
        lost=lost,
        lost_rows=chosen.cut(lost_rows),
        charts=charts,
        money=lambda v: shown(v, cur),
        last_run=last,
    )


@router.get("/profit")
def profit_page(
    request: Request, month: str | None = None, page: str | None = None, per_page: str | None = None
) -> Response:
    """Profitability over the trailing twelve months: tiers, the whale curve, customers most profitable first.

    Reads what ``keepwise profit --view ttm`` stored: the document and, for the whale curve, its rows.
    """
    from keepwise.value import whale_curve, whale_figure
    from keepwise.value.profit import table_name

    state = state_of(request)
    chosen = page_of(page, per_page)
    try:
        with state.store() as backend:
            doc = stored.profit_document(backend, month, "ttm", kept=state.documents)

            def chart(doc: dict[str, Any]) -> str:  # the stored rows' whale curve, drawn once per document
                rows_of = backend.table(table_name("ttm"))
                curve, drawn = whale_curve(rows_of.filter(rows_of.month == doc["month"]))
                return _fragment(whale_figure(curve, drawn, currency=doc["currency"]), "fig-whale")

            drawn_chart = _derived(state, ("whale", doc["month"]), doc, chart)
    except NotFound as exc:
        return render(request, "profit.html.j2", title="Profitability", doc=None, message=str(exc))
    cur = doc["currency"]
    customers = doc["customers"]

    def shown_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "customer_id": r["customer_id"],
                "tier": r["tier"],
                "rank": r["rank"],
                "revenue": shown(r["revenue"], cur),
                "profit": shown(r["profit"], cur),
            }
            for r in rows
        ]

    return render(
        request,
        "profit.html.j2",
        title=f"Profitability, twelve months to {doc['month']}",
        doc=doc,
        message=None,
        headline=doc["whale"]["sentence"],
        chart=drawn_chart,
        top=shown_rows(chosen.cut(customers)),  # most profitable first, as keepwise profit lists them
        pager=_pager(request, chosen, len(customers)),
        bottom=shown_rows(customers[-10:][::-1]) if len(customers) > 10 else [],
        money=lambda v: shown(v, cur),
    )


@router.get("/concession")
def concession_form(request: Request, customer_id: str = "", incident: str = "") -> Response:
    """The representative's question: may I give this customer this much? (the form)."""
    form = {"customer_id": customer_id, "cost": "", "incident": incident}
    return render(request, "concession.html.j2", title="May I give this?", form=form, advice=None, error=None)


@router.post("/concession")
async def concession_page(request: Request) -> Response:
    """Approve, refuse or counter, with the reasons (a POST: each answer is logged, as the CLI logs it)."""
    from starlette.concurrency import run_in_threadpool

    from keepwise.web.api import advise

    _same_origin(request)  # each answer is logged: another site's page must not post one
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    form = {k: (fields.get(k) or [""])[0].strip() for k in ("customer_id", "cost", "incident")}
    try:
        advice = await run_in_threadpool(
            advise, state_of(request), form["customer_id"], form["cost"], form["incident"] or None
        )
    except (KeepwiseInputError, NotFound) as exc:
        return render(
            request,
            "concession.html.j2",
            status_code=404 if isinstance(exc, NotFound) else 400,
            title="May I give this?",
            form=form,
            advice=None,
            error=str(exc),
        )
    cur = advice["currency"]
    return render(
        request,
        "concession.html.j2",
        title="May I give this?",
        form=form,
        advice=advice,
        error=None,
        money=lambda v: shown(v, cur),
    )


@router.get("/winback")
def winback_page(
    request: Request, month: str | None = None, page: str | None = None, per_page: str | None = None
) -> Response:
    """Which lost customers to win back, with what offer, ranked by expected value, with the reasons.

    The ranking ``keepwise winback`` stored, its best :data:`TOP` a page at a time.
    """
    from keepwise.web.api import WINBACK_LISTS

    state = state_of(request)
    chosen = page_of(page, per_page)
    try:
        with state.store() as backend:
            whole = stored.winback_document(backend, data_month(month), TOP, state.documents)
    except NotFound as exc:
        return render(request, "winback.html.j2", title="Win-back", doc=None, message=str(exc))
    doc = paginate(whole, WINBACK_LISTS, chosen, request.url.path, dict(request.query_params))
    cur = doc["currency"]
    return render(
        request,
        "winback.html.j2",
        title="Win-back",
        doc=doc,
        pager=doc["pagination"],
        message=None,
        money=lambda v: shown(v, cur),
    )


def data_month(month: str | None) -> str | None:
    """A month from the query string (``YYYY-MM``), checked as the API checks it; ``None`` when not given."""
    from keepwise.web.validation import month as checked

    return checked(month)


@router.get("/conjoint")
def conjoint_page(request: Request, study: str | None = None) -> Response:
    """A saved conjoint study (default: the latest) as the conjoint report draws it, or "no study yet"."""
    with state_of(request).store() as backend:
        result = data.conjoint_result(backend, study)
    section = None
    if result is not None:
        from keepwise.conjoint.report import section_html

        section = section_html(result)
    return render(
        request, "conjoint.html.j2", title="What offer wins them back", result=result, section=section
    )


def _saved_actions(store: Store, month: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The month's rows of ``outreach_actions`` by (customer, action): status, note, when recorded."""
    if not store.has_table("outreach_actions"):
        return {}
    t = store.table("outreach_actions")
    rows = t.filter(t.month == month).select("customer_id", "action", "status", "note", "recorded_at")
    return {
        (r["customer_id"], r["action"]): {
            "status": r["status"],
            "note": r["note"],
            "recorded_at": r["recorded_at"],
        }
        for r in rows.to_pyarrow().to_pylist()
    }


@router.get("/outreach")
def outreach_page(
    request: Request, month: str | None = None, page: str | None = None, per_page: str | None = None
) -> Response:
    """The month's actions by tier, with reasons, due date, channel, status and a Done / Skip button each.

    The plan ``keepwise outreach`` stored, a page of actions at a time; the counts are of the whole plan.
    """
    from keepwise.value.tiers import TIERS
    from keepwise.web.api import outreach_document

    state = state_of(request)
    chosen = page_of(page, per_page)
    try:
        doc = outreach_document(state, month)
    except NotFound as exc:
        return render(request, "outreach.html.j2", title="Outreach", doc=None, message=str(exc))
    with state.store() as backend:
        saved = _saved_actions(backend, doc["month"])
    actions = doc["actions"]
    status_of = [saved.get((a["customer_id"], a["action"]), {"status": None})["status"] for a in actions]
    rows = [
        {**a, **saved.get((a["customer_id"], a["action"]), {"status": None})} for a in chosen.cut(actions)
    ]
    by_tier = [(t, [r for r in rows if r["tier"] == t]) for t in TIERS]
    statuses = {s: sum(st == s for st in status_of) for s in ("planned", "done", "skipped")}
    return render(
        request,
        "outreach.html.j2",
        title=f"Outreach {doc['month']}",
        doc=doc,
        message=None,
        by_tier=[(t, rs) for t, rs in by_tier if rs],
        pager=_pager(request, chosen, len(actions)),
        statuses=statuses,
        unsaved=sum(st is None for st in status_of),
    )


def _same_origin(request: Request) -> None:
    """Refuse a form POST sent from another site's page (its ``Origin`` names another host).

    With an access token the session cookie is ``SameSite=Lax``, so another site's POST carries no session;
    an app without a token has no cookie, so the browser's ``Origin`` is checked too (the concession form
    and the outreach buttons).
    """
    from urllib.parse import urlsplit

    origin = request.headers.get("origin")
    if origin is None or (origin == "null" and state_of(request).token is not None):
        return
    if urlsplit(origin).netloc != request.headers.get("host", ""):
        raise KeepwiseInputError("this form must be sent from the keepwise dashboard itself")


@router.post("/outreach/{customer_id:path}/{status}")
async def outreach_mark(request: Request, customer_id: str, status: str) -> Response:
    """The Done / Skip buttons: record the action (``keepwise outreach done|skip``), then show the month."""
    from urllib.parse import quote

    from starlette.concurrency import run_in_threadpool

    from keepwise.web.api import mark_outreach

    if status not in ("done", "skip"):
        raise NotFound(f"no such outreach step '{status}' (done or skip)")
    _same_origin(request)
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    body = {k: (fields.get(k) or [""])[0].strip() for k in ("month", "action", "note")}
    row = await run_in_threadpool(
        mark_outreach, state_of(request), "done" if status == "done" else "skipped", customer_id, body
    )
    anchor = quote(f"a-{row['customer_id']}-{row['action']}", safe="")
    return RedirectResponse(f"/outreach?month={quote(row['month'])}#{anchor}", status_code=303)


@router.get("/wins")
def wins_page(request: Request, month: str | None = None, months: int | None = None) -> Response:
    """Why customers choose the business against why they leave: findings, chart and table of ``--html``."""
    from keepwise.report.sections.wins import html
    from keepwise.web.api import wins_result

    result = wins_result(state_of(request), month, months)
    span = f"{result.start:%Y-%m} to {result.month}" if result.start else f"all history to {result.month}"
    return render(
        request,
        "wins.html.j2",
        title="Wins against losses",
        doc=result.to_json(),
        span=span,
        section=html(result),
    )
