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
Every figure is the customer's one honest value, :func:`keepwise.value.worth.customer_worth`:

* margin a year = lifetime margin / years as a customer (first to last purchase plus one mean gap between
  purchases, **at least one year**), so nobody is annualised from a short life and a one-time buyer is valued
  by their one purchase (``basis`` says which); monthly margin = that / 12;
* discounted lifetime value lost = the purchase model's figure (discounted expected purchases over
  :data:`HORIZON_YEARS` at :data:`DISCOUNT_RATE` a year from the moment after their last purchase x margin per
  purchase), only when the model is available; otherwise it is not estimated (``None``, said in the notes);
* simple lifetime value lost = margin a year x :data:`HORIZON_YEARS` (20, ``[review] lifetime_years``),
  undiscounted: seed arithmetic, given only beside the model's discounted value;
* replacement cost = the average acquisition cost of customers acquired in the same twelve months (of all
  customers when none were), per lost customer; **unknown** (``None``) when no acquisition cost is recorded,
  never 0.

The ledger also gives the business's margin over the same twelve months: the lost customers' margin a year
cannot exceed what the whole business earned in a year.

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
import pyarrow as pa

from keepwise.config import ReviewAssumptions
from keepwise.signals.customers import history_frame, latest_exits
from keepwise.signals.inputs import money, to_frame
from keepwise.signals.period import ReviewPeriod
from keepwise.store import Store
from keepwise.store.inventory import Note
from keepwise.value.worth import RULE as WORTH_RULE
from keepwise.value.worth import customer_worth, history, model_values

__all__ = [
    "DISCOUNT_RATE",
    "HORIZON_YEARS",
    "INACTIVITY_DAYS",
    "INACTIVITY_GAPS",
    "Ledger",
    "annuity_factor",
    "build_ledger",
    "isoformat",
    "lost_status",
    "model_lifetime_values",
]

# The defaults; ``[review]`` in keepwise.toml overrides them (pass ``rules`` to the functions below).
HORIZON_YEARS = ReviewAssumptions.lifetime_years
DISCOUNT_RATE = ReviewAssumptions.discount_rate
INACTIVITY_DAYS = float(ReviewAssumptions.inactivity_days)
INACTIVITY_GAPS = ReviewAssumptions.inactivity_gaps

#: The columns of the ledger's ``customers`` frame (money as ``Decimal``; the last two ``None`` without the
#: purchase model).
CUSTOMER_COLUMNS = [
    "customer_id",
    "lost_at",
    "how",
    "reason",
    "competitor",
    "basis",
    "years",
    "monthly_margin",
    "annual_margin",
    "discounted_value",
    "simple_value",
]


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


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


