"""The review's "Customers lost" section: the signals stage's ledger of the twelve months to the month."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from keepwise.money import shown
from keepwise.report import figures
from keepwise.report.section import Section
from keepwise.store.inventory import inventory
from keepwise.value.profitability import reporting_currency

if TYPE_CHECKING:
    from keepwise.review import ReviewContext

__all__ = ["KEY", "READS", "section"]

KEY = "lost"
#: The stage result the section reads (:class:`keepwise.review.ReviewContext` attribute).
READS = "signals"


def section(ctx: ReviewContext) -> Section:
    """Who was lost, why (Pareto of reasons), the competitors named and what it cost."""
    ledger = ctx.signals.ledger
    cur = reporting_currency(
        ctx.store, ctx.config
    )  # the one currency of the data when [value] does not set it
    # no acquisition cost recorded: the cost of replacing them is unknown, never 0 (issue 15)
    replacing = (
        figures.money_text(ledger.replacement_cost, cur)
        if inventory(ctx.store).has("customers.acquisition_cost")
        else "an unknown amount (no acquisition costs are recorded)"
    )
    if ledger.count:
        headline = (
            f"{ledger.count:,} customers were lost in the last 12 months ({100 * ledger.rate:.1f}% of those "
            f"at risk), taking {figures.money_text(ledger.annual_margin_lost, cur)} of margin a year with "
            "them; "
            f"lifetime value lost {figures.money_text(ledger.simple_value_lost, cur)} "
            f"({figures.money_text(ledger.discounted_value_lost, cur)} discounted), and replacing them costs "
            f"{replacing}"
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
                    shown(r["annual_margin"], cur),
                    shown(r["simple_value"], cur),
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
