"""The whale curve: cumulative profit against customers ranked from most to least profitable.

The curve rises through the profitable customers to a peak well above 100% of total profit and falls back to
100% through the loss-making ones (Kaplan and Cooper, *Cost and Effect*, Harvard Business School Press 1998;
Kaplan and Narayanan, "Measuring and Managing Customer Profitability", Journal of Cost Management 2001: "the
most profitable 20% of customers generate between 150% and 300% of total profits"). Its headline figures:
the top N% of customers (those with positive profit, where the curve peaks) earn X% of profit; the bottom M%
(those with negative profit) destroy Y% of it.

The ranking and the running sum are window functions in the engine; only the headline figures and a few
hundred points of the curve come back to Python.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa

from keepwise.store import memo

__all__ = [
    "WhaleHeadline",
    "curve_of",
    "headline_of",
    "plot_whale",
    "wanted_ranks",
    "whale_curve",
    "whale_figure",
]

X_TITLE = "Customers ranked by profit, most profitable first (cumulative % of customers)"
Y_TITLE = "Cumulative profit (% of total profit)"
TITLE = "Whale curve"


@dataclass(frozen=True)
class WhaleHeadline:
    """The figures a manager reads off the whale curve.

    Shares are percentages rounded to 0.1; profit shares are ``None`` when total profit is not positive (a
    share of a loss has no meaning).
    """

    customers: int
    total_profit: Decimal
    peak_customer_share: float
    peak_profit_share: float | None
    loss_customer_share: float
    loss_profit_share: float | None
    top20_profit_share: float | None
    sentence: str

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON (money as a string with 2 decimals)."""
        d = asdict(self)
        d["total_profit"] = f"{self.total_profit:.2f}"
        return d


def _pct(x: float) -> str:
    return f"{x:.1f}%" if abs(x) < 10 else f"{x:.0f}%"


def _share(part: Decimal, whole: Decimal) -> float | None:
    if whole <= 0:
        return None
    return round(float(part / whole * 100), 1)


def whale_curve(ledger: ir.Table | pd.DataFrame, *, points: int = 400) -> tuple[pd.DataFrame, WhaleHeadline]:
    """The whale curve of per-customer profit and its headline figures.

    Parameters
    ----------
    ledger:
        One row per customer with ``customer_id`` and ``profit``: an Ibis expression (e.g.
        :func:`keepwise.value.profitability.customer_ledger`) or a DataFrame.
    points:
        About how many points of the curve to return (the peak and both ends are always among them).

    Returns
    -------
    curve : pandas.DataFrame
        ``rank`` (0 for the origin), ``customer_share`` (% of customers up to this rank),
        ``cumulative_profit`` (Decimal) and ``profit_share`` (% of total profit, NaN if total profit is not
        positive), ordered by rank.
    headline : WhaleHeadline
        The headline figures and the sentence that states them.
    """
    if not isinstance(ledger, pd.DataFrame):
        cache = _run_cache(ledger)
        if cache is not None:  # in a run (a review) the same ledger's curve is asked for more than once
            key = ("whale_curve", ledger.op(), points)
            if key not in cache:
                cache[key] = _whale_curve(ledger, points)
            curve, headline = cache[key]
            return curve.copy(), headline
    return _whale_curve(ledger, points)


def _run_cache(ledger: ir.Table) -> dict[Any, Any] | None:
    """The cache of the run (:func:`keepwise.store.memo.one_run`) the ledger's engine is in, if any."""
    try:
        backend = ledger._find_backend()
    except Exception:  # an expression of in-memory tables only: no engine, no run
        return None
    return memo.active(backend)