@dataclass
class Ledger:
    """The lost-customer ledger of one review month (see the module docstring for the rules).

    ``simple_value_lost``, ``discounted_value_lost`` and ``discounted_method`` are ``None`` without the
    purchase model; ``replacement_cost_each`` and ``replacement_cost`` are ``None`` (unknown) without
    acquisition costs. ``notes`` name the inputs that were missing and what was done instead.
    """

    month: str
    count: int
    at_risk: int
    by_reason: dict[str, int]
    competitors: dict[str, int]
    customers: pd.DataFrame
    annual_margin_lost: Decimal
    simple_value_lost: Decimal | None
    discounted_value_lost: Decimal | None
    discounted_method: str | None
    replacement_cost_each: Decimal | None
    replacement_cost: Decimal | None
    notes: list[Note] = field(default_factory=list)
    rules: ReviewAssumptions = field(default_factory=ReviewAssumptions)
    replacement_source: str = ""
    one_time_buyers: int = 0
    business_margin: Decimal | None = None

    @property
    def rate(self) -> float:
        """Lost customers over customers at risk (0 when none were at risk)."""
        return self.count / self.at_risk if self.at_risk else 0.0

    def money_text(self, column: str) -> list[str | None]:
        """The texts of a money column of ``customers`` (``None`` where unknown), made once per ledger.

        The JSON and the review's ``lost`` table share them (the same strings, not copies).
        """
        cache = self.__dict__.setdefault("_texts", {})
        if column not in cache:
            cache[column] = [_text(v) for v in self.customers[column]]
        texts: list[str | None] = cache[column]
        return texts

    def to_json(self) -> dict[str, Any]:
        """The ledger as JSON-able data, money as strings with two decimals (``null`` where unknown)."""
        c = self.customers
        columns = {  # column by column, then zipped: a row dict per customer costs 3x as much at 500k rows
            "customer_id": c["customer_id"].tolist(),
            "lost_at": isoformat(c["lost_at"]),
            "how": c["how"].tolist(),
            "reason": c["reason"].tolist(),
            "competitor": [v if isinstance(v, str) else None for v in c["competitor"]],
            "basis": c["basis"].tolist(),
            "years": [float(v) for v in c["years"]],
            "monthly_margin": self.money_text("monthly_margin"),
            "annual_margin": self.money_text("annual_margin"),
            "discounted_value": self.money_text("discounted_value"),
            "simple_value": self.money_text("simple_value"),
        }
        keys = list(columns)
        rows = [dict(zip(keys, values, strict=True)) for values in zip(*columns.values(), strict=True)]
        years = self.rules.lifetime_years
        return {
            "month": self.month,
            "rule": rule_text(self.rules),
            "count": self.count,
            "at_risk": self.at_risk,
            "rate": round(self.rate, 4),
            "by_reason": self.by_reason,
            "competitors": self.competitors,
            "annual_margin_lost": str(self.annual_margin_lost),
            "annual_margin_rule": WORTH_RULE,
            "one_time_buyers": self.one_time_buyers,
            "business_margin_12_months": _text(self.business_margin),
            "lifetime_value_lost": {
                "discounted": _text(self.discounted_value_lost),
                "discounted_method": self.discounted_method,
                "simple": _text(self.simple_value_lost),
                "simple_rule": (
                    f"margin a year x {years} years, undiscounted (seed arithmetic, shown only beside the "
                    "purchase model's discounted value)"
                ),
            },
            "replacement_cost": {
                "per_customer": _text(self.replacement_cost_each),
                "total": _text(self.replacement_cost),
                "source": self.replacement_source,
            },
            "customers": rows,
            "notes": [n.to_json() for n in self.notes],
        }


def isoformat(values: pd.Series) -> list[str]:
    """Each timestamp's ``isoformat()``, for a whole column at once (a ``Timestamp`` per value costs 4 us).

    UTC times from 1970 on are written from their nanoseconds since the epoch, as pandas writes them: seconds,
    then six or nine decimals when there is a fraction of a second, then ``+00:00``; anything else (another
    zone, missing values) value by value.
    """
    s = pd.Series(values)
    tz = getattr(s.dt, "tz", None) if s.dtype.kind == "M" else None
    if tz is None or str(tz) != "UTC" or s.isna().any():
        return [v.isoformat() for v in s]
    ns = s.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]")
    ticks = ns.astype("int64")
    if len(ticks) and ticks.min() < 0:
        return [v.isoformat() for v in s]
    seconds = np.datetime_as_string(ns.astype("datetime64[s]"), unit="s").tolist()
    out = []
    for text, frac in zip(seconds, (ticks % 1_000_000_000).tolist(), strict=True):
        if frac == 0:
            out.append(text + "+00:00")
        elif frac % 1000 == 0:
            out.append(f"{text}.{frac // 1000:06d}+00:00")
        else:
            out.append(f"{text}.{frac:09d}+00:00")
    return out


def _utc(values: Any) -> pd.Series:
    """Timestamps as UTC-aware pandas values (a value without a zone is read as UTC)."""
    return pd.Series(pd.to_datetime(values, utc=True))


def _months_spanned(first: pd.Timestamp, last: pd.Timestamp) -> int:
    return (last.year * 12 + last.month) - (first.year * 12 + first.month) + 1


