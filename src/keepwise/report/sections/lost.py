"""The review's "Customers lost" section: the signals stage's ledger of the twelve months to the month."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from keepwise.money import shown
from keepwise.report import figures
from keepwise.report.section import Section
from keepwise.value.profitability import reporting_currency

if TYPE_CHECKING:
    from keepwise.review import ReviewContext
    from keepwise.signals.ledger import Ledger

__all__ = ["KEY", "READS", "section"]

KEY = "lost"
#: The stage result the section reads (:class:`keepwise.review.ReviewContext` attribute).
READS = "signals"


def _headline(ledger: Ledger, currency: str) -> str:
    """One sentence: how many were lost, the margin a year they took, their lifetime value and replacement."""
    if not ledger.count:
        return "No customer was lost in the last 12 months"

    def money(amount: object) -> str:
        return figures.money_text(amount, currency)

    text = (
        f"{ledger.count:,} customers were lost in the last 12 months ({100 * ledger.rate:.1f}% of those at "
        f"risk), taking {money(ledger.annual_margin_lost)} of margin a year with them (what they brought a "
        "year while they bought"
    )
    if ledger.one_time_buyers:
        text += f"; {ledger.one_time_buyers:,} bought once and are valued by that one purchase"
    text += ")"
    if ledger.business_margin is not None:
        text += f"; the whole business made {money(ledger.business_margin)} of margin in those 12 months"
    if ledger.discounted_value_lost is not None:
        text += (
            f"; lifetime value lost {money(ledger.discounted_value_lost)} discounted, by the purchase model "
            f"({money(ledger.simple_value_lost or 0)} as margin a year x "
            f"{ledger.rules.lifetime_years} years, undiscounted)"
        )
    else:
        text += "; their lifetime value is not estimated without the purchase model"
    if ledger.replacement_cost is None:
        text += "; replacing them costs an unknown amount (no acquisition costs recorded)"
    else:
        text += f"; replacing them costs {money(ledger.replacement_cost)}"
    return text


def section(ctx: ReviewContext) -> Section:
    """Who was lost, why (Pareto of reasons), the competitors named and what it cost."""
    ledger = ctx.signals.ledger
    cur = reporting_currency(ctx.store, ctx.config)  # the data's one currency when [value] sets none
    headline = _headline(ledger, cur)
    data = ledger.to_json()
    comp = ", ".join(f"{k} ({v})" for k, v in ledger.competitors.items()) or "none named"
    method = ledger.discounted_method or "not estimated (no purchase model)"
    rows = ledger.customers.assign(_sort=[float(v) for v in ledger.customers["annual_margin"]])
    html = (
        figures.fragment(figures.reasons_pareto(ledger.by_reason), "fig-reasons")
        + f"<p>Competitors named: {figures.escape(comp)}.</p>"
        + f"<p class='rule'>Rule: {figures.escape(data['rule'])}. Margin a year: "
        + f"{figures.escape(data['annual_margin_rule'])}. Lifetime value: {figures.escape(method)}.</p>"
        + figures.html_table(
            [
                "customer",
                "lost on",
                "how",
                "reason",
                "competitor",
                "margin / year",
                "valued by",
                "lifetime value (discounted)",
            ],
            [
                (
                    r["customer_id"],
                    pd.Timestamp(r["lost_at"]).date().isoformat(),
                    r["how"],
                    r["reason"],
                    r["competitor"] or "",
                    shown(r["annual_margin"], cur),
                    r["basis"],
                    "" if r["discounted_value"] is None else shown(r["discounted_value"], cur),
                )
                for r in rows.sort_values(["_sort", "customer_id"], ascending=[False, True])
                .head(50)
                .to_dict("records")
            ],
            numeric=(5, 7),
        )
    )
    table = ledger.customers.assign(
        **{  # the JSON's texts (the same strings), None also for a value that is not a number
            c: pd.Series(
                [
                    None if t is None or v != v else t
                    for t, v in zip(ledger.money_text(c), ledger.customers[c], strict=True)
                ],
                index=ledger.customers.index,
                dtype=object,
            )
            for c in ("monthly_margin", "annual_margin", "simple_value", "discounted_value")
        }
    )
    return Section(
        key=KEY, title="Customers lost", headline=headline, data=data, html=html, tables={"lost": table}
    )
