"""The review's "Warning signs" section: the signals stage's warnings, ranked by value at risk."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from keepwise.money import shown
from keepwise.report import figures
from keepwise.report.section import Section
from keepwise.signals import KINDS
from keepwise.signals.inputs import money
from keepwise.value.profitability import reporting_currency

if TYPE_CHECKING:
    from keepwise.review import ReviewContext

__all__ = ["KEY", "READS", "section"]

KEY = "warnings"
#: The stage result the section reads (:class:`keepwise.review.ReviewContext` attribute).
READS = "signals"


def section(ctx: ReviewContext) -> Section:
    """Warnings per kind (bars), the 50 largest in a table, every warning in the JSON and the store."""
    w = ctx.signals.warnings
    cur = reporting_currency(
        ctx.store, ctx.config
    )  # the one currency of the data when [value] does not set it
    per_customer = w.drop_duplicates("customer_id")
    n_customers = len(per_customer)
    worth = sum(per_customer["annual_margin"], Decimal(0))
    at_risk = sum(w["value_at_risk"], Decimal(0))
    by_kind = {
        k: {
            "count": int((w["kind"] == k).sum()),
            "value_at_risk": str(money(sum(w.loc[w["kind"] == k, "value_at_risk"], Decimal(0)))),
        }
        for k in KINDS
    }
    if n_customers:
        headline = (
            f"{n_customers:,} customers worth {figures.money_text(worth, cur)} a year in margin show warning "
            f"signs; {figures.money_text(at_risk, cur)} of it is at risk"
        )
    else:
        headline = "No customer shows warning signs this month"
    data = [
        {
            "customer_id": r["customer_id"],
            "kind": r["kind"],
            "evidence": r["evidence"],
            "value_at_risk": str(r["value_at_risk"]),
        }
        for r in w.to_dict("records")
    ]
    top = w.head(50)
    html = figures.fragment(figures.warnings_bar(by_kind, cur), "fig-warnings") + figures.html_table(
        ["#", "customer", "warning", "evidence", "value at risk / year"],
        [
            (r["rank"], r["customer_id"], r["kind"], r["evidence"], shown(r["value_at_risk"], cur))
            for r in top.to_dict("records")
        ],
        numeric=(0, 4),
    )
    if len(w) > len(top):
        html += f"<p>The {len(top)} largest of {len(w):,} warnings; all are in the JSON and the store.</p>"
    table = w.assign(
        value_at_risk=w["value_at_risk"].map(str), annual_margin=w["annual_margin"].map(str)
    ).drop(columns=["p_value"])
    return Section(
        key=KEY,
        title="Warning signs",
        headline=headline,
        data=data,
        html=html,
        tables={"warnings": table},
    )