def _whale_curve(ledger: ir.Table | pd.DataFrame, points: int) -> tuple[pd.DataFrame, WhaleHeadline]:
    """:func:`whale_curve`, computed."""
    if isinstance(ledger, pd.DataFrame):
        data = ledger[["customer_id", "profit"]].assign(profit=lambda d: d["profit"].map(str))
        t = ibis.memtable(data)
        t = t.mutate(profit=t.profit.cast("decimal(18, 4)"))
    else:
        t = ledger.select("customer_id", "profit")
    order = [ibis.desc(t.profit), ibis.asc(t.customer_id)]
    ranked = t.mutate(rank=(ibis.row_number().over(order_by=order) + 1).cast("int64"), n=t.count().over())
    stats = ranked.aggregate(  # one query for every headline figure
        n=ranked.count(),
        total=ranked.profit.sum(),
        n_pos=(ranked.profit > 0).sum(),
        pos=ranked.profit.sum(where=ranked.profit > 0),
        n_neg=(ranked.profit < 0).sum(),
        neg=ranked.profit.sum(where=ranked.profit < 0),
        top20=ranked.profit.sum(where=ranked["rank"] <= (ranked.n * 0.2).round(6).ceil()),
    )
    s = stats.to_pyarrow().to_pylist()[0]
    headline = headline_of(s)
    n, total = headline.customers, headline.total_profit
    if n == 0:
        return curve_of(None, 0, total), headline
    wanted = wanted_ranks(n, int(s["n_pos"] or 0), points)
    cum = ranked.mutate(cumulative=ranked.profit.cumsum(order_by=order))
    # the wanted ranks as a small table joined on (Ibis builds and compiles a list of 400 literals 3x slower)
    want = ibis.memtable(pa.table({"want_rank": pa.array(wanted, type=pa.int64())}))
    picked = cum.inner_join(want, cum["rank"] == want.want_rank)
    rows = picked.select("rank", "cumulative").to_pyarrow().sort_by("rank").to_pandas()
    return curve_of(rows, n, total), headline


def headline_of(s: dict[str, Any]) -> WhaleHeadline:
    """The headline figures from the curve's sums.

    ``s`` has ``n`` (customers), ``total`` (their profit), ``n_pos`` and ``pos`` (customers with a positive
    profit and its sum), ``n_neg`` and ``neg`` (negative) and ``top20`` (the profit of the top 20%: ranks
    up to ``ceil(n x 0.2)``); a sum over no customer may be ``None``.
    """
    zero = Decimal("0")
    n = int(s["n"] or 0)
    total = s["total"] or zero
    pos, neg = s["pos"] or zero, s["neg"] or zero
    top20_sum = s["top20"] or zero
    n_pos, n_neg = int(s["n_pos"] or 0), int(s["n_neg"] or 0)
    peak_c = round(100 * n_pos / n, 1) if n else 0.0
    loss_c = round(100 * n_neg / n, 1) if n else 0.0
    peak_p = _share(pos, total)
    loss_p = _share(-neg, total)
    if n == 0:
        sentence = "No customer was active in the period."
    elif peak_p is None:
        sentence = (
            f"Total profit is {total:.2f}, not positive, so shares of it mean nothing; "
            f"{_pct(loss_c)} of customers lose money."
        )
    else:
        sentence = f"The top {_pct(peak_c)} of customers earn {_pct(peak_p)} of profit"
        if n_neg:
            sentence += f"; the bottom {_pct(loss_c)} destroy {_pct(loss_p or 0.0)} of it."
        else:
            sentence += "; no customer loses money."
    return WhaleHeadline(
        customers=n,
        total_profit=total,
        peak_customer_share=peak_c,
        peak_profit_share=peak_p,
        loss_customer_share=loss_c,
        loss_profit_share=loss_p,
        top20_profit_share=_share(top20_sum, total),
        sentence=sentence,
    )


def wanted_ranks(n: int, n_pos: int, points: int) -> list[int]:
    """The ranks (1 to ``n``) whose cumulative profit draws the curve: about ``points`` of them.

    Both ends and the peak (the last profitable customer, ``n_pos``, and the one after) are among them.
    """
    wanted = {int(r) for r in np.unique(np.linspace(1, n, num=min(points, n)).round())}
    wanted |= {n_pos, n_pos + 1, n}
    return sorted(r for r in wanted if 1 <= r <= n)


