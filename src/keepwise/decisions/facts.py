"""What a customer is worth, from the store: order history, expected future margin and replacement cost.

The expected future margin of a customer who is still buying (they have just complained or asked for
something, so they are known to be alive) is::

    future margin = gross margin if alive - cost to serve a week x weeks as a customer

- **gross margin if alive**: :func:`keepwise.value.clv.customer_lifetime_value` over ``horizon_months``
  (BG/NBD purchases x Gamma-Gamma spend x the margin rate measured from the orders, discounted monthly)
  divided by P(alive);
- **weeks as a customer**: the discounted number of weeks they are expected to stay over the horizon, from
  the same BG/NBD model: discounted purchases if alive / their purchase rate if alive ``(r + x) / (alpha +
  T)`` (a customer buys at that rate for as long as they stay, so purchases over rate = weeks);
- **cost to serve a week**: their own cost to serve (staff time, :mod:`keepwise.value.profitability`) over
  the complete months before the question, per week since their first order, with ``PRIOR_WEEKS`` weeks of
  the business's average added so that a customer with little history costs about the average.

Cost to serve is spent for every week a customer stays, whether they buy or not, so it scales with the
weeks they stay, not with their margin: a customer who costs five times what they bring is worth minus
four times their margin, and one who has just joined is not assumed to stay the whole horizon.

The replacement cost is the configured ``replacement_cost``, else the average ``acquisition_cost`` in the
store, else ``replacement_cost_fallback``. The value of a would-be customer lost to word of mouth is the
future margin of a typical new customer (one who has just made their first purchase, at the business's
average cost to serve a week).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd

from keepwise.config import Config, DecisionAssumptions
from keepwise.models import BetaGeoModel, GammaGammaModel
from keepwise.store import Store
from keepwise.value.clv import customer_lifetime_value

__all__ = [
    "PRIOR_WEEKS",
    "CostToServe",
    "ValueModel",
    "history_at",
    "order_table",
    "replacement_cost",
    "summaries",
]

WEEK_SECONDS = 7 * 86_400.0
#: Weeks of the business's average cost to serve added to a customer's own record (one month): a customer
#: with a month of history is taken half at their own rate and half at the average.
PRIOR_WEEKS = 4.35


def order_table(store: Store, before: datetime | None = None) -> pd.DataFrame:
    """One row per order with a positive value: ``customer_id``, ``ordered_at`` (UTC), ``value``, ``margin``.

    Parameters
    ----------
    store:
        The store.
    before:
        Only orders placed before this moment (``None``: all).
    """
    from keepwise.features import order_lines, orders

    o = orders(order_lines(store, before=before))
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
        value bought a week, over at least four weeks; NaN without orders), ``first`` (first purchase day,
        NaT without orders) and ``has_orders``.
    """
    o = orders.assign(day=orders["ordered_at"].dt.floor("D").astype(_TS))
    days = o.groupby(["customer_id", "day"], sort=False)["value"].sum().reset_index()
    days = days.sort_values("day", kind="stable")
    g = days.groupby("customer_id", sort=False)
    days["n"] = g.cumcount() + 1
    days["cum_value"] = g["value"].cumsum()
    days["first"] = g["day"].transform("min")
    days["first_value"] = days.groupby("customer_id", sort=False)["value"].transform("first")
    # the ids as plain objects on both sides: merge_asof refuses keys of different dtypes (an empty incidents
    # table arrives as object, orders as an Arrow string)
    days["customer_id"] = days["customer_id"].astype(str).astype(object)
    q = pd.DataFrame(
        {
            "customer_id": pd.Series(queries["customer_id"].astype(str).to_numpy(), dtype=object),
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
            "first": first.to_numpy(),
            "has_orders": has,
        }
    )


