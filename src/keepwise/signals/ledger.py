"""The lost-customer ledger: who was lost in the twelve months to the review month, why, and the cost.

The rules
---------
A customer is **lost explicitly** when ``exits`` records a ``lost_at`` on or after their last purchase; they
are lost at ``lost_at`` with the recorded reason (``"unknown"`` when none was recorded) and competitor.

Any other customer is **judged lost by inactivity** when they have not bought for
``max(180 days, 3 x their mean gap between purchase days)`` (both figures are assumptions, ``[review]
inactivity_days`` and ``inactivity_gaps`` in ``keepwise.toml``); they are lost on the day that threshold was
crossed (last purchase + threshold) and their reason is ``"unknown"``.

The ledger lists those lost in the twelve calendar months ending with the review month. The **rate** is that
count over the customers at risk: every customer with a purchase before the end of the month who was not
already lost before the twelve months began.

The cost, per lost customer
---------------------------
* monthly margin = their lifetime margin / the calendar months from their first to their last purchase,
  both included (margin is revenue less cost of goods, net of returns, summed exactly in the engine);
* margin they used to bring = 12 x monthly margin (a year);
* simple lifetime value lost = monthly margin x 12 x :data:`HORIZON_YEARS` (20, ``[review] lifetime_years``),
  undiscounted: $1,000 a
  month for 20 years is $240,000;
* discounted lifetime value lost = the purchase model's figure when the model is available
  (:func:`model_lifetime_values`: discounted expected purchases over the same 20 years at
  :data:`DISCOUNT_RATE` a year x margin per purchase), otherwise the monthly margin as an annuity over the
  same months at :data:`DISCOUNT_RATE` a year (monthly rate ``(1 + r)^(1/12) - 1``);
* replacement cost = the average acquisition cost of customers acquired in the same twelve months (of all
  customers when none were), per lost customer.

All money is computed in ``Decimal`` and rounded half-even to cents once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from keepwise.config import ReviewAssumptions
from keepwise.signals.inputs import _records, money, to_frame
from keepwise.signals.period import ReviewPeriod
from keepwise.store import Store

__all__ = [
    "DISCOUNT_RATE",
    "HORIZON_YEARS",
    "INACTIVITY_DAYS",
    "INACTIVITY_GAPS",
    "Ledger",
    "annuity_factor",
    "build_ledger",
    "lost_status",
    "model_lifetime_values",
]

# The defaults; ``[review]`` in keepwise.toml overrides them (pass ``rules`` to the functions below).
HORIZON_YEARS = ReviewAssumptions.lifetime_years
DISCOUNT_RATE = ReviewAssumptions.discount_rate
INACTIVITY_DAYS = float(ReviewAssumptions.inactivity_days)
INACTIVITY_GAPS = ReviewAssumptions.inactivity_gaps


def rule_text(rules: ReviewAssumptions) -> str:
    """The lost-customer rule in words, with the figures of ``rules``."""
    return (
        f"lost = an exit recorded on or after the last purchase, or no purchase for "
        f"max({rules.inactivity_days} days, {rules.inactivity_gaps:g} x the customer's mean gap between "
        "purchases)"
    )


RULE = rule_text(ReviewAssumptions())


def annuity_factor(months: int, annual_rate: Decimal) -> Decimal:
    """Present value of 1 a month for ``months`` months, paid at each month's end, ``annual_rate`` a year."""
    if annual_rate == 0:
        return Decimal(months)
    i = Decimal(float(1 + annual_rate) ** (1 / 12)) - 1
    return (1 - (1 + i) ** -months) / i


