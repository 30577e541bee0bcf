"""The review's "Retention" section: the signals stage's retention metrics, cohort heat map and trend."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from keepwise.report import figures
from keepwise.report.section import Section

if TYPE_CHECKING:
    from keepwise.review import ReviewContext

__all__ = ["KEY", "READS", "section"]

KEY = "metrics"
#: The stage result the section reads (:class:`keepwise.review.ReviewContext` attribute).
READS = "signals"


def section(ctx: ReviewContext) -> Section:
    """Repeat buying, revenue retention and reactivations in one sentence; the cohort heat map and trend."""
    m = ctx.signals.metrics
    churn = m["churn_rate"]
    nrr = m["revenue_retention"]
    parts = []
    if churn is not None:
        parts.append(f"{100 * (1 - churn):.0f}% of last month's buyers bought again this month")
    if nrr is not None:
        parts.append(
            f"customers from a year ago brought {100 * nrr:.0f}% of their revenue of the year before"
        )
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
