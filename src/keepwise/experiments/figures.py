"""An experiment's effects drawn: each arm's lift on each metric against the control, with its interval."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

__all__ = ["effects_figure"]


def effects_figure(results: dict[str, Any], title: str = "") -> go.Figure:
    """Relative lift of every (arm, metric) with its interval, from ``analyze --details --json``'s document.

    Lifts put metrics of different units (a share retained, money per customer) on one axis; a point whose
    interval crosses the zero line is not distinguishable from no effect at the analysis' confidence.
    """
    comps = [c for c in results.get("comparisons", []) if c.get("relative_lift") is not None]
    labels = [f"{c['arm']}: {c['metric']}" for c in comps]
    lift = [100 * c["relative_lift"] for c in comps]

    def bound(c: dict[str, Any], key: str) -> float:
        value = c.get(key)
        return 100 * float(c["relative_lift"] if value is None else value)

    low = [bound(c, "lift_ci_low") for c in comps]
    high = [bound(c, "lift_ci_high") for c in comps]
    conf = f"{1 - float(results.get('alpha', 0.05)):.0%}"
    fig = go.Figure(
        go.Scatter(
            x=lift,
            y=labels,
            mode="markers",
            marker={"size": 10, "color": "#1f3a5f"},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [h - m for h, m in zip(high, lift, strict=True)],
                "arrayminus": [m - lo for m, lo in zip(lift, low, strict=True)],
            },
            hovertemplate="%{y}: %{x:.1f}%<extra></extra>",
            name="lift",
        )
    )
    fig.add_vline(x=0, line={"color": "#999", "dash": "dash"})
    fig.update_layout(
        title=title or f"Lift against the control, with {conf} intervals",
        xaxis_title="relative lift (%)",
        height=120 + 40 * max(len(comps), 1),
        margin={"l": 160, "r": 30, "t": 60, "b": 50},
        showlegend=False,
    )
    fig.update_yaxes(autorange="reversed")
    return fig
