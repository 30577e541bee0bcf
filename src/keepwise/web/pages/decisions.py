"""The decision pages: profitability, the concession advisor, win-back, offers, outreach, wins.

Pages read what the commands stored (the profit, win-back and outreach documents, :mod:`keepwise.web.stored`);
a month nothing is stored for says which command to run. Long tables come a
page at a time (``?page=&per_page=``, :mod:`keepwise.web.paging`) with links to the next and previous pages.
``/outreach`` lists the month's actions with a Done / Skip form per saved action; the forms post to this
router (session cookie), which records them through the same function as ``keepwise outreach done|skip``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from keepwise.exceptions import KeepwiseInputError
from keepwise.money import shown
from keepwise.store import Store
from keepwise.web import data, stored
from keepwise.web.app import NotFound, render, state_of
from keepwise.web.pages import reviewed
from keepwise.web.pages.common import MANAGER_PAGE, data_month, derived, fragment, pager, router, same_origin
from keepwise.web.paging import page_of, paginate

__all__ = ["TOP", "concession_form", "outreach_page", "profit_page", "winback_page", "wins_page"]

#: How many of the ranked lost customers the win-back page shows (the API's ``top``), a page at a time.
TOP = 25


@router.get("/profit", dependencies=MANAGER_PAGE)
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
            found = stored.profit_page(backend, month, "ttm", chosen, kept=state.documents)
            doc = found.doc
            bottom = found.tail("customers", 10)

            def chart(doc: dict[str, Any]) -> str:  # the stored rows' whale curve, drawn once per document
                rows_of = backend.table(table_name("ttm"))
                curve, drawn = whale_curve(rows_of.filter(rows_of.month == doc["month"]))
                return fragment(whale_figure(curve, drawn, currency=doc["currency"]), "fig-whale")

            known = reviewed.known(doc)
            drawn_chart = (
                derived(state, ("whale", doc["month"]), doc, chart, found.stamp)
                if known.margin_known
                else None
            )
    except NotFound as exc:
        return render(request, "profit.html.j2", title="Profitability", doc=None, message=str(exc))
    cur = doc["currency"]
    total = found.totals.get("customers", 0)

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
        headline=doc["whale"]["sentence"] if known.margin_known else None,
        known=known,
        chart=drawn_chart,
        top=shown_rows(doc["customers"]),  # this page, most profitable first, as keepwise profit lists them
        pager=pager(request, chosen, total),
        bottom=shown_rows(bottom[::-1]) if total > 10 else [],
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

    same_origin(request)  # each answer is logged: another site's page must not post one
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


@router.post("/concession/record")
async def concession_record_page(request: Request) -> Response:
    """Record what was done about the advice just given (``keepwise concessions record``), then say so."""
    from starlette.concurrency import run_in_threadpool

    from keepwise.web.api import record_concession

    same_origin(request)
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    form = {k: (fields.get(k) or [""])[0].strip() for k in ("decision_id", "action", "amount")}
    row = await run_in_threadpool(
        record_concession, state_of(request), form["decision_id"], form["action"], form["amount"]
    )
    blank = {"customer_id": row["customer_id"], "cost": "", "incident": ""}
    return render(
        request,
        "concession.html.j2",
        title="May I give this?",
        form=blank,
        advice=None,
        error=None,
        recorded=row,
    )


@router.get("/winback", dependencies=MANAGER_PAGE)
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
            found = stored.winback_page(
                backend, data_month(month), TOP, WINBACK_LISTS, chosen, state.documents
            )
    except NotFound as exc:
        return render(request, "winback.html.j2", title="Win-back", doc=None, message=str(exc))
    params = dict(request.query_params)
    doc = paginate(found.doc, WINBACK_LISTS, chosen, request.url.path, params, totals=found.totals)
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


@router.get("/conjoint", dependencies=MANAGER_PAGE)
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


def _saved_actions(store: Store, month: str, customers: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """The month's rows of ``outreach_actions`` of ``customers`` by (customer, action): status, note, when."""
    if not store.has_table("outreach_actions") or not customers:
        return {}
    t = store.table("outreach_actions")
    rows = t.filter((t.month == month) & t.customer_id.isin(customers))
    rows = rows.select("customer_id", "action", "status", "note", "recorded_at")
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
    from keepwise.web.api import OUTREACH_LISTS
    from keepwise.web.api import outreach_page as page_of_plan
    from keepwise.web.cache import data_stamp

    state = state_of(request)
    chosen = page_of(page, per_page)
    try:
        found = page_of_plan(state, month, chosen)
    except NotFound as exc:
        return render(request, "outreach.html.j2", title="Outreach", doc=None, message=str(exc))
    doc = found.doc
    actions = doc.get("actions") or []
    total = found.totals.get(OUTREACH_LISTS[0], 0)
    with state.store() as backend:
        saved = _saved_actions(backend, doc["month"], sorted({a["customer_id"] for a in actions}))
        # the whole plan's statuses, counted once per version of the plan and of its saved rows
        stamp = (found.stamp, data_stamp(backend, (("outreach_actions", ("recorded_at",)),)))
        statuses, unsaved = state.models.get(
            (state.db, "outreach statuses", doc["month"]),
            stamp,
            lambda: stored.outreach_statuses(backend, doc["month"], total),
        )
    rows = [{**a, **saved.get((a["customer_id"], a["action"]), {"status": None})} for a in actions]
    by_tier = [(t, [r for r in rows if r["tier"] == t]) for t in TIERS]
    return render(
        request,
        "outreach.html.j2",
        title=f"Outreach {doc['month']}",
        doc=doc,
        message=None,
        by_tier=[(t, rs) for t, rs in by_tier if rs],
        pager=pager(request, chosen, total),
        statuses=statuses,
        unsaved=unsaved,
    )


@router.post("/outreach/{customer_id:path}/{status}")
async def outreach_mark(request: Request, customer_id: str, status: str) -> Response:
    """The Done / Skip buttons: record the action (``keepwise outreach done|skip``), then show the month."""
    from urllib.parse import quote

    from starlette.concurrency import run_in_threadpool

    from keepwise.web.api import mark_outreach

    if status not in ("done", "skip"):
        raise NotFound(f"no such outreach step '{status}' (done or skip)")
    same_origin(request)
    fields = parse_qs((await request.body()).decode("utf-8", "replace"))
    body = {k: (fields.get(k) or [""])[0].strip() for k in ("month", "action", "note")}
    row = await run_in_threadpool(
        mark_outreach, state_of(request), "done" if status == "done" else "skipped", customer_id, body
    )
    anchor = quote(f"a-{row['customer_id']}-{row['action']}", safe="")
    return RedirectResponse(f"/outreach?month={quote(row['month'])}#{anchor}", status_code=303)


@router.get("/wins", dependencies=MANAGER_PAGE)
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