def lost_status(
    backend: Store,
    ords: ir.Table,
    period: ReviewPeriod,
    rules: ReviewAssumptions | None = None,
    *,
    days: ir.Table | None = None,
    customers: pa.Table | None = None,
) -> pd.DataFrame:
    """Every customer's lost status at the end of ``period`` (the inactivity rule of ``rules``).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``first_order_at``, ``last_order_at``, ``margin`` (Decimal), ``lost`` (bool),
        ``lost_at``, ``how`` ("exit" or "inactivity"), ``reason``, ``competitor``, and what
        :func:`keepwise.value.worth.customer_worth` reads: ``purchase_days``, ``first_day``, ``last_day``.

    ``days``: the purchase days of ``ords`` (:func:`keepwise.features.purchase_days`), when already computed;
    ``customers``: the review's customer table (:func:`keepwise.signals.customers.customer_table`, fetched,
    with its exits), whose history and exits are read instead of grouping the orders again.
    """
    if customers is not None and "reason_code" in customers.column_names:
        d = history_frame(customers)  # the exits joined in the engine (every customer with either)
    else:
        summary = to_frame(history(ords, days)) if customers is None else history_frame(customers)
        exits = to_frame(latest_exits(backend.table("exits"), period.end))
        d = summary.merge(exits, on="customer_id", how="outer")
    n_gaps = d["purchase_days"].fillna(0).astype(float) - 1
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
    d["purchase_days"] = d["purchase_days"].fillna(0).astype(int)
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
            "purchase_days",
            "first_day",
            "last_day",
        ]
    ]


def model_lifetime_values(
    model: Any, rft: pd.DataFrame, status: pd.DataFrame, rules: ReviewAssumptions | None = None
) -> pd.DataFrame:
    """The purchase model's discounted lifetime value of each lost customer, as at their last purchase.

    See :func:`keepwise.value.worth.model_values` (the one place it is computed).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``value`` (``Decimal``, cents).
    """
    lost = status[status["lost"] & status["margin"].notna()][["customer_id", "margin"]]
    values = model_values(model, rft, lost, rules)
    return pd.DataFrame({"customer_id": list(values), "value": list(values.values())})


def _replacement_cost(
    backend: Store, start: datetime, end: datetime
) -> tuple[Decimal | None, str, Note | None]:
    """Average acquisition cost (``None``: unknown), where it comes from, and a note if costs are missing."""
    c = backend.table("customers")
    cost = c.acquisition_cost
    recent = (c.acquired_at >= ibis.literal(start)) & (c.acquired_at < ibis.literal(end))
    # one query: the counts, and the totals of the recent customers and of all with a cost
    counts = (
        c.aggregate(
            n=c.count(),
            known=cost.count(),
            recent_total=cost.sum(where=recent),
            recent_n=cost.count(where=recent),
            total=cost.sum(),
        )
        .to_pyarrow()
        .to_pylist()[0]
    )
    n, known = int(counts["n"]), int(counts["known"] or 0)
    if known == 0:
        note = Note(
            "customers.acquisition_cost",
            f"empty on all {n:,} rows of customers" if n else "no rows in customers",
            "the cost of replacing lost customers is unknown (not 0)",
        )
        return None, "unknown: no acquisition costs are recorded", note
    for stats, where in (
        (
            {"total": counts["recent_total"], "n": int(counts["recent_n"] or 0)},
            "acquired in the same twelve months",
        ),
        ({"total": counts["total"], "n": known}, "on record"),
    ):
        if stats["n"]:
            how = f"average acquisition cost of the {stats['n']:,} customers {where} with one recorded"
            if known < n:
                how += f" ({n - known:,} of {n:,} customers have no acquisition cost)"
                note = Note(
                    "customers.acquisition_cost",
                    f"empty on {n - known:,} of {n:,} rows of customers",
                    f"replacement cost is the {how}",
                )
                return Decimal(stats["total"]) / stats["n"], how, note
            return Decimal(stats["total"]) / stats["n"], how, None
    return None, "unknown", None  # not reached: known > 0


def _business_margin(ords: ir.Table, start: datetime, end: datetime) -> Decimal | None:
    """The whole business's margin on orders in ``[start, end)`` (``None`` without orders)."""
    w = ords.filter((ords.ordered_at >= ibis.literal(start)) & (ords.ordered_at < ibis.literal(end)))
    total = w.margin.sum().to_pyarrow().as_py()
    return None if total is None else money(Decimal(str(total)))


