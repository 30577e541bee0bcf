"""Data preparation: per-customer summaries from transactions, and compression to unique tuples.

The BTYD likelihoods depend on a customer only through ``(x, t_x, T)`` (or ``(x, t_x, n)`` for BG/BB), so
customers sharing a tuple are fitted and scored once, with the number of customers as the weight.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from keepwise.exceptions import KeepwiseInputError

FloatArray = NDArray[np.float64]
TimeUnit = Literal["day", "week"]
DAYS_PER_UNIT: dict[str, float] = {"day": 1.0, "week": 7.0}


def days_per_unit(time_unit: str | float) -> float:
    """Days in one model time unit: ``"day"`` -> 1, ``"week"`` -> 7, or a number of days."""
    if isinstance(time_unit, int | float):
        return float(time_unit)
    if time_unit not in DAYS_PER_UNIT:
        raise KeepwiseInputError(f"time unit must be one of day, week; got {time_unit!r}")
    return DAYS_PER_UNIT[time_unit]


def compress_rft(
    x: FloatArray,
    tx: FloatArray,
    T: FloatArray,
    weights: Any = None,
    covariates: dict[str, FloatArray] | None = None,
    return_inverse: bool = False,
) -> Any:
    """Unique ``(x, t_x, T[, covariates])`` rows with summed weights.

    Returns ``(data, weights, covariates)`` where ``data`` is ``{"x", "t_x", "T"}`` of unique rows, and with
    ``return_inverse`` also the index that maps each input row to its unique row.
    """
    w = None if weights is None else np.asarray(weights, dtype=float).reshape(-1)
    if w is not None and w.shape != np.shape(x):
        raise KeepwiseInputError("weights must have one value per row")
    keyed = None if covariates else _keyed_groups(x, tx, T)
    if keyed is not None:
        inverse, data, codes = keyed
        data["_codes"] = codes
        wu = np.bincount(inverse, weights=w, minlength=len(data["x"])).astype(float)
        if return_inverse:
            return data, wu, None, inverse
        return data, wu, None
    cols = [x, tx, T] + ([covariates[c] for c in covariates] if covariates else [])
    names = [f"c{j}" for j in range(len(cols))]
    # a hash group-by (pandas) is ~20x faster than np.unique(axis=0) on a million rows
    inverse = pd.DataFrame(dict(zip(names, cols, strict=True))).groupby(names, sort=False).ngroup().to_numpy()
    n_groups = int(inverse.max()) + 1 if len(inverse) else 0
    first = np.empty(n_groups, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    uniq = np.column_stack(cols)[first] if n_groups else np.empty((0, len(cols)))
    wu = np.bincount(inverse, weights=w, minlength=n_groups).astype(float)
    data = {"x": uniq[:, 0].copy(), "t_x": uniq[:, 1].copy(), "T": uniq[:, 2].copy()}
    cov = {c: uniq[:, 3 + j].copy() for j, c in enumerate(covariates)} if covariates else None
    if return_inverse:
        return data, wu, cov, inverse
    return data, wu, cov


#: the largest whole frequency coded by its value (beyond it, frequencies are hashed like t_x and T)
_DENSE_X = 1 << 20


def _keyed_groups(x: FloatArray, tx: FloatArray, T: FloatArray) -> tuple[Any, dict[str, Any], Any] | None:
    """Unique ``(x, t_x, T)`` rows by one 64-bit key per row: twice as fast as a three-column group-by.

    Each column is coded (whole frequencies by their value, t_x and T by a hash), the codes are combined into
    one integer and the integers hashed; the groups come in order of first appearance, as the group-by's.
    Returns the index of each row's group, the groups' columns and, for the likelihoods, the distinct
    values of each column with every group's code (``ux, ix, uT, iT, utx, itx``); None when the codes
    would not fit in 62 bits.
    """
    if len(x) == 0:
        return None
    xi = x.astype(np.int64)
    dense_x = bool(xi.min() >= 0 and xi.max() < _DENSE_X and np.array_equal(xi, x))
    if not dense_x:
        xi, ux_all = pd.factorize(x)
    ctx, utx = pd.factorize(tx)
    cT, uT = pd.factorize(T)
    nx, ntx, nT = int(xi.max()) + 1, len(utx), len(uT)
    if nx * ntx * nT >= 1 << 62:
        return None
    key = xi * (ntx * nT)
    key += ctx * nT
    key += cT
    # a 32-bit key hashes about a quarter faster when the codes fit in it (a daily grid: ~2e7 combinations)
    inverse, groups = pd.factorize(key.astype(np.uint32) if nx * ntx * nT < 1 << 32 else key)
    groups = np.asarray(groups, dtype=np.int64)
    gx = groups // (ntx * nT)
    gtx = (groups // nT) % ntx
    gT = groups % nT
    # the distinct frequencies that occur, coded 0..k-1
    present = np.bincount(gx, minlength=nx) > 0
    ux = np.flatnonzero(present).astype(float) if dense_x else np.asarray(ux_all, dtype=float)[present]
    code = np.cumsum(present) - 1
    uT, utx = np.asarray(uT, dtype=float), np.asarray(utx, dtype=float)
    data = {"x": ux[code[gx]], "t_x": utx[gtx], "T": uT[gT]}
    return inverse.astype(np.int64, copy=False), data, (ux, code[gx], uT, gT, utx, gtx)


def unique_rows(*cols: FloatArray) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Distinct rows of the given columns (a hash group-by).

    Returns the index of each distinct row's first occurrence and the index that maps every input row to its
    distinct row.
    """
    names = [f"c{j}" for j in range(len(cols))]
    inverse = pd.DataFrame(dict(zip(names, cols, strict=True))).groupby(names, sort=False).ngroup().to_numpy()
    n_groups = int(inverse.max()) + 1 if len(inverse) else 0
    first = np.empty(n_groups, dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    return first, inverse.astype(np.int64, copy=False)


def distinct(values: FloatArray) -> tuple[FloatArray, NDArray[np.int64]]:
    """Distinct values (in order of appearance) and the index of each input's value: a hash, no sort."""
    inverse, uniq = pd.factorize(values)
    return np.asarray(uniq, dtype=float), np.asarray(inverse, dtype=np.int64)


def expand(values: Any, inverse: NDArray[np.intp]) -> FloatArray:
    """Map values computed on unique rows back to the original rows."""
    return np.asarray(values, dtype=float)[inverse]


def summary_from_transactions(
    transactions: pd.DataFrame,
    customer_id_col: str = "customer_id",
    datetime_col: str = "date",
    monetary_value_col: str | None = None,
    observation_period_end: Any = None,
    time_unit: TimeUnit | float = "week",
) -> pd.DataFrame:
    """Per-customer (frequency, recency, T[, monetary_value]) from a transaction log, lifetimes' layout.

    Purchases on the same calendar day are merged into one (summing their value), as in the CDNOW analyses;
    frequency counts repeat purchases (days with a purchase after the first); recency is the time from the
    first to the last purchase and T from the first purchase to ``observation_period_end`` (default: the
    last date in the data), both in ``time_unit`` (``"day"``, ``"week"`` = 7 days, or a number of days).
    ``monetary_value`` is the mean value of the repeat purchases (0 when there are none), as the Gamma-Gamma
    model expects. Transactions after ``observation_period_end`` are ignored.
    """
    for col in (customer_id_col, datetime_col) + ((monetary_value_col,) if monetary_value_col else ()):
        if col not in transactions.columns:
            raise KeepwiseInputError(f"transactions have no column {col!r}")
    unit = days_per_unit(time_unit)
    df = transactions[[customer_id_col, datetime_col] + ([monetary_value_col] if monetary_value_col else [])]
    df = df.copy()
    dates = pd.to_datetime(df[datetime_col])
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    df["_day"] = dates.dt.normalize()
    end = pd.Timestamp(observation_period_end) if observation_period_end is not None else df["_day"].max()
    if end.tzinfo is not None:
        end = end.tz_convert("UTC").tz_localize(None)
    end = end.normalize()
    df = df[df["_day"] <= end]
    agg: dict[str, Any] = {}
    if monetary_value_col:
        agg[monetary_value_col] = "sum"
    daily = (
        df.groupby([customer_id_col, "_day"], sort=True).agg(agg)
        if agg
        else (df.groupby([customer_id_col, "_day"], sort=True).size().to_frame("n"))
    )
    daily = daily.reset_index()
    g = daily.groupby(customer_id_col, sort=True)
    first = g["_day"].min()
    last = g["_day"].max()
    out = pd.DataFrame(index=first.index)
    out["frequency"] = (g.size() - 1).astype(float)
    out["recency"] = (last - first).dt.days / unit
    out["T"] = (end - first).dt.days / unit
    if monetary_value_col:
        daily["_first"] = daily["_day"].eq(daily[customer_id_col].map(first))
        rep = daily[~daily["_first"]].groupby(customer_id_col)[monetary_value_col].mean()
        out["monetary_value"] = rep.reindex(out.index).fillna(0.0).astype(float)
    return out


def calibration_and_holdout(
    transactions: pd.DataFrame,
    customer_id_col: str,
    datetime_col: str,
    calibration_period_end: Any,
    observation_period_end: Any = None,
    monetary_value_col: str | None = None,
    time_unit: TimeUnit | float = "week",
) -> pd.DataFrame:
    """Calibration summary (customers whose first purchase is on or before the end) and holdout purchases.

    Columns: ``frequency_cal, recency_cal, T_cal[, monetary_value_cal], frequency_holdout, duration_holdout``
    where ``frequency_holdout`` counts purchase days in ``(calibration_period_end, observation_period_end]``.
    """
    cal_end = pd.Timestamp(calibration_period_end).normalize()
    dates = pd.to_datetime(transactions[datetime_col])
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
    obs_end = (
        pd.Timestamp(observation_period_end).normalize()
        if observation_period_end is not None
        else (dates.max().normalize())
    )
    if obs_end <= cal_end:
        raise KeepwiseInputError("the observation period must end after the calibration period")
    cal = summary_from_transactions(
        transactions[dates.dt.normalize() <= cal_end],
        customer_id_col,
        datetime_col,
        monetary_value_col,
        cal_end,
        time_unit,
    )
    cal.columns = [f"{c}_cal" for c in cal.columns]
    hold = transactions[(dates.dt.normalize() > cal_end) & (dates.dt.normalize() <= obs_end)].copy()
    hold["_day"] = dates[hold.index].dt.normalize()
    n_hold = hold.groupby(customer_id_col)["_day"].nunique()
    cal["frequency_holdout"] = n_hold.reindex(cal.index).fillna(0).astype(float)
    cal["duration_holdout"] = (obs_end - cal_end).days / days_per_unit(time_unit)
    return cal


def read_summary_csv(path: str, require_monetary: bool = False) -> pd.DataFrame:
    """Read a per-customer summary in lifetimes' layout (frequency, recency, T[, monetary_value])."""
    try:
        df = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise KeepwiseInputError(f"cannot read summary file {path}: {exc}") from None
    needed = ["frequency", "recency", "T"] + (["monetary_value"] if require_monetary else [])
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise KeepwiseInputError(
            f"{path} lacks column(s) {', '.join(missing)} (expected {', '.join(needed)})"
        )
    return df
