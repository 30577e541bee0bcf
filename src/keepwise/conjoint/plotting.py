"""Plotly figures of a fitted conjoint study: attribute importance, willingness to pay, part-worths.

Each function takes a :class:`~keepwise.conjoint.results.ConjointResult` and returns a
:class:`plotly.graph_objects.Figure` whose data are exactly the numbers of
:func:`~keepwise.conjoint.results.importance`, :func:`~keepwise.conjoint.results.wtp` and
:func:`~keepwise.conjoint.results.part_worths`. Embed them in a page that carries plotly.js (offline, no
CDN) with :func:`keepwise.charts.fragment`.
"""

from __future__ import annotations

import plotly.graph_objects as go

from keepwise.conjoint.hb import HierarchicalBayesMNL
from keepwise.conjoint.results import ConjointResult, importance, part_worths, wtp

__all__ = ["interval_method", "plot_importance", "plot_part_worths", "plot_wtp"]


def interval_method(result: ConjointResult) -> str:
    """How the WTP intervals were computed, in words: delta method (MNL) or posterior draws (HB)."""
    if isinstance(result.model, HierarchicalBayesMNL):
        return "posterior percentiles of the population means (hierarchical Bayes)"
    return "delta method (conditional logit)"


def plot_importance(result: ConjointResult) -> go.Figure:
    """Horizontal bars: each attribute's share of the choice, in percent (most important on top)."""
    table = importance(result).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=table["importance"].tolist(),
            y=table["attribute"].tolist(),
            orientation="h",
            text=[f"{v:.1f}%" for v in table["importance"]],
            textposition="auto",
            hovertemplate="%{y}: %{x:.1f}% of the choice<extra></extra>",
            marker_color="#4f81bd",
        )
    )
    fig.update_layout(
        title="Attribute importance (range of part-worths, % of the total)",
        xaxis_title="importance %",
        yaxis_title="attribute",
        height=max(260, 60 + 45 * len(table)),
        margin={"t": 50, "l": 120},
    )
    return fig


def plot_wtp(result: ConjointResult, price: str | None = None, level: float = 0.95) -> go.Figure:
    """Willingness to pay for each level over its attribute's first level, with its ``level`` interval.

    Intervals are delta-method Wald intervals for a conditional logit and posterior percentiles for
    hierarchical Bayes (see :func:`keepwise.conjoint.results.wtp`).
    """
    table = wtp(result, price, level).iloc[::-1]
    money = f" ({result.currency})" if result.currency else ""
    labels = [f"{a}: {lv}" for a, lv in zip(table["attribute"], table["level"], strict=True)]
    fig = go.Figure(
        go.Scatter(
            x=table["wtp"].tolist(),
            y=labels,
            mode="markers",
            marker={"size": 10, "color": "#c0504d"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (table["upper"] - table["wtp"]).tolist(),
                "arrayminus": (table["wtp"] - table["lower"]).tolist(),
            },
            customdata=table[["lower", "upper"]].to_numpy(),
            hovertemplate="%{y}: %{x:,.2f} (%{customdata[0]:,.2f} to %{customdata[1]:,.2f})<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_color="#999", line_dash="dot")
    fig.update_layout(
        title=f"Willingness to pay{money} with {level:.0%} intervals: {interval_method(result)}",
        xaxis_title=f"willingness to pay{money}",
        yaxis_title="level (vs the attribute's first level)",
        height=max(280, 60 + 40 * len(table)),
        margin={"t": 50, "l": 220},
    )
    return fig


def plot_part_worths(result: ConjointResult) -> go.Figure:
    """Zero-centred part-worths of every level, one colour per attribute (population means for HB)."""
    table = part_worths(result)
    fig = go.Figure()
    for attribute, rows in table.groupby("attribute", sort=False):
        fig.add_bar(
            x=[f"{attribute}: {lv}" for lv in rows["level"]],
            y=rows["part_worth"].tolist(),
            name=str(attribute),
            hovertemplate="%{x}: %{y:.3f}<extra></extra>",
        )
    fig.update_layout(
        title="Part-worths (utility of each level, zero-centred within its attribute)",
        xaxis_title="level",
        yaxis_title="part-worth (utility)",
        height=400,
        margin={"t": 50},
        legend={"orientation": "h", "y": -0.35},
    )
    return fig