@dataclass
class Ledger:
    """The lost-customer ledger of one review month (see the module docstring for the rules)."""

    month: str
    count: int
    at_risk: int
    by_reason: dict[str, int]
    competitors: dict[str, int]
    customers: pd.DataFrame
    annual_margin_lost: Decimal
    simple_value_lost: Decimal
    discounted_value_lost: Decimal
    discounted_method: str
    replacement_cost_each: Decimal
    replacement_cost: Decimal
    notes: list[str] = field(default_factory=list)
    rules: ReviewAssumptions = field(default_factory=ReviewAssumptions)

    @property
    def rate(self) -> float:
        """Lost customers over customers at risk (0 when none were at risk)."""
        return self.count / self.at_risk if self.at_risk else 0.0

    def to_json(self) -> dict[str, Any]:
        """The ledger as JSON-able data, money as strings with two decimals."""
        rows = [
            {
                "customer_id": r["customer_id"],
                "lost_at": r["lost_at"].isoformat(),
                "how": r["how"],
                "reason": r["reason"],
                "competitor": r["competitor"] if isinstance(r["competitor"], str) else None,
                "monthly_margin": str(r["monthly_margin"]),
                "annual_margin": str(r["annual_margin"]),
                "simple_value": str(r["simple_value"]),
                "discounted_value": str(r["discounted_value"]),
            }
            for r in _records(self.customers)
        ]
        return {
            "month": self.month,
            "rule": rule_text(self.rules),
            "count": self.count,
            "at_risk": self.at_risk,
            "rate": round(self.rate, 4),
            "by_reason": self.by_reason,
            "competitors": self.competitors,
            "annual_margin_lost": str(self.annual_margin_lost),
            "lifetime_value_lost": {
                "simple": str(self.simple_value_lost),
                "simple_rule": f"monthly margin x 12 x {self.rules.lifetime_years} years, undiscounted",
                "discounted": str(self.discounted_value_lost),
                "discounted_method": self.discounted_method,
            },
            "replacement_cost": {
                "per_customer": str(self.replacement_cost_each),
                "total": str(self.replacement_cost),
            },
            "customers": rows,
            "notes": self.notes,
        }


def _utc(values: Any) -> pd.Series:
    """Timestamps as UTC-aware pandas values (a value without a zone is read as UTC)."""
    return pd.Series(pd.to_datetime(values, utc=True))


def _months_spanned(first: pd.Timestamp, last: pd.Timestamp) -> int:
    return (last.year * 12 + last.month) - (first.year * 12 + first.month) + 1


def lost_status(
    backend: Store, ords: ir.Table, period: ReviewPeriod, rules: ReviewAssumptions | None = None
) -> pd.DataFrame:
    """Every customer's lost status at the end of ``period`` (the inactivity rule of ``rules``).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``first_order_at``, ``last_order_at``, ``margin`` (Decimal), ``lost`` (bool),
        ``lost_at``, ``how`` ("exit" or "inactivity"), ``reason``, ``competitor``.
    """
    end = ibis.literal(period.end)
    p = ords.filter(ords.value > 0)
    days = p.group_by(["customer_id", p.ordered_at.truncate("D").name("day")]).aggregate()
    per = days.group_by("customer_id").aggregate(
        first_day=days.day.min(), last_day=days.day.max(), n_days=days.day.count()
    )
    margin = ords.group_by("customer_id").aggregate(
        margin=ords.margin.sum(), first_order_at=ords.ordered_at.min(), last_order_at=ords.ordered_at.max()
    )
    summary = margin.left_join(per, "customer_id").drop("customer_id_right").to_pyarrow().to_pandas()
    ex = backend.table("exits")
    ex = ex.filter(ex.lost_at < end)
    w = ibis.window(group_by=ex.customer_id, order_by=ibis.desc(ex.lost_at))
    ex = ex.mutate(rn=ibis.row_number().over(w)).filter(lambda t: t.rn == 0)
    exits = to_frame(ex.select("customer_id", "lost_at", "reason_code", "competitor"))
    d = summary.merge(exits, on="customer_id", how="outer")
    n_gaps = d["n_days"].fillna(0).astype(float) - 1
    span = (_utc(d["last_day"]) - _utc(d["first_day"])).dt.total_seconds() / 86_400
    mean_gap = np.where(n_gaps > 0, span / np.maximum(n_gaps, 1), 0.0)
    rules = rules or ReviewAssumptions()
    threshold = np.maximum(float(rules.inactivity_days), rules.inactivity_gaps * mean_gap)
    judged_at = _utc(d["last_day"]) + pd.to_timedelta(threshold, unit="D")
    last_purchase = _utc(d["last_day"])
    explicit = d["lost_at"].notna() & (last_purchase.isna() | (_utc(d["lost_at"]) >= last_purchase))
    end_ts = pd.Timestamp(period.end)
    inactive = ~explicit & judged_at.notna() & (judged_at < end_ts)
    d["lost"] = explicit | inactive
    d["how"] = np.where(explicit, "exit", np.where(inactive, "inactivity", ""))
    d["lost_at"] = _utc(d["lost_at"]).where(explicit, judged_at.where(inactive))
    reason = d["reason_code"].where(
        d["reason_code"].notna() & (d["reason_code"].astype(str) != ""), "unknown"
    )
    d["reason"] = np.where(explicit, reason, "unknown")
    d["competitor"] = d["competitor"].where(explicit & d["competitor"].notna(), None)
    return d[
        [
            "customer_id",
            "first_order_at",
            "last_order_at",
            "margin",
            "lost",
            "lost_at",
            "how",
            "reason",
            "competitor",
        ]
    ]


