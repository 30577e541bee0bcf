"""Plots users of BTYD models expect, with matplotlib: each ``plot_x(model, ..., ax=None) -> Axes``.

Every function draws into ``ax`` (or a new figure's axes), sets a title and axis labels and returns the axes,
so callers (and tests) can read back what was drawn.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from keepwise.models.validation import holdout_comparison, p_alive_history

if TYPE_CHECKING:
    from matplotlib.axes import Axes


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 5))[1]


def _grid(
    model: Any, T: float | None, max_frequency: int | None, max_recency: float | None
) -> tuple[Any, ...]:
    T = float(T if T is not None else 52.0)
    max_frequency = int(max_frequency if max_frequency is not None else 30)
    max_recency = float(max_recency if max_recency is not None else T)
    f = np.arange(max_frequency + 1, dtype=float)
    r = np.linspace(0.0, min(max_recency, T), 40)
    F, R = np.meshgrid(f, r, indexing="ij")
    R = np.where(F == 0, 0.0, R)
    return F, R, T, r


def frequency_recency_matrix(
    model: Any,
    t: float = 1.0,
    T: float | None = None,
    max_frequency: int | None = None,
    max_recency: float | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Expected purchases in the next ``t`` periods by frequency and recency at age ``T``."""
    F, R, T_, r = _grid(model, T, max_frequency, max_recency)
    Z = model.conditional_expected_number_of_purchases_up_to_time(
        t, F.ravel(), R.ravel(), np.full(F.size, T_)
    )
    return F[:, 0], r, np.asarray(Z).reshape(F.shape)


def probability_alive_matrix(
    model: Any, T: float | None = None, max_frequency: int | None = None, max_recency: float | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """P(alive) on a frequency x recency grid for a customer of age ``T``."""
    F, R, T_, r = _grid(model, T, max_frequency, max_recency)
    Z = model.conditional_probability_alive(F.ravel(), R.ravel(), np.full(F.size, T_))
    return F[:, 0], r, np.asarray(Z).reshape(F.shape)


def _heatmap(ax: Axes, f: np.ndarray, r: np.ndarray, Z: np.ndarray, title: str, label: str) -> Axes:
    im = ax.imshow(
        Z,
        origin="lower",
        aspect="auto",
        cmap="viridis",
        extent=(float(r[0]), float(r[-1]), float(f[0]) - 0.5, float(f[-1]) + 0.5),
    )
    ax.figure.colorbar(im, ax=ax, label=label)
    ax.set_title(title)
    ax.set_xlabel("Recency (time of last purchase)")
    ax.set_ylabel("Frequency (repeat purchases)")
    return ax


def plot_frequency_recency_matrix(
    model: Any,
    t: float = 1.0,
    T: float | None = None,
    max_frequency: int | None = None,
    max_recency: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Heat map of expected purchases in the next ``t`` periods by frequency and recency."""
    f, r, Z = frequency_recency_matrix(model, t, T, max_frequency, max_recency)
    return _heatmap(_axes(ax), f, r, Z, f"Expected purchases in the next {t:g} periods", "Expected purchases")


def plot_probability_alive_matrix(
    model: Any,
    T: float | None = None,
    max_frequency: int | None = None,
    max_recency: float | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Heat map of P(alive) by frequency and recency."""
    f, r, Z = probability_alive_matrix(model, T, max_frequency, max_recency)
    return _heatmap(_axes(ax), f, r, Z, "Probability a customer is alive", "P(alive)")


def plot_calibration_purchases_vs_holdout_purchases(
    model: Any, cal_holdout: pd.DataFrame, max_frequency: int = 7, ax: Axes | None = None
) -> Axes:
    """Mean holdout purchases, actual and predicted, by number of calibration purchases."""
    ax = _axes(ax)
    table = holdout_comparison(model, cal_holdout, max_frequency).drop(index="total")
    x = np.arange(len(table))
    ax.plot(x, table["actual"].to_numpy(), marker="o", label="Actual")
    ax.plot(x, table["predicted"].to_numpy(), marker="s", linestyle="--", label="Model")
    ax.set_xticks(x, list(table.index))
    ax.set_title("Actual vs predicted purchases in the holdout period")
    ax.set_xlabel("Purchases in the calibration period")
    ax.set_ylabel("Mean purchases in the holdout period")
    ax.legend()
    return ax


def plot_history_alive(
    model: Any, purchase_times: Any, until: float, step: float = 1.0, ax: Axes | None = None
) -> Axes:
    """P(alive) of one customer over time, with their repeat purchases marked."""
    ax = _axes(ax)
    h = p_alive_history(model, purchase_times, until, step)
    ax.plot(h["T"].to_numpy(), h["p_alive"].to_numpy(), label="P(alive)")
    times = np.asarray(purchase_times, dtype=float)
    for t in times[times <= until]:
        ax.axvline(float(t), color="grey", linestyle=":", linewidth=1)
    ax.set_ylim(0, 1.05)
    ax.set_title("History of P(alive)")
    ax.set_xlabel("Time since first purchase")
    ax.set_ylabel("P(alive)")
    return ax


def plot_cumulative_transactions(
    model: Any, tracking: pd.DataFrame, calibration_end: float | None = None, ax: Axes | None = None
) -> Axes:
    """Cumulative repeat purchases, actual vs model, by period (``tracking`` from ``tracking_table``)."""
    ax = _axes(ax)
    ax.plot(tracking["t"].to_numpy(), tracking["actual"].to_numpy(), label="Actual")
    ax.plot(tracking["t"].to_numpy(), tracking["predicted"].to_numpy(), linestyle="--", label="Model")
    if calibration_end is not None:
        ax.axvline(calibration_end, color="grey", linestyle=":", label="End of calibration")
    ax.set_title("Tracking cumulative repeat purchases")
    ax.set_xlabel("Periods since start")
    ax.set_ylabel("Cumulative repeat purchases")
    ax.legend()
    return ax


def plot_retention_curve(
    model: Any, kaplan_meier: Any | None = None, periods: int | None = None, ax: Axes | None = None
) -> Axes:
    """Share of a cohort still subscribed by period: the sBG model's S(t) and, if given, Kaplan-Meier's."""
    ax = _axes(ax)
    if periods is None:
        periods = int(kaplan_meier.survival_function_.index.max()) if kaplan_meier is not None else 12
    t = np.arange(0, periods + 1, dtype=float)
    ax.plot(t, model.survival_function(t), marker="o", label="sBG model")
    if kaplan_meier is not None:
        sf = kaplan_meier.survival_function_
        times = np.concatenate([[0.0], sf.index.to_numpy(dtype=float)])
        surv = np.concatenate([[1.0], sf["survival"].to_numpy()])
        ax.step(times, surv, where="post", label="Kaplan-Meier")
    ax.set_ylim(0, 1.05)
    ax.set_title("Retention: share of the cohort still active")
    ax.set_xlabel("Periods since start")
    ax.set_ylabel("Share still active")
    ax.legend()
    return ax
