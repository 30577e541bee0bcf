"""Model checks: calibration/holdout comparison, model comparison, tracking and P(alive) histories."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from keepwise.exceptions import KeepwiseInputError
from keepwise.models.base import BaseModel, FloatArray
from keepwise.models.data import days_per_unit


def holdout_comparison(model: Any, cal_holdout: pd.DataFrame, max_frequency: int = 7) -> pd.DataFrame:
    """Predicted vs actual holdout purchases by calibration frequency, with a ``total`` row.

    ``cal_holdout`` has the columns of :func:`keepwise.models.data.calibration_and_holdout`. Customers with
    more than ``max_frequency`` calibration purchases are pooled in the last bucket (labelled
    ``"{max_frequency}+"``). Columns: ``customers``, ``actual`` and ``predicted`` (mean holdout purchases per
    customer), ``actual_total`` and ``predicted_total``.
    """
    need = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
    missing = [c for c in need if c not in cal_holdout.columns]
    if missing:
        raise KeepwiseInputError(f"cal_holdout lacks column(s) {', '.join(missing)}")
    d = cal_holdout
    duration = float(d["duration_holdout"].iloc[0])
    pred = model.conditional_expected_number_of_purchases_up_to_time(
        duration, d["frequency_cal"], d["recency_cal"], d["T_cal"]
    )
    f = d["frequency_cal"].to_numpy().astype(int)
    bucket = np.where(f >= max_frequency, f"{max_frequency}+", f.astype(str))
    frame = pd.DataFrame({"bucket": bucket, "actual": d["frequency_holdout"].to_numpy(), "predicted": pred})
    order = [str(i) for i in range(max_frequency)] + [f"{max_frequency}+"]
    g = frame.groupby("bucket")
    out = pd.DataFrame(
        {
            "customers": g.size(),
            "actual": g["actual"].mean(),
            "predicted": g["predicted"].mean(),
            "actual_total": g["actual"].sum(),
            "predicted_total": g["predicted"].sum(),
        }
    ).reindex([b for b in order if b in set(bucket)])
    total = pd.DataFrame(
        {
            "customers": [len(frame)],
            "actual": [frame["actual"].mean()],
            "predicted": [frame["predicted"].mean()],
            "actual_total": [frame["actual"].sum()],
            "predicted_total": [frame["predicted"].sum()],
        },
        index=["total"],
    )
    result = pd.concat([out, total])
    result.index.name = "frequency_cal"
    return result


def compare_models(models: dict[str, BaseModel]) -> pd.DataFrame:
    """Log-likelihood, number of parameters, AIC and BIC of fitted models on the same data, best AIC first."""
    rows = []
    for name, m in models.items():
        k = len(m._theta)
        rows.append(
            {
                "model": name,
                "log_likelihood": m.log_likelihood_,
                "n_params": k,
                "aic": 2 * k - 2 * m.log_likelihood_,
                "bic": k * np.log(m.n_customers_) - 2 * m.log_likelihood_,
            }
        )
    return pd.DataFrame(rows).set_index("model").sort_values("aic")


def expected_cumulative_transactions(model: Any, birth: Any, times: Any) -> FloatArray:
    """Expected cumulative repeat purchases of a cohort at each of ``times`` (model time units).

    ``birth`` holds each customer's first-purchase time on the same clock; a customer contributes
    ``E[X(t - birth)]`` once ``t > birth``. Customers with the same birth time are evaluated once.
    """
    b, counts = np.unique(np.asarray(birth, dtype=float), return_counts=True)
    times = np.asarray(times, dtype=float)
    age = times[:, None] - b[None, :]
    ex = np.zeros_like(age)
    pos = age > 0
    ex[pos] = model.expected_number_of_purchases_up_to_time(age[pos])
    return np.asarray(ex @ counts)


def tracking_table(
    model: Any,
    transactions: pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    start: Any,
    end: Any,
    time_unit: str | float = "week",
) -> pd.DataFrame:
    """Cumulative actual vs expected repeat purchases, period by period (customers in ``transactions``).

    Purchase days are merged per customer as in the summaries; a customer's first day is not a repeat
    purchase. Returns columns ``t`` (periods since ``start``), ``date``, ``actual``, ``predicted``.
    """
    unit = days_per_unit(time_unit)
    dates = pd.to_datetime(transactions[datetime_col])
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    start_ts = pd.Timestamp(start)
    if start_ts.tzinfo is not None:
        start_ts = start_ts.tz_convert("UTC").tz_localize(None)
    end_ts = pd.Timestamp(end)
    if end_ts.tzinfo is not None:
        end_ts = end_ts.tz_convert("UTC").tz_localize(None)
    days = pd.DataFrame({"c": transactions[customer_id_col].to_numpy(), "d": dates.dt.normalize()})
    days = days.drop_duplicates().sort_values(["c", "d"])
    first = days.groupby("c")["d"].transform("min")
    birth = ((days.loc[days["d"] == first, "d"] - start_ts).dt.days / unit).to_numpy()
    repeat_t = ((days.loc[days["d"] > first, "d"] - start_ts).dt.days / unit).to_numpy()
    n = int(np.floor((end_ts - start_ts).days / unit))
    t = np.arange(1, n + 1, dtype=float)
    # a purchase on day d (counted from start) has happened by the end of period t when d < t * unit
    actual = np.searchsorted(np.sort(repeat_t), t, side="left")
    predicted = expected_cumulative_transactions(model, birth, t)
    return pd.DataFrame(
        {
            "t": t,
            "date": start_ts + pd.to_timedelta(t * unit, unit="D"),
            "actual": actual,
            "predicted": predicted,
        }
    )


def p_alive_history(model: Any, purchase_times: Any, until: float, step: float = 1.0) -> pd.DataFrame:
    """P(alive) of one customer over time, from their first purchase (time 0) to ``until``.

    ``purchase_times`` are the times of the repeat purchases since the first purchase (model units). At each
    time ``T`` on the grid the customer's history so far gives ``(x, t_x, T)``.
    """
    times = np.sort(np.asarray(purchase_times, dtype=float))
    grid = np.arange(0.0, until + step / 2, step)
    grid = np.unique(np.concatenate([grid, times[times <= until]]))
    x = np.searchsorted(times, grid, side="right").astype(float)
    tx = np.where(x > 0, times[np.maximum(x.astype(int) - 1, 0)] if len(times) else 0.0, 0.0)
    p = model.conditional_probability_alive(x, tx, grid)
    return pd.DataFrame({"T": grid, "frequency": x, "recency": tx, "p_alive": p})
