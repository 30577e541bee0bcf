"""What a customer is worth, from the store: order history, expected future margin and replacement cost.

The expected future margin of a customer who is still buying is

    future margin = CLV / P(alive) x (1 - cost-to-serve share)

where CLV is :func:`keepwise.value.clv.customer_lifetime_value` over ``horizon_months`` (BG/NBD purchases x
Gamma-Gamma spend x the margin rate measured from the orders, discounted monthly), divided by P(alive)
because a customer who has just complained or asked for something is known to be alive, and the
cost-to-serve share is the customer's lifetime cost to serve over their lifetime gross margin (from
:mod:`keepwise.value.profitability`; clipped to [0, 2], so a customer who costs more to serve than they bring
has a negative future margin).

The replacement cost is the configured ``replacement_cost``, else the average ``acquisition_cost`` in the
store, else ``replacement_cost_fallback``. The value of a would-be customer lost to word of mouth is the
average future margin of the business's customers (a typical new customer).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from keepwise.config import Config, DecisionAssumptions
from keepwise.models import BetaGeoModel, GammaGammaModel
from keepwise.value.clv import customer_lifetime_value

__all__ = [
    "CostShares",
    "ValueModel",
    "cost_to_serve_share",
    "history_at",
    "order_table",
    "replacement_cost",
    "summaries",
]

WEEK_SECONDS = 7 * 86_400.0


def order_table(backend: Any, before: datetime | None = None) -> pd.DataFrame:
    """One row per order with a positive value: ``customer_id``, ``ordered_at`` (UTC), ``value``, ``margin``.

    Parameters
    ----------
    backend:
        The store.
    before:
        Only orders placed before this moment (``None``: all).
    """
    from keepwise.features import order_lines, orders

    o = orders(order_lines(backend, before=before))
    o = o.filter(o.value > 0)
    df = o.select("customer_id", "ordered_at", "value", "margin").to_pandas()
    df["ordered_at"] = pd.to_datetime(df["ordered_at"], utc=True)
    df["value"] = df["value"].astype(float)
    df["margin"] = df["margin"].astype(float)
    return df.sort_values(["customer_id", "ordered_at"], kind="stable").reset_index(drop=True)


def summaries(orders: pd.DataFrame, as_of: pd.Timestamp | datetime) -> pd.DataFrame:
    """Per customer, from orders before ``as_of``: ``x``, ``t_x``, ``T`` (weeks), ``zbar``, totals.

    Purchase days are calendar days (UTC); ``x`` is the number of repeat purchase days, ``zbar`` the mean
    value of the repeat days. Also ``revenue``, ``margin``, ``first`` and ``last`` (order times).
    """
    as_of = pd.Timestamp(as_of)
    o = orders[orders["ordered_at"] < as_of]
    day = o["ordered_at"].dt.floor("D")
    days = (
        o.assign(day=day)
        .groupby(["customer_id", "day"], sort=False)
        .agg(value=("value", "sum"), margin=("margin", "sum"))
        .reset_index()
    )
    first = days.groupby("customer_id")["day"].transform("min")
    days["repeat_value"] = np.where(days["day"] > first, days["value"], 0.0)
    g = days.groupby("customer_id")
    s = g.agg(
        n=("day", "size"),
        first=("day", "min"),
        last=("day", "max"),
        revenue=("value", "sum"),
        margin=("margin", "sum"),
        repeat_value=("repeat_value", "sum"),
    ).reset_index()
    s["x"] = (s["n"] - 1).astype(float)
    s["t_x"] = (s["last"] - s["first"]).dt.total_seconds() / WEEK_SECONDS
    s["T"] = (as_of - s["first"]).dt.total_seconds() / WEEK_SECONDS
    s["zbar"] = np.where(s["x"] > 0, s["repeat_value"] / s["x"].clip(lower=1), 0.0)
    return s.drop(columns=["repeat_value", "n"])


_TS: Any = "datetime64[ns, UTC]"


def history_at(orders: pd.DataFrame, queries: pd.DataFrame) -> pd.DataFrame:
    """Each query's customer summary from their orders strictly before the query's ``at`` (vectorised).

    Parameters
    ----------
    orders:
        :func:`order_table`.
    queries:
        ``customer_id`` and ``at`` (UTC), one row per question (e.g. per incident).

    Returns
    -------
    pandas.DataFrame
        In the order of ``queries``: ``x`` (repeat purchase days), ``t_x``, ``T`` (weeks from the first
        purchase day to ``at``), ``zbar`` (mean value of the repeat days), ``log_weekly_value`` (log of the
        value bought a week, over at least four weeks; NaN without orders) and ``has_orders``.
    """
    o = orders.assign(day=orders["ordered_at"].dt.floor("D").astype(_TS))
    days = o.groupby(["customer_id", "day"], sort=False)["value"].sum().reset_index()
    days = days.sort_values("day", kind="stable")
    g = days.groupby("customer_id", sort=False)
    days["n"] = g.cumcount() + 1
    days["cum_value"] = g["value"].cumsum()
    days["first"] = g["day"].transform("min")
    days["first_value"] = days.groupby("customer_id", sort=False)["value"].transform("first")
    q = pd.DataFrame(
        {
            "customer_id": queries["customer_id"].astype(str).to_numpy(),
            "at": pd.to_datetime(queries["at"], utc=True),
        }
    )
    q["at"] = q["at"].astype(_TS)
    q["_row"] = np.arange(len(q))
    # purchase days up to the day of the question count (an order that day is usually what it is about)
    q["day_at"] = q["at"].dt.floor("D")
    m = pd.merge_asof(
        q.sort_values("day_at", kind="stable"),
        days[["customer_id", "day", "n", "cum_value", "first", "first_value"]],
        left_on="day_at",
        right_on="day",
        by="customer_id",
        direction="backward",
        allow_exact_matches=True,
    ).sort_values("_row")
    has = m["n"].notna().to_numpy()
    n = m["n"].fillna(0).to_numpy(float)
    x = np.maximum(n - 1, 0)
    first, last = m["first"], m["day"]
    t_x = ((last - first).dt.total_seconds() / WEEK_SECONDS).fillna(0).to_numpy(float)
    T = ((m["at"] - first).dt.total_seconds() / WEEK_SECONDS).fillna(0).to_numpy(float)
    cum = m["cum_value"].fillna(0).to_numpy(float)
    zbar = np.where(x > 0, (cum - m["first_value"].fillna(0).to_numpy(float)) / np.maximum(x, 1), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_value = np.where(has & (cum > 0), np.log(cum / np.maximum(T, 4.0)), np.nan)
    return pd.DataFrame(
        {
            "x": x,
            "t_x": t_x,
            "T": np.maximum(T, t_x),
            "zbar": zbar,
            "log_weekly_value": log_value,
            "has_orders": has,
        }
    )


@dataclass
class ValueModel:
    """BG/NBD and Gamma-Gamma fitted on the store's orders, scoring expected future margin if alive.

    Parameters
    ----------
    horizon_months, discount_rate:
        Months of margin and annual discount rate (``[decisions]`` in ``keepwise.toml``).
    """

    horizon_months: int = 36
    discount_rate: float = 0.10

    def fit(self, orders: pd.DataFrame, as_of: pd.Timestamp | datetime) -> ValueModel:
        """Fit both models on the orders before ``as_of`` and measure the margin rate."""
        s = summaries(orders, as_of)
        s = s[s["T"] > 0]
        self.purchase_ = BetaGeoModel().fit(s["x"], s["t_x"], s["T"])
        rep = s[(s["x"] > 0) & (s["zbar"] > 0)]
        self.spend_ = GammaGammaModel().fit(rep["x"], rep["zbar"])
        rev = float(s["revenue"].sum())
        self.margin_rate_ = float(s["margin"].sum()) / rev if rev > 0 else 1.0
        self.as_of_ = pd.Timestamp(as_of)
        fm = self.future_margin(s)
        self.typical_margin_ = float(np.mean(fm)) if len(fm) else 0.0
        return self

    def future_margin(self, summary: pd.DataFrame) -> np.ndarray:
        """Expected discounted gross margin over the horizon, given the customer is alive, per row.

        Customers without a repeat purchase get the population's expected spend (Gamma-Gamma at x = 0).
        """
        if len(summary) == 0:
            return np.zeros(0)
        x = summary["x"].to_numpy(float)
        z = summary["zbar"].to_numpy(float)
        spend = self.spend_.conditional_expected_average_profit(x, np.where(x > 0, z, 1.0))
        out = customer_lifetime_value(
            self.purchase_,
            None,
            x,
            summary["t_x"].to_numpy(float),
            np.maximum(summary["T"].to_numpy(float), summary["t_x"].to_numpy(float)),
            horizon_months=self.horizon_months,
            discount_rate=self.discount_rate,
            time_unit="week",
            margin=self.margin_rate_,
            spend=spend,
        )
        p_alive = out["p_alive"].to_numpy(float)
        return np.asarray(out["clv"].to_numpy(float) / np.maximum(p_alive, 0.05))


def cost_to_serve_share(backend: Any, month: str | None = None, config: Config | None = None) -> pd.DataFrame:
    """Per customer: lifetime ``cost_to_serve`` over lifetime ``gross_margin`` (clipped to [0, 2]).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``cts_share`` (float), ``profit`` and ``gross_margin`` (Decimal), ``tier``.
    """
    from keepwise.value.profitability import profitability

    df = profitability(backend, month, view="lifetime", config=config)
    gm = df["gross_margin"].astype(float)
    cts = df["cost_to_serve"].astype(float)
    share = np.where(gm > 0, cts / gm.where(gm > 0, 1.0), np.where(cts > 0, 2.0, 0.0))
    return pd.DataFrame(
        {
            "customer_id": df["customer_id"],
            "cts_share": np.clip(share, 0.0, 2.0),
            "profit": df["profit"],
            "gross_margin": df["gross_margin"],
            "tier": df["tier"],
        }
    )


class CostShares:
    """Each customer's cost to serve over gross margin up to a given month, from the monthly ledger.

    Parameters
    ----------
    backend:
        The store.
    month:
        Last month of the ledger (``YYYY-MM``; ``None``: the latest).
    config:
        Assumptions (currency and rates).
    """

    def __init__(self, backend: Any, month: str | None = None, config: Config | None = None):
        from keepwise.value.profitability import customer_ledger

        led = customer_ledger(backend, month, view="lifetime", by_month=True, config=config)
        df = led.select("customer_id", "month_index", "gross_margin", "cost_to_serve").to_pandas()
        df["gross_margin"] = df["gross_margin"].astype(float)
        df["cost_to_serve"] = df["cost_to_serve"].astype(float)
        df = df.sort_values(["month_index"], kind="stable")
        g = df.groupby("customer_id", sort=False)
        df["gm"] = g["gross_margin"].cumsum()
        df["cts"] = g["cost_to_serve"].cumsum()
        self.ledger = df[["customer_id", "month_index", "gm", "cts"]]

    def at(self, customer_ids: Any, ats: Any) -> np.ndarray:
        """Cost-to-serve share of each customer over the months up to and including that of ``ats``."""
        ts = pd.to_datetime(pd.Series(ats), utc=True)
        q = pd.DataFrame(
            {
                "customer_id": pd.Series(customer_ids).astype(str).to_numpy(),
                "month_index": (ts.dt.year * 12 + ts.dt.month - 1).to_numpy(np.int64),
                "_row": np.arange(len(ts)),
            }
        )
        led = self.ledger.astype({"month_index": np.int64})
        m = pd.merge_asof(
            q.sort_values("month_index", kind="stable"), led, on="month_index", by="customer_id"
        ).sort_values("_row")
        gm, cts = m["gm"].fillna(0).to_numpy(float), m["cts"].fillna(0).to_numpy(float)
        share = np.where(gm > 0, cts / np.where(gm > 0, gm, 1.0), np.where(cts > 0, 2.0, 0.0))
        return np.asarray(np.clip(share, 0.0, 2.0))


def replacement_cost(backend: Any, cfg: DecisionAssumptions) -> tuple[Decimal, str]:
    """The cost of acquiring a replacement customer, and where the figure comes from."""
    if cfg.replacement_cost is not None:
        return Decimal(cfg.replacement_cost).quantize(Decimal("0.01")), "decisions.replacement_cost"
    c = backend.table("customers")
    c = c.filter(c.acquisition_cost.notnull())
    row = c.aggregate(total=c.acquisition_cost.sum(), n=c.count()).to_pyarrow().to_pylist()[0]
    if row["n"]:
        avg = (Decimal(row["total"]) / row["n"]).quantize(Decimal("0.01"))
        return avg, f"average acquisition cost of {row['n']} customers on record"
    return (
        cfg.replacement_cost_fallback,
        "decisions.replacement_cost_fallback (no acquisition costs recorded)",
    )