def curve_of(rows: pd.DataFrame | None, n: int, total: Decimal) -> pd.DataFrame:
    """The curve's frame from the picked ranks' ``rank`` and ``cumulative`` (profit), ordered by rank."""
    zero = Decimal("0")
    if rows is None or n == 0:
        return pd.DataFrame(
            {"rank": [0], "customer_share": [0.0], "cumulative_profit": [zero], "profit_share": [0.0]}
        )
    curve = pd.concat([pd.DataFrame({"rank": [0], "cumulative": [zero]}), rows], ignore_index=True).rename(
        columns={"cumulative": "cumulative_profit"}
    )
    curve["rank"] = curve["rank"].astype("int64")
    curve["customer_share"] = 100.0 * curve["rank"] / n
    if total > 0:
        curve["profit_share"] = [float(c / total * 100) for c in curve["cumulative_profit"]]
    else:
        curve["profit_share"] = math.nan
    return curve[["rank", "customer_share", "cumulative_profit", "profit_share"]]


def whale_figure(curve: pd.DataFrame, headline: WhaleHeadline, *, currency: str = "") -> Any:
    """The whale curve as a Plotly figure for the HTML report.

    The curve is cumulative profit as % of total against % of customers; a dashed line marks 100% of profit
    and a marker with a label marks the peak (the top N% earning X%). If total profit is not positive the
    y axis is cumulative profit in money instead.

    Parameters
    ----------
    curve, headline:
        What :func:`whale_curve` returned.
    currency:
        Currency code for the money axis (used only when total profit is not positive).
    """
    import plotly.graph_objects as go

    as_share = headline.peak_profit_share is not None
    y = curve["profit_share"] if as_share else curve["cumulative_profit"].map(float)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(x=curve["customer_share"], y=y, mode="lines", name="Cumulative profit", line={"width": 3})
    )
    if as_share:
        fig.add_hline(
            y=100, line_dash="dash", annotation_text="100% of profit", annotation_position="bottom right"
        )
        fig.add_trace(
            go.Scatter(
                x=[headline.peak_customer_share],
                y=[headline.peak_profit_share],
                mode="markers+text",
                name="Peak",
                text=[
                    f"top {_pct(headline.peak_customer_share)} earn {_pct(headline.peak_profit_share or 0)}"
                ],
                textposition="top center",
                marker={"size": 10},
            )
        )
    fig.update_layout(
        title={"text": f"{TITLE}<br><sub>{headline.sentence}</sub>"},
        xaxis_title=X_TITLE,
        yaxis_title=Y_TITLE if as_share else f"Cumulative profit ({currency})".replace(" ()", ""),
        xaxis={"range": [0, 100], "ticksuffix": "%"},
        yaxis={"ticksuffix": "%" if as_share else ""},
        showlegend=False,
        template="plotly_white",
    )
    return fig


def plot_whale(curve: pd.DataFrame, headline: WhaleHeadline, ax: Any = None) -> Any:
    """The whale curve on a matplotlib ``Axes`` (the same content as :func:`whale_figure`).

    Parameters
    ----------
    curve, headline:
        What :func:`whale_curve` returned.
    ax:
        The axes to draw on; ``None`` makes a new figure.

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 5))
    as_share = headline.peak_profit_share is not None
    y = curve["profit_share"] if as_share else curve["cumulative_profit"].map(float)
    ax.plot(curve["customer_share"], y, linewidth=2, label="Cumulative profit")
    if as_share:
        ax.axhline(100, linestyle="--", color="grey", label="100% of profit")
        ax.plot([headline.peak_customer_share], [headline.peak_profit_share], "o", label="Peak")
    ax.set_xlim(0, 100)
    ax.set_xlabel(X_TITLE)
    ax.set_ylabel(Y_TITLE if as_share else "Cumulative profit")
    ax.set_title(f"{TITLE}\n{headline.sentence}", fontsize=10)
    return ax