@dataclass
class ValueModel:
    """BG/NBD and Gamma-Gamma fitted on the store's orders: margin and weeks as a customer if alive.

    Parameters
    ----------
    horizon_months, discount_rate:
        Months of margin and annual discount rate (``[decisions] horizon_months``, ``[value] discount_rate``).
    """

    horizon_months: int = DecisionAssumptions.horizon_months
    discount_rate: float = DecisionAssumptions.discount_rate

    def fit(
        self,
        orders: pd.DataFrame,
        as_of: pd.Timestamp | datetime,
        *,
        purchase: Any = None,
        schedule: Any = None,
        schedule_ids: set[str] | None = None,
    ) -> ValueModel:
        """Fit both models on the orders before ``as_of`` and measure the margin rate.

        ``purchase``: a fitted purchase model (BG/NBD or Pareto/NBD) to use instead of fitting BG/NBD on
        every customer; ``schedule`` and ``schedule_ids``: a second one for the customers who buy on a
        schedule, and their ids (:mod:`keepwise.decisions.concession.dropout`). Rows of :meth:`score` with a
        true ``schedule`` column are scored with it.
        """
        s = summaries(orders, as_of)
        s = s[s["T"] > 0]
        self.purchase_ = purchase if purchase is not None else BetaGeoModel().fit(s["x"], s["t_x"], s["T"])
        self.schedule_purchase_ = schedule
        self.schedule_ids_ = set(schedule_ids or ()) if schedule is not None else set()
        rep = s[(s["x"] > 0) & (s["zbar"] > 0)]
        self.spend_ = GammaGammaModel().fit(rep["x"], rep["zbar"])
        rev = float(s["revenue"].sum())
        self.margin_rate_ = float(s["margin"].sum()) / rev if rev > 0 else 1.0
        self.as_of_ = pd.Timestamp(as_of)
        # a typical new customer: just made their first purchase
        new = self.score(pd.DataFrame({"x": [0.0], "t_x": [0.0], "T": [0.0], "zbar": [0.0]}))
        self.typical_margin_ = float(new["gross_margin"].to_numpy(float)[0])
        self.typical_weeks_ = float(new["active_weeks"].to_numpy(float)[0])
        return self

    def score(self, summary: pd.DataFrame) -> pd.DataFrame:
        """Per row, given the customer is alive: discounted gross margin and weeks as a customer.

        ``gross_margin`` is the expected discounted gross margin over the horizon, ``active_weeks`` the
        expected discounted weeks as a customer over the horizon and ``purchases`` the expected discounted
        purchases.

        Customers without a repeat purchase get the population's expected spend (Gamma-Gamma at x = 0).
        With a model of schedule buyers, rows whose ``schedule`` column is true are scored with it.
        """
        if len(summary) == 0:
            return pd.DataFrame({"gross_margin": np.zeros(0), "active_weeks": np.zeros(0)})
        if getattr(self, "schedule_purchase_", None) is not None and "schedule" in summary:
            on = summary["schedule"].to_numpy(bool)
            out = pd.DataFrame(
                {"gross_margin": np.zeros(len(summary)), "active_weeks": 0.0, "purchases": 0.0},
                index=summary.index,
            )
            for model, rows in ((self.purchase_, ~on), (self.schedule_purchase_, on)):
                if rows.any():
                    part = self._score(model, summary[rows])
                    out.loc[rows, ["gross_margin", "active_weeks", "purchases"]] = part.to_numpy()
            return out.reset_index(drop=True)
        return self._score(self.purchase_, summary)

    def _score(self, model: Any, summary: pd.DataFrame) -> pd.DataFrame:
        x = summary["x"].to_numpy(float)
        z = summary["zbar"].to_numpy(float)
        t_x = summary["t_x"].to_numpy(float)
        T = np.maximum(summary["T"].to_numpy(float), t_x)
        spend = self.spend_.conditional_expected_average_profit(x, np.where(x > 0, z, 1.0))
        out = customer_lifetime_value(
            model,
            None,
            x,
            t_x,
            T,
            horizon_months=self.horizon_months,
            discount_rate=self.discount_rate,
            time_unit="week",
            margin=self.margin_rate_,
            spend=spend,
        )
        # given alive, exactly: the model's figures are P(alive) x the figure if alive (no floor: a customer
        # the model thinks gone, but who is asking, is alive; a floor of 5% cut their value by up to 20x)
        p_alive = np.maximum(out["p_alive"].to_numpy(float), 1e-300)
        purchases = out["discounted_purchases"].to_numpy(float) / p_alive
        p = model.params_
        rate = (float(p["r"]) + x) / (float(p["alpha"]) + T)
        return pd.DataFrame(
            {
                "gross_margin": out["clv"].to_numpy(float) / p_alive,
                "active_weeks": purchases / rate,
                "purchases": purchases,
            }
        )

    def future_margin(self, summary: pd.DataFrame) -> np.ndarray:
        """Expected discounted gross margin over the horizon, given the customer is alive, per row."""
        return np.asarray(self.score(summary)["gross_margin"].to_numpy(float))


