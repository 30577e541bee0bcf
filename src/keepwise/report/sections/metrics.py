"""The review's "Retention" section: the signals stage's retention metrics, cohort heat map and trend."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from keepwise.report import figures
from keepwise.report.section import Section
from keepwise.signals.metrics import REVENUE_RETENTION_MONTHS

if TYPE_CHECKING:
    from keepwise.review import ReviewContext

__all__ = ["KEY", "READS", "section"]

KEY = "metrics"
#: The stage result the section reads (:class:`keepwise.review.ReviewContext` attribute).
READS = "signals"


def section(ctx: ReviewContext) -> Section:
    """Repeat buying, revenue retention and reactivations in one sentence; the cohort heat map and trend."""
    m = ctx.signals.metrics
    no_purchase = m.get("no_purchase_rate", m.get("churn_rate"))  # documents saved before issue 17
    nrr = m["revenue_retention"]
    history = m.get("revenue_retention_history_months")
    parts = []
    if no_purchase is not None:
        parts.append(f"{100 * (1 - no_purchase):.0f}% of last month's buyers bought again this month")
    if nrr is not None:
        text = f"customers from a year ago brought {100 * nrr:.0f}% of their revenue of the year before"
        if history is not None and history < REVENUE_RETENTION_MONTHS:
            text += (
                f" (computed on only {history} months of history, not the {REVENUE_RETENTION_MONTHS} it "
                f"needs: the year before covers only {max(history - 12, 0)} of its 12 months)"
            )
        parts.append(text)
    parts.append(f"{m['reactivations']:,} came back after six months or more")
    headline = "; ".join(parts)
    html = figures.fragment(figures.cohort_heatmap(m["cohorts"]), "fig-cohorts") + figures.fragment(
        figures.trend_chart(m["monthly"][-24:]), "fig-trend"
    )
    long = pd.DataFrame(m["cohorts"])
    return Section(
        key=KEY,
        title="Retention",
        headline=headline,
        data=m,
        html=html,
        tables={"metrics": pd.DataFrame(m["monthly"]), "cohorts": long},
    )
