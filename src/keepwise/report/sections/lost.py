"""The review's "Customers lost" section: the signals stage's ledger of the twelve months to the month."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from keepwise.report import figures
from keepwise.report.section import Section

if TYPE_CHECKING:
    from keepwise.review import ReviewContext

__all__ = ["KEY", "READS", "section"]

KEY = "lost"
#: The stage result the section reads (:class:`keepwise.review.ReviewContext` attribute).
READS = "signals"


def section(ctx: ReviewContext) -> Section:
    """Who was lost, why (Pareto of reasons), the competitors named and what it cost."""
    ledger = ctx.signals.ledger
    if ledger.count:
        headline = (
            f"{ledger.count:,} customers were lost in the last 12 months ({100 * ledger.rate:.1f}% of those "
            f"at risk), taking {figures.money_text(ledger.annual_margin_lost)} of margin a year with them; "
            f"lifetime value lost {figures.money_text(ledger.simple_value_lost)} "
            f"({figures.money_text(ledger.discounted_value_lost)} discounted), and replacing them costs "
            f"{figures.money_text(ledger.replacement_cost)}"
        )
    else:
        headline = "No customer was lost in the last 12 months"
    data = ledger.to_json()
    comp = ", ".join(f"{k} ({v})" for k, v in ledger.competitors.items()) or "none named"
    html = (
        figures.fragment(figures.reasons_pareto(ledger.by_reason), "fig-reasons")
        + f"<p>Competitors named: {figures.escape(comp)}.</p>"
        + f"<p class='rule'>Rule: {figures.escape(data['rule'])}. Discounted value: "
        + f"{figures.escape(ledger.discounted_method)}.</p>"
        + figures.html_table(
            [
                "customer",
                "lost on",
                "how",
                "reason",
                "competitor",
                "margin / year",
                "lifetime value (simple)",
            ],
            [
                (
                    r["customer_id"],
                    pd.Timestamp(r["lost_at"]).date().isoformat(),
                    r["how"],
                    r["reason"],
                    r["competitor"] or "",
                    f"${r['annual_margin']:,}",
                    f"${r['simple_value']:,}",
                )
                for r in ledger.customers.sort_values("simple_value", ascending=False)
                .head(50)
                .to_dict("records")
            ],
            numeric=(5, 6),
        )
    )
    table = ledger.customers.assign(
        **{
            c: ledger.customers[c].map(str)
            for c in ("monthly_margin", "annual_margin", "simple_value", "discounted_value")
        }
    )
    return Section(
        key=KEY, title="Customers lost", headline=headline, data=data, html=html, tables={"lost": table}
    )