class CostToServe:
    """Each customer's cost to serve a week, from the monthly ledger, before a question.

    A customer's rate at a question is ``(C + PRIOR_WEEKS x average) / (W + PRIOR_WEEKS)`` with ``C`` their
    cost to serve over the complete months before the question's month and ``W`` the weeks from their first
    order to the start of that month. The average is the cost to serve a week of the customers who ordered
    in the 13 weeks before ``as_of`` (so are most likely still customers), over their weeks since joining.

    Parameters
    ----------
    store:
        The store.
    as_of:
        The moment the average is taken at.
    first_orders:
        First order time (UTC) per customer id.
    last_orders:
        Last order time (UTC) per customer id, before ``as_of``.
    config:
        Assumptions (currency and rates).
    """

    def __init__(
        self,
        store: Store,
        as_of: pd.Timestamp,
        first_orders: pd.Series,
        last_orders: pd.Series,
        config: Config | None = None,
    ):
        from keepwise.value.profitability import customer_ledger

        led = customer_ledger(store, None, view="lifetime", by_month=True, config=config)
        df = led.select("customer_id", "month_index", "cost_to_serve").to_pyarrow().to_pandas()
        df["cost_to_serve"] = df["cost_to_serve"].astype(float)
        df["month_index"] = df["month_index"].astype(np.int64)
        df = df.sort_values(["month_index"], kind="stable")
        df["cts"] = df.groupby("customer_id", sort=False)["cost_to_serve"].cumsum()
        self.ledger = df[["customer_id", "month_index", "cts"]]
        self.first_orders = first_orders
        recent = last_orders[last_orders >= as_of - pd.Timedelta(weeks=13)].index
        cost, weeks = self._own(pd.Series(recent, dtype=str), pd.Series([as_of] * len(recent)))
        self.average_ = float(cost.sum() / weeks.sum()) if weeks.sum() > 0 else 0.0

    def _own(self, customer_ids: pd.Series, ats: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        ts = pd.to_datetime(pd.Series(ats).reset_index(drop=True), utc=True)
        month_start = ts.dt.tz_localize(None).dt.to_period("M").dt.start_time.dt.tz_localize("UTC")
        q = pd.DataFrame(
            {
                "customer_id": pd.Series(customer_ids).astype(str).to_numpy(),
                # complete months only: up to the month before the question's
                "month_index": (ts.dt.year * 12 + ts.dt.month - 2).to_numpy(np.int64),
                "_row": np.arange(len(ts)),
            }
        )
        m = pd.merge_asof(
            q.sort_values("month_index", kind="stable"), self._ledger_of(q["customer_id"]), on="month_index",
            by="customer_id",
        ).sort_values("_row")  # fmt: skip
        first = pd.to_datetime(q["customer_id"].map(self.first_orders), utc=True)
        weeks = ((month_start - first).dt.total_seconds() / WEEK_SECONDS).clip(lower=0).fillna(0)
        return m["cts"].fillna(0).to_numpy(float), weeks.to_numpy(float)

    def _ledger_of(self, customer_ids: pd.Series) -> pd.DataFrame:
        """The ledger rows of a few customers (found through an index made once), in the ledger's order.

        ``merge_asof`` by customer matches a question only to its own customer's rows, so a question about
        a few customers needs only theirs; many customers take the whole ledger.
        """
        ids = pd.unique(customer_ids.to_numpy())
        if len(ids) > 16:
            return self.ledger
        index = getattr(self, "_index", None)
        if index is None:
            codes, uniques = pd.factorize(self.ledger["customer_id"].to_numpy())
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
            index = self._index = (pd.Index(uniques), order, bounds)
        names, order, bounds = index
        found = names.get_indexer(pd.Index(ids))
        parts = [order[bounds[i] : bounds[i + 1]] for i in found if i >= 0]
        rows = np.sort(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int64)
        return self.ledger.iloc[rows]

    def weekly(self, customer_ids: Any, ats: Any) -> tuple[np.ndarray, np.ndarray]:
        """Cost to serve a week of each customer at ``ats``, and the weeks of their own record it rests on."""
        cost, weeks = self._own(pd.Series(customer_ids), pd.Series(ats))
        return (cost + PRIOR_WEEKS * self.average_) / (weeks + PRIOR_WEEKS), weeks


def replacement_cost(store: Store, cfg: DecisionAssumptions) -> tuple[Decimal, str]:
    """The cost of acquiring a replacement customer, and where the figure comes from."""
    if cfg.replacement_cost is not None:
        return Decimal(cfg.replacement_cost).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        ), "decisions.replacement_cost"
    c = store.table("customers")
    c = c.filter(c.acquisition_cost.notnull())
    row = c.aggregate(total=c.acquisition_cost.sum(), n=c.count()).to_pyarrow().to_pylist()[0]
    if row["n"]:
        avg = (Decimal(row["total"]) / row["n"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return avg, f"average acquisition cost of {row['n']} customers on record"
    return (
        cfg.replacement_cost_fallback,
        "decisions.replacement_cost_fallback (no acquisition costs recorded)",
    )