def _money_or_none(total: Any) -> Decimal | None:
    """:func:`_business_margin`'s rounding of a total (``None`` without orders)."""
    return None if total is None else money(Decimal(str(total)))


def build_ledger(
    backend: Store,
    ords: ir.Table,
    period: ReviewPeriod,
    status: pd.DataFrame | None = None,
    model_values: pd.DataFrame | None = None,
    rules: ReviewAssumptions | None = None,
    *,
    model: Any = None,
    rft: pd.DataFrame | None = None,
    figures: dict[str, Any] | None = None,
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
        Optional ``customer_id``, ``value`` (Decimal): the purchase model's discounted lifetime values,
        already computed (:func:`model_lifetime_values`).
    rules:
        The lost-customer rule and lifetime-value horizon (``[review]`` of ``keepwise.toml``; default: the
        documented defaults).
    model, rft:
        The fitted purchase model and every customer's ``frequency``, ``recency`` (weeks), to compute the
        discounted values here.
    figures:
        :func:`keepwise.signals.customers.scalars` of the review's customer table: the business's margin of
        the twelve months is taken from it instead of adding up the orders again.
    """
    rules = rules or ReviewAssumptions()
    d = lost_status(backend, ords, period, rules) if status is None else status
    start, end = pd.Timestamp(period.year_start), pd.Timestamp(period.end)
    before = d["lost"] & (d["lost_at"] < start)
    at_risk = int((d["first_order_at"].notna() & ~before).sum())
    lost = d[d["lost"] & (d["lost_at"] >= start) & (d["lost_at"] < end)].copy()
    lost = lost.sort_values(["lost_at", "customer_id"]).reset_index(drop=True)
    given = (
        None
        if model_values is None
        else {
            str(c): v if type(v) is Decimal else Decimal(v)
            for c, v in zip(model_values["customer_id"].tolist(), model_values["value"].tolist(), strict=True)
        }
    )
    w = customer_worth(lost, model=model, rft=rft, rules=rules, model_value=given)
    for col in ("basis", "years", "monthly_margin", "annual_margin", "discounted_value", "simple_value"):
        lost[col] = w[col].to_numpy()
    if len(lost):
        has_model = bool(lost["discounted_value"].notna().any())
    else:
        has_model = given is not None or (model is not None and rft is not None)
    notes: list[Note] = []
    each, how, note = _replacement_cost(backend, period.year_start, period.end)
    if note is not None:
        notes.append(note)
    if not has_model and len(lost):
        notes.append(
            Note(
                "purchase model",
                "not available (too little repeat buying to fit it, or it failed)",
                "the lifetime value of lost customers is not estimated; their margin a year is shown",
            )
        )
    reasons = lost["reason"].value_counts()
    by_reason = {str(k): int(v) for k, v in sorted(reasons.items(), key=lambda kv: (-kv[1], str(kv[0])))}
    comp = lost["competitor"].dropna().value_counts()
    competitors = {str(k): int(v) for k, v in sorted(comp.items(), key=lambda kv: (-kv[1], str(kv[0])))}
    method = "purchase-model lifetime value" if has_model else None
    disc = [v for v in lost["discounted_value"] if v is not None and not pd.isna(v)]
    simple = [v for v in lost["simple_value"] if v is not None and not pd.isna(v)]
    return Ledger(
        month=period.month,
        count=len(lost),
        at_risk=at_risk,
        by_reason=by_reason,
        competitors=competitors,
        customers=lost[CUSTOMER_COLUMNS],
        annual_margin_lost=money(sum(lost["annual_margin"], Decimal(0))),
        simple_value_lost=money(sum(simple, Decimal(0))) if has_model else None,
        discounted_value_lost=money(sum(disc, Decimal(0))) if has_model else None,
        discounted_method=method,
        replacement_cost_each=None if each is None else money(each),
        replacement_cost=None if each is None else money(each * len(lost)),
        notes=notes,
        rules=rules,
        replacement_source=how,
        one_time_buyers=int((lost["basis"] == "one purchase").sum()),
        business_margin=(
            _business_margin(ords, period.year_start, period.end)
            if figures is None
            else _money_or_none(figures["margin_year"])
        ),
    )
