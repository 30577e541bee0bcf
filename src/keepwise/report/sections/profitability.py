"""The review's "Customer profitability" section: the value stage's month and twelve months, in words.

The section reads the value stage's documents (:func:`keepwise.value.review_section.profit_document`) of the
review month and of the trailing twelve months, the twelve-month whale curve and the least profitable
customers; it computes nothing of its own.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from keepwise.config import Config, load_config
from keepwise.money import shown
from keepwise.report import figures
from keepwise.report.section import Section
from keepwise.store import Store
from keepwise.value.profitability import (
    latest_month,
    month_label,
    parse_month,
    period,
    reporting_currency,
    resolve_currency,
)
from keepwise.value.profitability.cost_to_serve import capacity_words
from keepwise.value.profitability.document import document_parts
from keepwise.value.profitability.notes import MARGIN_IS_REVENUE
from keepwise.value.profitability.streams import plan_periods
from keepwise.value.review_section import customer_rows, profit_document
from keepwise.value.whale import whale_figure

if TYPE_CHECKING:
    from keepwise.review import ReviewContext

__all__ = ["KEY", "READS", "profitability_section", "section"]

KEY = "profitability"
#: The stage result the section reads (:class:`keepwise.review.ReviewContext` attribute).
READS = "profit"


def profitability_section(
    store: Store, month: str | None = None, config: Config | None = None
) -> dict[str, Any]:
    """The figures and sentences of the review's profitability section.

    Parameters
    ----------
    store:
        The store.
    month:
        ``YYYY-MM``; ``None``: the latest month with data.
    config:
        Assumptions; ``None`` reads ``keepwise.toml``.

    Returns
    -------
    dict
        ``title``; ``sentences`` (plain-words findings); ``figure`` (the whale curve, a Plotly figure, of the
        trailing twelve months: one month is too noisy to rank customers on); ``month`` and ``ttm`` (the
        :func:`~keepwise.value.review_section.profit_document` of the month and of the trailing twelve months,
        without the customer lists); ``least_profitable`` (the 10 customers with the lowest twelve-month
        profit, lowest first, with their figures); ``assumptions``; ``currency``; and ``notes`` (the inputs
        the figures lacked, :class:`keepwise.store.inventory.Note` as JSON: unit costs, time logs, ...).
    """
    cfg, _ = resolve_currency(store, config or load_config())
    cur = reporting_currency(store, cfg)  # resolved above: the setting, or the one currency of the data
    month = month or latest_month(store)
    previous = month_label(parse_month(month) - 1)  # tier movement compares each view with a month earlier
    plan_periods(store, [period(m, v) for m in (month, previous) for v in ("month", "ttm")])
    this = profit_document(store, month, view="month", config=cfg, customers=False)
    twelve = document_parts(store, month, view="ttm", config=cfg, customers=False, least=10, curve=True)
    ttm, curve, headline = twelve.document, twelve.curve, twelve.headline
    assert curve is not None and twelve.least is not None
    figure = whale_figure(curve, headline, currency=cur)
    worst = twelve.least.iloc[::-1]  # the twelve months' 10 least profitable customers, lowest first
    t = {k: shown(v, cur) for k, v in this["totals"].items()}
    missing = {n["input"] for n in this.get("notes", [])}
    serving = (
        "no staff time is recorded, so cost to serve is left out"
        if missing & {"time_logs", "staff_rates"}
        else f"serving them took {t['cost_to_serve']} of staff time"
    )
    conceded = f"{t['concessions']} of concessions"
    if "incidents" in missing:
        conceded = "no concessions are recorded"
    advocacy = "" if "advocacy" in missing else f" (plus {t['advocacy_value']} of advocacy value)"
    sentences = [
        f"In {this['month']} customers brought {t['revenue']} of revenue and {t['gross_margin']} "
        f"of gross margin{_margin_words(this)}; {serving} and {conceded}, leaving "
        f"{t['operating_profit']} of operating profit{advocacy}.",
        f"Over the last twelve months: {headline.sentence}",
    ]
    if not missing & {"time_logs", "staff_rates"}:
        cap = this["unused_capacity"]
        sentences.append(capacity_words(cap["minutes"], cap["cost"], cur, this["month"]))
    mv = ttm.get("movement")
    if mv:
        sentences.append(
            f"Tiers on twelve-month profit, against {mv['compared_with']}: {mv['up']} customers moved up, "
            f"{mv['down']} moved down, {mv['new']} are new and {mv['gone']} dropped out."
        )
    return {
        "title": "Customer profitability",
        "sentences": sentences,
        "figure": figure,
        "month": this,
        "ttm": ttm,
        "least_profitable": customer_rows(worst) if len(worst) else [],
        "assumptions": this["assumptions"],
        "currency": cur,
        "notes": _notes(this, ttm),
    }


def _margin_words(doc: dict[str, Any]) -> str:
    """`` (no unit costs recorded: margin shown is revenue)`` and the like, from the document's cost note."""
    cost = next((n for n in doc.get("notes", []) if n["input"] == "orders.unit_cost"), None)
    if cost is None:
        return ""
    if cost["instead"] == MARGIN_IS_REVENUE:
        return f" ({MARGIN_IS_REVENUE})"
    return f" ({cost['missing']}: {cost['instead']})"


def _notes(*docs: dict[str, Any]) -> list[dict[str, str]]:
    """The notes of the documents, each once (the month's and the twelve months' mostly agree)."""
    seen: dict[tuple[str, str], dict[str, str]] = {}
    for doc in docs:
        for n in doc.get("notes", []):
            seen.setdefault((n["input"], n["missing"]), n)
    return list(seen.values())


def read(ctx: ReviewContext) -> dict[str, Any]:
    """What the section shows, from the value stage (:func:`profitability_section` of the review month)."""
    return profitability_section(ctx.store, ctx.period.month, ctx.config)


def _plain(value: Any) -> Any:
    """``value`` as JSON data: dates ISO 8601, anything else JSON does not know as its string."""
    return json.loads(
        json.dumps(value, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v))
    )


def section(ctx: ReviewContext) -> Section:
    """The sentences, the whale curve of the twelve months and the data of both documents."""
    doc = ctx.profit
    sentences = [str(x) for x in doc.get("sentences", [])]
    html = "".join(f"<p>{figures.escape(x)}</p>" for x in sentences)
    if doc.get("figure") is not None:
        html += figures.fragment(doc["figure"], "fig-profitability")
    notes = doc.get("notes", [])
    if notes:
        items = "".join(
            "<li>" + str(figures.escape(f"{n['input']}: {n['missing']}; {n['instead']}")) + "</li>"
            for n in notes
        )
        html += f"<p class='rule'>Inputs missing or assumed:</p><ul class='notes'>{items}</ul>"
    return Section(
        key=KEY,
        title=str(doc.get("title", "Profitability")),
        headline=sentences[0] if sentences else "Profitability",
        data=_plain({k: v for k, v in doc.items() if k != "figure"}),
        html=html,
    )