def model_lifetime_values(
    model: Any, rft: pd.DataFrame, status: pd.DataFrame, rules: ReviewAssumptions | None = None
) -> pd.DataFrame:
    """The purchase model's discounted lifetime value of each lost customer, as at their last purchase.

    For a lost customer with ``x`` repeat purchases, the last at ``t_x`` (weeks since the first), the value is
    what the model expected from them the moment after their last purchase (``T = t_x``): discounted
    expected purchases over :data:`HORIZON_YEARS` at :data:`DISCOUNT_RATE` a year
    (:func:`keepwise.value.clv.discounted_expected_purchases`) times their margin per purchase (lifetime
    margin / purchases).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``value`` (``Decimal``, cents).
    """
    from keepwise.value.clv import discounted_expected_purchases

    lost = status[status["lost"] & status["margin"].notna()][["customer_id", "margin"]]
    d = lost.merge(rft, on="customer_id")
    if d.empty:
        return pd.DataFrame({"customer_id": [], "value": []})
    rules = rules or ReviewAssumptions()
    purchases = discounted_expected_purchases(
        model,
        d["frequency"],
        d["recency"],
        d["recency"],
        12 * rules.lifetime_years,
        float(rules.discount_rate),
        "week",
    )
    per_purchase = d["margin"].astype(float).to_numpy() / (d["frequency"].to_numpy() + 1)
    return pd.DataFrame(
        {"customer_id": d["customer_id"], "value": [money(v) for v in purchases * per_purchase]}
    )


def _replacement_cost(backend: Store, start: datetime, end: datetime) -> tuple[Decimal, str]:
    c = backend.table("customers")
    c = c.filter(c.acquisition_cost.notnull())
    recent = c.filter((c.acquired_at >= ibis.literal(start)) & (c.acquired_at < ibis.literal(end)))
    for expr, where in ((recent, "acquired in the same twelve months"), (c, "on record")):
        stats = expr.aggregate(total=expr.acquisition_cost.sum(), n=expr.count()).to_pyarrow().to_pylist()[0]
        if stats["n"]:
            return Decimal(stats["total"]) / stats[
                "n"
            ], f"average acquisition cost of the {stats['n']} customers {where}"
    return Decimal(0), "no acquisition costs are recorded, so replacement cost is taken as zero"


