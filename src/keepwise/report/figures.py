"""Plotly figures and small HTML tables for the review report (the page embeds plotly.js once)."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from keepwise.charts import escape, fragment, html_table, money_text

__all__ = [
    "cohort_heatmap",
    "escape",
    "fragment",
    "html_table",
    "lost_by_month",
    "money_text",
    "reasons_pareto",
    "trend_chart",
    "warnings_bar",
]


def warnings_bar(by_kind: dict[str, dict[str, Any]], currency: str = "USD") -> go.Figure:
    """Warnings per kind: customers (bars) with the value at risk (in ``currency``) in the hover text."""
    kinds = list(by_kind)
    fig = go.Figure(
        go.Bar(
            x=kinds,
            y=[by_kind[k]["count"] for k in kinds],
            text=[money_text(by_kind[k]["value_at_risk"], currency) for k in kinds],
            hovertemplate="%{x}: %{y} customers, %{text} a year at risk<extra></extra>",
            marker_color="#c0504d",
        )
    )
    fig.update_layout(
        title="Warning signs by kind",
        xaxis_title="warning",
        yaxis_title="customers",
        height=360,
        margin={"t": 50},
    )
    return fig


def reasons_pareto(by_reason: dict[str, int]) -> go.Figure:
    """Pareto chart of exit reasons: counts (bars, largest first) and the cumulative share (line)."""
    reasons = list(by_reason)
    counts = [by_reason[r] for r in reasons]
    total = sum(counts) or 1
    cum, run = [], 0
    for c in counts:
        run += c
        cum.append(100 * run / total)
    fig = go.Figure()
    fig.add_bar(x=reasons, y=counts, name="customers lost", marker_color="#4f81bd")
    fig.add_scatter(
        x=reasons, y=cum, name="cumulative %", yaxis="y2", mode="lines+markers", marker_color="#c0504d"
    )
    fig.update_layout(
        title="Why customers left (Pareto)",
        xaxis_title="reason",
        yaxis={"title": "customers lost"},
        yaxis2={"title": "cumulative %", "overlaying": "y", "side": "right", "range": [0, 105]},
        height=380,
        margin={"t": 50},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


#: One colour per exit reason (cycled), so a reason keeps its colour from chart to chart.
REASON_COLOURS = ("#4f81bd", "#c0504d", "#9bbb59", "#8064a2", "#4bacc6", "#f79646", "#2c4d75", "#772c2a")


def lost_by_month(months: list[str], by_reason: dict[str, list[int]]) -> go.Figure:
    """Customers lost each month, stacked by exit reason (``by_reason``: each reason's count per month)."""
    fig = go.Figure()
    for i, (reason, counts) in enumerate(by_reason.items()):
        fig.add_bar(
            x=months,
            y=counts,
            name=reason,
            marker_color=REASON_COLOURS[i % len(REASON_COLOURS)],
            hovertemplate=f"%{{x}}: %{{y}} lost ({escape(reason)})<extra></extra>",
        )
    fig.update_layout(
        title="Customers lost each month, by reason",
        barmode="stack",
        xaxis_title="month lost",
        yaxis_title="customers lost",
        xaxis={"type": "category"},
        height=380,
        margin={"t": 50},
        legend={"orientation": "h", "y": -0.25, "traceorder": "normal"},
    )
    return fig


def cohort_heatmap(rows: list[dict[str, Any]]) -> go.Figure:
    """Cohort heat map: share of each acquisition cohort buying k months after their first month."""
    cohorts = sorted({r["cohort"] for r in rows})
    ks = sorted({r["months_since"] for r in rows})
    grid: list[list[float | None]] = [[None] * len(ks) for _ in cohorts]
    ci = {c: i for i, c in enumerate(cohorts)}
    ki = {k: i for i, k in enumerate(ks)}
    for r in rows:
        grid[ci[r["cohort"]]][ki[r["months_since"]]] = round(100 * r["retention"], 1)
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=ks,
            y=cohorts,
            colorscale="Blues",
            zmin=0,
            zmax=100,
            colorbar={"title": "% active"},
            hovertemplate="cohort %{y}, month %{x}: %{z}% bought<extra></extra>",
        )
    )
    fig.update_layout(
        title="Retention by acquisition cohort (% of the cohort buying in the month)",
        xaxis_title="months since first purchase",
        yaxis_title="cohort (month of first purchase)",
        yaxis={"autorange": "reversed"},
        height=440,
        margin={"t": 50},
    )
    return fig


def _pct(rate: float | None) -> float | None:
    return None if rate is None else 100 * rate


def trend_chart(monthly: list[dict[str, Any]]) -> go.Figure:
    """Monthly no-purchase rate (line: last month's buyers who did not buy this month) and reactivations."""
    months = [m["month"] for m in monthly]
    fig = go.Figure()
    fig.add_bar(
        x=months, y=[m["reactivated"] for m in monthly], name="reactivated customers", marker_color="#9bbb59"
    )
    fig.add_scatter(
        x=months,
        y=[
            _pct(m.get("no_purchase_rate", m.get("churn_rate"))) for m in monthly
        ],  # churn_rate: before issue 17
        name="no purchase this month %",
        yaxis="y2",
        mode="lines+markers",
        marker_color="#c0504d",
    )
    fig.update_layout(
        title="Last month's buyers who did not buy this month, and reactivations",
        xaxis_title="month",
        yaxis={"title": "reactivated customers"},
        yaxis2={"title": "no purchase this month %", "overlaying": "y", "side": "right"},
        height=380,
        margin={"t": 50},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig
