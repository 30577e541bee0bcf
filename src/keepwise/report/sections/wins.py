"""The review's "Why customers choose you, and why they leave" section, and ``keepwise wins --html``'s page.

The section reads the decisions stage's comparison (:func:`keepwise.decisions.wins.wins_against_losses`) over
the twelve months ending with the review month; a store where nobody was won or lost in them (or without the
``wins`` and ``exits`` tables) leaves the section out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import escape

from keepwise.decisions.wins import WinsLosses, wins_against_losses
from keepwise.report import figures
from keepwise.report.section import Section

if TYPE_CHECKING:
    from keepwise.review import ReviewContext

__all__ = ["KEY", "READS", "html", "page", "read", "section"]

KEY = "wins"
#: The stage result the section reads (:class:`keepwise.review.ReviewContext` attribute).
READS = "wins"


def html(result: WinsLosses) -> str:
    """The findings, the table and the chart as an HTML fragment (uses the page's plotly.js)."""
    findings = "".join(f"<li>{escape(x)}</li>" for x in result.findings)
    table = figures.html_table(
        ["reason", "declared strength", "won for it", "% of wins", "lost over it", "% of losses"],
        [
            (
                r.reason,
                "yes" if r.strength else "",
                r.won,
                f"{r.won_share:.1f}%",
                r.lost,
                f"{r.lost_share:.1f}%",
            )
            for r in result.rows
        ],
        numeric=(2, 3, 4, 5),
    )
    counts = (
        f"<p>{result.won_total:,} customers won ({result.won_unknown:,} without a stated reason) and "
        f"{result.lost_total:,} lost ({result.lost_unknown:,} without a stated reason) in the period; shares "
        "are of those who stated a reason.</p>"
    )
    return (
        f"<ul class='findings'>{findings}</ul>"
        + figures.fragment(result.figure(), "fig-wins")
        + table
        + counts
    )


def page(result: WinsLosses) -> str:
    """A self-contained HTML page (plotly.js inline, works offline) for ``keepwise wins --html``."""
    from plotly.offline import get_plotlyjs

    span = f"{result.start:%Y-%m} to {result.month}" if result.start else f"all history to {result.month}"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Wins against losses, {escape(span)}</title>"
        "<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em}"
        "table.data{border-collapse:collapse}table.data td,table.data th{border-bottom:1px solid #ddd;"
        "padding:4px 10px}td.num{text-align:right}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<h1>Why customers choose you, and why they leave</h1><p>{escape(span)}.</p>"
        f"{html(result)}</body></html>\n"
    )


def read(ctx: ReviewContext) -> WinsLosses | None:
    """The twelve months' wins against losses, or ``None`` when the store keeps no wins or exits."""
    if not (ctx.store.has_table("wins") and ctx.store.has_table("exits")):
        return None
    return wins_against_losses(ctx.store, ctx.period.month, months=12, config=ctx.config)


def section(ctx: ReviewContext) -> Section | None:
    """The comparison as a section, or ``None`` when nobody was won or lost in the twelve months."""
    result = ctx.wins
    if result is None or (result.won_total == 0 and result.lost_total == 0):
        return None
    return Section(
        key=KEY,
        title="Why customers choose you, and why they leave",
        headline=result.findings[0],
        data=result.to_json(),
        html=html(result),
    )