def build_ledger(
    backend: Store,
    ords: ir.Table,
    period: ReviewPeriod,
    status: pd.DataFrame | None = None,
    model_values: pd.DataFrame | None = None,
    rules: ReviewAssumptions | None = None,
) -> Ledger:
    """Build the ledger for ``period`` from orders (``ords``, before the end of the period) and ``exits``.

    Parameters
    ----------
    backend:
        The store.
    ords:
        Orders before the end of the period (:func:`keepwise.features.orders`).
    period:
        The review month.
    status:
        The result of :func:`lost_status`, if already computed.
    model_values:
        Optional ``customer_id``, ``value`` (Decimal): a model's discounted lifetime value per customer; when
        given, it replaces the annuity figure for the customers it covers.
    rules:
        The lost-customer rule and lifetime-value horizon (``[review]`` of ``keepwise.toml``; default: the
        documented defaults).
    """
    rules = rules or ReviewAssumptions()
    years, rate = rules.lifetime_years, rules.discount_rate
    d = lost_status(backend, ords, period, rules) if status is None else status
    start, end = pd.Timestamp(period.year_start), pd.Timestamp(period.end)
    before = d["lost"] & (d["lost_at"] < start)
    at_risk = int((d["first_order_at"].notna() & ~before).sum())
    lost = d[d["lost"] & (d["lost_at"] >= start) & (d["lost_at"] < end)].copy()
    lost = lost.sort_values(["lost_at", "customer_id"]).reset_index(drop=True)
    factor = annuity_factor(12 * years, rate)
    monthly, simple, disc = [], [], []
    model = (
        {}
        if model_values is None
        else dict(zip(model_values["customer_id"], model_values["value"], strict=True))
    )
    for r in _records(lost):
        if pd.isna(r["first_order_at"]) or r["margin"] is None or pd.isna(r["margin"]):
            m = Decimal(0)
        else:
            m = Decimal(r["margin"]) / _months_spanned(
                pd.Timestamp(r["first_order_at"]), pd.Timestamp(r["last_order_at"])
            )
        monthly.append(m)
        simple.append(m * 12 * years)
        disc.append(Decimal(model[r["customer_id"]]) if r["customer_id"] in model else m * factor)
    lost["monthly_margin"] = pd.Series([money(v) for v in monthly], index=lost.index, dtype=object)
    lost["annual_margin"] = pd.Series([money(v * 12) for v in monthly], index=lost.index, dtype=object)
    lost["simple_value"] = pd.Series([money(v) for v in simple], index=lost.index, dtype=object)
    lost["discounted_value"] = pd.Series([money(v) for v in disc], index=lost.index, dtype=object)
    each, how = _replacement_cost(backend, period.year_start, period.end)
    reasons = lost["reason"].value_counts()
    by_reason = {str(k): int(v) for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], str(kv[0])))}
    comp = lost["competitor"].dropna().value_counts()
    competitors = {str(k): int(v) for k, v in sorted(comp.items(), key=lambda kv: (-kv[1], str(kv[0])))}
    method = (
        "purchase-model lifetime value"
        if model
        else f"annuity of the monthly margin over {years} years at {rate * 100:.0f}% a year"
    )
    return Ledger(
        month=period.month,
        count=len(lost),
        at_risk=at_risk,
        by_reason=by_reason,
        competitors=competitors,
        customers=lost[
            [
                "customer_id",
                "lost_at",
                "how",
                "reason",
                "competitor",
                "monthly_margin",
                "annual_margin",
                "simple_value",
                "discounted_value",
            ]
        ],
        annual_margin_lost=money(sum((v * 12 for v in monthly), Decimal(0))),
        simple_value_lost=money(sum(simple, Decimal(0))),
        discounted_value_lost=money(sum(disc, Decimal(0))),
        discounted_method=method,
        replacement_cost_each=money(each),
        replacement_cost=money(each * len(lost)),
        notes=[rule_text(rules), f"replacement cost: {how}"],
        rules=rules,
    )
