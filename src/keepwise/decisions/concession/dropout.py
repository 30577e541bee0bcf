"""Which drop-out model to value customers with, chosen by how well each predicts the business's own holdout.

The advisor values a customer with a buy-till-you-die model (:class:`~keepwise.decisions.facts.ValueModel`):
how many more weeks they stay and how often they buy meanwhile. One model fitted on every customer is pulled
by customers who buy on a schedule (every month, like clockwork) and never leave: the fitted drop-out
chance piles up near zero and every frequent buyer looks as if they will almost never leave. So the advisor
tries several candidates and keeps the one that predicts best what it can check:

- ``bgnbd``: BG/NBD on every customer (Fader, Hardie and Lee 2005, "Counting your customers the easy way");
- ``bgnbd_by_segment``: BG/NBD fitted separately on the **schedule buyers** and on the rest (only when at
  least ``MIN_SEGMENT`` customers of each kind are found);
- the **fallbacks** ``pareto_nbd`` and ``pareto_nbd_by_segment``: the same with Pareto/NBD (Schmittlein,
  Morrison and Colombo 1987), whose exponential lifetimes do not tie dropping out to buying; tried only when
  no BG/NBD candidate can be fitted on the calibration period. (Competing on the holdout, Pareto/NBD by
  segment predicted the 20-week holdout of one simulated business best and cost the advisor 10 points of the
  oracle's profit at three times the amounts asked, bench/RESULTS.md: a better holdout fit over weeks is not
  a better value over years, so it is not preferred to BG/NBD on the holdout alone.)

A **schedule buyer** has at least ``SCHEDULE_MIN_GAPS`` gaps between purchase days whose coefficient of
variation (sd / mean) is under ``SCHEDULE_MAX_CV``: for a Poisson buyer the gaps are exponential, with a
coefficient of variation near 1, so fewer than 2% of them pass with five gaps and almost none with eight.

**Holdout fit.** The history before the advice is split: the last third (at least ``MIN_HOLDOUT_WEEKS``, at
most ``MAX_HOLDOUT_WEEKS``) is held out, each candidate is fitted on the rest (schedule buyers found in the
calibration part only), and predicts each calibration customer's purchase days in the holdout
(``conditional_expected_number_of_purchases_up_to_time``). The error is the root mean squared error per
customer (frequent buyers, whose value depends most on the drop-out fit, weigh most). Going through the
candidates in the order above, a later one replaces the choice so far only when its squared errors are
smaller, customer by customer, by more than ``Z_BETTER`` standard errors of the paired difference:
otherwise the simpler model is kept. The choice is refitted on the whole history and used. When the history
is too short to hold any out, BG/NBD on every customer is used and the reason says so.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from keepwise.models import BetaGeoModel, ParetoNBDModel

__all__ = [
    "CANDIDATES",
    "FALLBACKS",
    "MIN_SEGMENT",
    "MODELS",
    "SCHEDULE_MAX_CV",
    "SCHEDULE_MIN_GAPS",
    "DropoutChoice",
    "choose_dropout",
    "fit_candidate",
    "schedule_buyers",
]

#: the candidates, simplest first
CANDIDATES: tuple[str, ...] = ("bgnbd", "bgnbd_by_segment")
#: tried (the same way) only when no candidate can be fitted on the calibration period
FALLBACKS: tuple[str, ...] = ("pareto_nbd", "pareto_nbd_by_segment")
#: every model :func:`choose_dropout` knows
MODELS: tuple[str, ...] = CANDIDATES + FALLBACKS
SCHEDULE_MIN_GAPS = 5
SCHEDULE_MAX_CV = 0.3
#: fewest customers in each segment for a segment-aware candidate
MIN_SEGMENT = 30
MIN_HOLDOUT_WEEKS = 8.0
MAX_HOLDOUT_WEEKS = 26.0
#: at least this many weeks of calibration history before the holdout
MIN_CALIBRATION_WEEKS = 16.0
#: a more complex candidate replaces a simpler one only when its holdout errors are smaller by this many
#: standard errors (paired, customer by customer)
Z_BETTER = 1.96
#: L2 penalty on the log-parameters of the schedule buyers' own fit
SCHEDULE_PENALIZER = 0.05
WEEK_SECONDS = 7 * 86_400.0

_MODELS: dict[str, type[Any]] = {"bgnbd": BetaGeoModel, "pareto_nbd": ParetoNBDModel}
_LABELS = {
    "bgnbd": "BG/NBD on every customer",
    "pareto_nbd": "Pareto/NBD on every customer",
    "bgnbd_by_segment": "BG/NBD fitted separately on schedule buyers and the rest",
    "pareto_nbd_by_segment": "Pareto/NBD fitted separately on schedule buyers and the rest",
}


def schedule_buyers(orders: pd.DataFrame, before: pd.Timestamp | datetime) -> set[str]:
    """Customers who buy on a schedule: enough gaps between purchase days, all about the same length.

    Parameters
    ----------
    orders:
        :func:`keepwise.decisions.facts.order_table`.
    before:
        Only purchases before this moment count.
    """
    o = orders[orders["ordered_at"] < pd.Timestamp(before)]
    if o.empty:
        return set()
    days = (
        o.assign(day=o["ordered_at"].dt.floor("D"))[["customer_id", "day"]]
        .drop_duplicates()
        .sort_values(["customer_id", "day"], kind="stable")
    )
    gap = days.groupby("customer_id", sort=False)["day"].diff().dt.total_seconds() / 86_400.0
    g = gap.dropna().groupby(days.loc[gap.notna(), "customer_id"])
    stats = g.agg(["size", "mean", "std"])
    cv = stats["std"] / stats["mean"].where(stats["mean"] > 0)
    flagged = stats.index[(stats["size"] >= SCHEDULE_MIN_GAPS) & (cv < SCHEDULE_MAX_CV)]
    return {str(c) for c in flagged}


@dataclass
class _Fitted:
    """One candidate fitted: the model of the rest (everyone when not by segment) and of schedule buyers."""

    name: str
    rest: Any
    schedule: Any = None
    schedule_ids: set[str] = field(default_factory=set)


def _summary_frame(orders: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    from keepwise.decisions.facts import summaries

    s = summaries(orders, as_of)
    s = s[s["T"] > 0].copy()
    s["customer_id"] = s["customer_id"].astype(str)
    return s


def fit_candidate(name: str, summary: pd.DataFrame, schedule_ids: set[str]) -> _Fitted:
    """Fit one candidate on per-customer summaries (``customer_id``, ``x``, ``t_x``, ``T``, weeks).

    Raises ``ValueError`` for a by-segment candidate when either segment has fewer than ``MIN_SEGMENT``.
    """
    kind = name.removesuffix("_by_segment")
    model = _MODELS[kind]
    if name == kind:
        return _Fitted(name, model().fit(summary["x"], summary["t_x"], summary["T"]))
    on = summary["customer_id"].isin(schedule_ids).to_numpy()
    if on.sum() < MIN_SEGMENT or (~on).sum() < MIN_SEGMENT:
        raise ValueError(f"fewer than {MIN_SEGMENT} schedule buyers or other customers")
    rest, sched = summary[~on], summary[on]
    return _Fitted(
        name,
        model().fit(rest["x"], rest["t_x"], rest["T"]),
        # schedule buyers rarely leave within the history, so their drop-out is barely identified: a small
        # penalty on the log-parameters keeps the fit finite
        model(penalizer=SCHEDULE_PENALIZER).fit(sched["x"], sched["t_x"], sched["T"]),
        set(schedule_ids),
    )


def _predict(fitted: _Fitted, summary: pd.DataFrame, weeks: float) -> np.ndarray:
    out = np.zeros(len(summary))
    on = summary["customer_id"].isin(fitted.schedule_ids).to_numpy() if fitted.schedule is not None else None
    parts = [(fitted.rest, ~on if on is not None else np.ones(len(summary), bool))]
    if on is not None:
        parts.append((fitted.schedule, on))
    for model, rows in parts:
        if rows.any():
            s = summary[rows]
            out[rows] = model.conditional_expected_number_of_purchases_up_to_time(
                weeks, s["x"], s["t_x"], s["T"]
            )
    return out


def _holdout(
    name: str, cal: pd.DataFrame, schedule_ids: set[str], weeks: float, actual: np.ndarray
) -> tuple[dict[str, Any], np.ndarray | None]:
    """One candidate fitted on the calibration summaries: its holdout errors (row) and squared errors."""
    row: dict[str, Any] = {"model": name, "description": _LABELS[name]}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = _predict(fit_candidate(name, cal, schedule_ids), cal, weeks)
        if not np.all(np.isfinite(pred)):
            raise ValueError("its predictions are not finite")
    except Exception as exc:  # a candidate that cannot be fitted is left out, with the reason
        row["error"] = (str(exc) or type(exc).__name__).split(". Things to check")[0]
        return row, None
    err = pred - actual
    row.update(
        rmse=round(float(np.sqrt(np.mean(err**2))), 4),
        mae=round(float(np.mean(np.abs(err))), 4),
        predicted=round(float(pred.sum()), 1),
        actual=round(float(actual.sum()), 1),
    )
    return row, err**2


def _select(rows: list[dict[str, Any]], squared: dict[str, np.ndarray], weeks: float) -> tuple[str, str]:
    """The simplest candidate that no later one beats significantly on the holdout, and why.

    Candidates are taken in order (simplest first); a later one replaces the current choice when its squared
    errors are smaller on average by more than ``Z_BETTER`` standard errors of the paired difference
    (customer by customer). Each row gets ``z``: that statistic against the choice it was compared with.
    """
    names = list(squared)
    if not names:
        return "bgnbd", "no candidate could be fitted on the calibration period: BG/NBD on every customer"
    best = names[0]
    by_name = {r["model"]: r for r in rows}
    for name in names[1:]:
        d = squared[best] - squared[name]
        se = float(np.std(d, ddof=1) / np.sqrt(len(d))) if len(d) > 1 else 0.0
        z = float(np.mean(d) / se) if se > 0 else 0.0
        by_name[name]["compared_with"], by_name[name]["z"] = best, round(z, 2)
        if z > Z_BETTER:
            best = name
    b = by_name[best]
    others = "; ".join(
        f"{r['model']} {r['rmse']:.3f}"
        + (f" (z = {r['z']:.2f} against {r['compared_with']})" if "z" in r else "")
        for r in rows
        if "rmse" in r and r["model"] != best
    )
    return best, (
        f"{_LABELS[best]}: predicting each customer's purchase days in the last {weeks:.0f} weeks of history "
        f"from the weeks before, its root mean squared error is {b['rmse']:.3f} a customer"
        + (
            f" (the others: {others}; a more complex model is chosen only when its squared errors are "
            f"smaller by more than z = {Z_BETTER:g} standard errors)"
            if others
            else ""
        )
    )


@dataclass
class DropoutChoice:
    """The drop-out model chosen for the advice, and how each candidate predicted the holdout.

    ``holdout`` has one row per candidate tried: ``model``, ``description``, ``rmse`` and ``mae`` (holdout
    purchase days per customer), ``predicted`` and ``actual`` (total holdout purchase days), or ``error``
    (why it could not be fitted).
    """

    chosen: str
    fitted: _Fitted
    holdout: list[dict[str, Any]]
    calibration_end: pd.Timestamp | None
    holdout_weeks: float
    n_schedule: int
    reason: str

    def summary(self) -> str:
        """The choice in one short sentence (the advice's remarks; ``reason`` has the figures)."""
        if self.calibration_end is None or not any("rmse" in r for r in self.holdout):
            return f"{_LABELS[self.chosen]} (no holdout check: {self.reason.split(': ')[0]})"
        tried = sum("rmse" in r for r in self.holdout)
        return (
            f"{_LABELS[self.chosen]}, chosen among {tried} models by how well each predicted the last "
            f"{self.holdout_weeks:.0f} weeks of purchases"
        )

    def to_json(self) -> dict[str, Any]:
        """The choice as JSON-able data (what the advice shows under ``value_model``)."""
        return {
            "chosen": self.chosen,
            "description": _LABELS[self.chosen],
            "reason": self.reason,
            "schedule_buyers": self.n_schedule,
            "calibration_end": None if self.calibration_end is None else self.calibration_end.isoformat(),
            "holdout_weeks": round(self.holdout_weeks, 1),
            "candidates": self.holdout,
        }


def choose_dropout(
    orders: pd.DataFrame,
    as_of: pd.Timestamp | datetime,
    candidates: tuple[str, ...] = CANDIDATES,
    fallbacks: tuple[str, ...] = FALLBACKS,
) -> DropoutChoice:
    """Fit the candidates on a calibration period, keep the best on the holdout, refit it on everything.

    Parameters
    ----------
    orders:
        :func:`keepwise.decisions.facts.order_table` (orders at or after ``as_of`` are ignored).
    as_of:
        The end of the history.
    candidates:
        Names from :data:`MODELS`, simplest first (one name: that model, with its holdout error when it can
        be measured).
    fallbacks:
        Names tried the same way when none of ``candidates`` can be fitted on the calibration period.
    """
    as_of = pd.Timestamp(as_of)
    o = orders[orders["ordered_at"] < as_of]
    first = o["ordered_at"].min()
    span = (as_of - first).total_seconds() / WEEK_SECONDS if len(o) else 0.0
    weeks = float(min(max(span / 3.0, MIN_HOLDOUT_WEEKS), MAX_HOLDOUT_WEEKS))
    full = _summary_frame(o, as_of)
    sched_all = schedule_buyers(o, as_of)
    rows: list[dict[str, Any]] = []
    cal_end: pd.Timestamp | None = None
    if span - weeks < MIN_CALIBRATION_WEEKS:
        best = candidates[0] if len(candidates) == 1 else "bgnbd"
        reason = (
            f"{span:.0f} weeks of history are too few to hold any out (at least "
            f"{MIN_CALIBRATION_WEEKS + MIN_HOLDOUT_WEEKS:.0f} needed): {_LABELS[best]}, "
            f"without a holdout check"
        )
    else:
        cal_end = (as_of - pd.Timedelta(weeks=weeks)).floor("D")
        weeks = (as_of - cal_end).total_seconds() / WEEK_SECONDS
        cal = _summary_frame(o, cal_end)
        later = o[o["ordered_at"] >= cal_end]
        actual = (
            later.assign(day=later["ordered_at"].dt.floor("D"))
            .groupby("customer_id")["day"]
            .nunique()
            .rename(index=str)
            .reindex(cal["customer_id"])
            .fillna(0)
            .to_numpy(float)
        )
        sched_cal = schedule_buyers(o, cal_end)
        squared: dict[str, np.ndarray] = {}
        for group in (candidates, fallbacks):
            if squared:
                break
            for name in group:
                row, sq = _holdout(name, cal, sched_cal, weeks, actual)
                rows.append(row)
                if sq is not None:
                    squared[name] = sq
        best, reason = _select(rows, squared, weeks)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fitted = fit_candidate(best, full, sched_all)
    except Exception:
        if best == "bgnbd":
            raise
        fitted = fit_candidate("bgnbd", full, sched_all)
        reason += f"; {best} could not be fitted on the whole history, so BG/NBD on every customer is used"
        best = "bgnbd"

    return DropoutChoice(
        chosen=best,
        fitted=fitted,
        holdout=rows,
        calibration_end=cal_end,
        holdout_weeks=weeks,
        n_schedule=len(sched_all),
        reason=reason,
    )
