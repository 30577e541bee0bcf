"""One honest value of a customer, shared by every command: what they brought a year, what the model expects.

Every figure of a customer's worth that keepwise shows (the review's lost-customer ledger and its warnings,
the win-back ranking's monthly profit, the concession advisor's record of the customer, the customer page)
comes from :func:`customer_worth`, so one customer has one value wherever it is shown.

The rules
---------
* **Years as a customer** ``years``: from their first purchase day to their last, plus one mean gap between
  purchase days (the last purchase covered the time until the next would have been due:
  ``span x n / (n - 1)`` for ``n`` purchase days), and **at least one year**. A customer whose whole life was
  shorter than a year brought, in their one year, exactly what they bought: nobody is annualised from a
  short life.
* **Margin a year** ``annual_margin`` = lifetime margin (revenue less cost of goods, net of returns) /
  ``years``; ``monthly_margin`` = that / 12. So a customer's margin a year never exceeds their lifetime
  margin, and the margin a year of any group of customers never exceeds what the group bought.
* ``basis`` says how the figure was reached: ``"one purchase"`` for a customer with a single purchase day
  (valued by that purchase: it is their margin a year) and ``"history"`` for the others (their margin per
  year while active).
* With a lifetime operating profit per customer (``profit``: gross margin less cost to serve and
  concessions, :func:`keepwise.value.profitability.profitability`), ``monthly_profit`` = profit / ``years`` /
  12, the same annualisation.
* **Discounted lifetime value** ``discounted_value``, only with the purchase model: what the model expected
  from the customer the moment after their last purchase (``T = t_x``): discounted expected purchases over
  ``[review] lifetime_years`` at ``[review] discount_rate`` a year
  (:func:`keepwise.value.clv.discounted_expected_purchases`) x their margin per purchase (lifetime margin /
  purchases). Without the model it is not estimated (``None``).
* ``simple_value`` = margin a year x ``lifetime_years``, undiscounted: seed arithmetic, given only beside the
  model's discounted value (``None`` without it).

Money is ``Decimal``, rounded half-even to cents once, at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd

from keepwise.config import ReviewAssumptions
from keepwise.store import Store, as_store

__all__ = [
    "BASES",
    "COLUMNS",
    "DAYS_PER_YEAR",
    "RULE",
    "annual_margins",
    "customer_worth",
    "history",
    "model_values",
    "worth",
    "years_as_customer",
]

DAYS_PER_YEAR = 365.25
_CENT = Decimal("0.01")

#: The values of the ``basis`` column (``no purchase``: only returns or zero-value orders).
BASES = ("history", "one purchase", "no purchase")

#: The columns of :func:`customer_worth`, in order (``monthly_profit`` only when profits are given).
COLUMNS = (
    "customer_id",
    "margin",
    "purchase_days",
    "years",
    "basis",
    "annual_margin",
    "monthly_margin",
    "discounted_value",
    "simple_value",
)

#: The rule in words, for reports and reasons.
RULE = (
    "margin a year = lifetime margin / years as a customer (first to last purchase plus one mean gap, at "
    "least one year); a one-time buyer is valued by their one purchase"
)


def _cents(value: Any) -> Decimal:
    """A Decimal (or number) rounded half-even to cents; missing values become 0.00."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return Decimal("0.00")
    d = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return d.quantize(_CENT, rounding=ROUND_HALF_EVEN)


def _rounded(estimate: np.ndarray, exact: Callable[[int], Decimal]) -> list[Decimal]:
    """Amounts in cents, estimated in binary floating point, as exact ``Decimal`` cents (``0.01`` steps).

    ``exact(i)`` is the amount ``i`` computed in ``Decimal`` and rounded half-even to cents. An estimate a
    few units in its 16th digit off (a division or two of exact inputs) rounds to the same cents unless it
    lies within a hair of half a cent: only there, and for values that are not finite, very large, or negative
    amounts that round to zero (``Decimal`` keeps their sign: ``-0.00``), is ``exact`` called.
    """
    x = np.asarray(estimate, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        cents = np.rint(x)
        doubtful = ~np.isfinite(x) | (np.abs(x) >= 1e15)
        doubtful |= np.abs(x - np.floor(x) - 0.5) < 1e-6 + np.abs(x) * 1e-12
        doubtful |= (cents == 0) & np.signbit(x)
    safe = np.where(doubtful, 0.0, cents).astype(np.int64).tolist()
    out = [Decimal(c) * _CENT for c in safe]
    for i in np.flatnonzero(doubtful).tolist():
        out[i] = exact(i)
    return out


def _exact(value: Any) -> Decimal:
    """A margin as an exact ``Decimal`` (its own text); missing values become 0."""
    if type(value) is Decimal:
        return Decimal(0) if value.is_nan() else value
    if value is None or pd.isna(value):
        return Decimal(0)
    return Decimal(str(value))


def history(ords: ir.Table, days: ir.Table | None = None) -> ir.Table:
    """Per customer, in the engine: what :func:`customer_worth` needs from their orders.

    Parameters
    ----------
    ords:
        One row per order (:func:`keepwise.features.orders`), already cut at the moment of interest.
    days:
        Its purchase days (:func:`keepwise.features.purchase_days` of ``ords``), when already computed.

    Returns
    -------
    ibis.expr.types.Table
        ``customer_id``, ``margin`` (all orders, net of returns), ``first_order_at``, ``last_order_at``,
        ``purchase_days`` (distinct days with an order of positive value), ``first_day``, ``last_day`` (of
        those purchase days).
    """
    if days is None:
        p = ords.filter(ords.value > 0)
        days = p.group_by(["customer_id", p.ordered_at.truncate("D").name("day")]).aggregate()
    per = days.group_by("customer_id").aggregate(
        first_day=days.day.min(), last_day=days.day.max(), purchase_days=days.day.count()
    )
    totals = ords.group_by("customer_id").aggregate(
        margin=ords.margin.sum(), first_order_at=ords.ordered_at.min(), last_order_at=ords.ordered_at.max()
    )
    return totals.left_join(per, "customer_id").drop("customer_id_right")


def years_as_customer(purchase_days: Any, first_day: Any, last_day: Any) -> np.ndarray:
    """First to last purchase day plus one mean gap (``span n / (n - 1)``), at least 1."""
    n = np.asarray(pd.to_numeric(pd.Series(purchase_days), errors="coerce").fillna(0), dtype=float)
    first = pd.Series(pd.to_datetime(pd.Series(first_day), utc=True))
    last = pd.Series(pd.to_datetime(pd.Series(last_day), utc=True))
    span = ((last - first).dt.total_seconds() / 86_400).fillna(0).to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        active = np.where(n > 1, span * n / np.maximum(n - 1, 1), 0.0)
    return np.asarray(np.maximum(active / DAYS_PER_YEAR, 1.0), dtype=float)


def annual_margins(margins: Any, years: np.ndarray) -> np.ndarray:
    """Each ``margin / years`` rounded half-even to cents, as :func:`customer_worth` does, as floats, at once.

    The same figures as ``float(customer_worth(...)["annual_margin"])`` (``Decimal(margin) /
    Decimal(repr(years))``, quantized) without a ``Decimal`` per customer: the quotient is estimated in
    binary floating point, whose error (a few units in the 16th digit) cannot move a rounding to cents
    unless the quotient lies within a hair of half a cent; those few values are computed in ``Decimal``,
    exactly as before. A negative margin rounding to zero is ``-0.0``, as ``float(Decimal("-0.00"))``.

    Parameters
    ----------
    margins:
        Lifetime margins: an Arrow array or column (decimal or float, nulls count as 0) or a sequence.
    years:
        Years as a customer (:func:`years_as_customer`).

    Returns
    -------
    numpy.ndarray
        Margin a year, float, one per margin.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = margins if isinstance(margins, pa.Array | pa.ChunkedArray) else pa.array(margins, from_pandas=True)
    m = np.asarray(pc.fill_null(pc.cast(arr, pa.float64()), 0.0).to_numpy(zero_copy_only=False), dtype=float)
    y = np.asarray(years, dtype=float)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        x = m / y * 100.0
        cents = np.rint(x)
        frac = x - np.floor(x)
        near_half = np.abs(frac - 0.5) < 1e-6 + np.abs(x) * 1e-12
    doubtful = near_half | ~np.isfinite(x) | (np.abs(x) >= 1e15)
    out = cents / 100.0
    out[(cents == 0) & (m < 0)] = -0.0
    for i in np.flatnonzero(doubtful).tolist():
        exact = _exact(arr[i].as_py())
        out[i] = float((exact / Decimal(repr(float(y[i])))).quantize(_CENT, rounding=ROUND_HALF_EVEN))
    return out


def model_values(
    model: Any, rft: pd.DataFrame, margins: pd.DataFrame, rules: ReviewAssumptions | None = None
) -> dict[str, Decimal]:
    """The purchase model's discounted lifetime value of each customer, as at their last purchase.

    Parameters
    ----------
    model:
        A fitted BG/NBD model (weeks).
    rft:
        ``customer_id``, ``frequency`` (repeat purchase days), ``recency`` (weeks from the first to the last).
    margins:
        ``customer_id``, ``margin`` (lifetime margin).
    rules:
        ``lifetime_years`` and ``discount_rate`` (``[review]``).

    Returns
    -------
    dict
        Customer id -> value (``Decimal``, cents): discounted expected purchases from ``T = t_x`` over
        ``lifetime_years`` x lifetime margin / (frequency + 1); customers the model gives no finite value
        are left out.
    """
    from keepwise.value.clv import discounted_expected_purchases

    rules = rules or ReviewAssumptions()
    d = margins[margins["margin"].notna()][["customer_id", "margin"]].merge(
        rft[["customer_id", "frequency", "recency"]], on="customer_id"
    )
    if d.empty:
        return {}
    purchases = discounted_expected_purchases(
        model,
        d["frequency"],
        d["recency"],
        d["recency"],
        12 * rules.lifetime_years,
        float(rules.discount_rate),
        "week",
    )
    per_purchase = d["margin"].astype(float).to_numpy() / (d["frequency"].to_numpy(float) + 1)
    values = np.asarray(purchases, dtype=float) * per_purchase
    # a value the model cannot give (not finite) is left out, never shown as 0.00
    finite = np.isfinite(values)
    ids = d["customer_id"].astype(str).to_numpy(dtype=object)[finite].tolist()
    kept = values[finite]
    with np.errstate(over="ignore", invalid="ignore"):
        cents = _rounded(
            kept * 100.0, lambda i: Decimal(repr(float(kept[i]))).quantize(_CENT, rounding=ROUND_HALF_EVEN)
        )
    return dict(zip(ids, cents, strict=True))


def customer_worth(
    hist: pd.DataFrame,
    *,
    profit: Mapping[str, Any] | None = None,
    model: Any = None,
    rft: pd.DataFrame | None = None,
    rules: ReviewAssumptions | None = None,
    model_value: Mapping[str, Decimal] | None = None,
) -> pd.DataFrame:
    """Each customer's honest value (see the module docstring for the rules): THE one place it is computed.

    Parameters
    ----------
    hist:
        One row per customer: ``customer_id``, ``margin`` (lifetime, ``Decimal`` or number),
        ``purchase_days``, ``first_day``, ``last_day`` (:func:`history`, run).
    profit:
        Optional lifetime operating profit per customer id: adds ``monthly_profit`` (same years).
    model, rft:
        The fitted purchase model and every customer's ``frequency``, ``recency`` (weeks): adds the
        discounted model-based value (and the simple figure beside it).
    rules:
        ``[review]`` (lifetime years, discount rate).
    model_value:
        Discounted values already computed (customer id -> ``Decimal``), instead of ``model`` and ``rft``.

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS` (plus ``monthly_profit`` with ``profit``), one row per row of ``hist``, same order;
        money as ``Decimal`` (``discounted_value`` and ``simple_value`` ``None`` without the model).
    """
    rules = rules or ReviewAssumptions()
    d = hist.reset_index(drop=True)
    n = pd.to_numeric(d["purchase_days"], errors="coerce").fillna(0).astype(int)
    years = years_as_customer(n, d["first_day"], d["last_day"])
    margins = [_exact(m) for m in d["margin"].to_numpy(dtype=object)]
    ids = d["customer_id"].astype(str)
    if model_value is None and model is not None and rft is not None:
        model_value = model_values(model, rft, pd.DataFrame({"customer_id": ids, "margin": margins}), rules)
    model_value = model_value or {}
    # exact Decimal money, computed from binary estimates of the cents (see _rounded): no Decimal division
    # per customer, only where an estimate lies within a hair of half a cent
    lifetime = rules.lifetime_years
    id_list = ids.tolist()
    m_float = np.array([float(m) for m in margins], dtype=float)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        per_year_cents = m_float / years * 100.0
    divisor: dict[int, Decimal] = {}

    def per_year(i: int) -> Decimal:
        y = divisor.get(i)
        if y is None:
            y = divisor[i] = Decimal(repr(float(years[i])))
        return margins[i] / y

    annual = _rounded(per_year_cents, lambda i: per_year(i).quantize(_CENT, rounding=ROUND_HALF_EVEN))
    monthly = _rounded(
        per_year_cents / 12, lambda i: (per_year(i) / 12).quantize(_CENT, rounding=ROUND_HALF_EVEN)
    )
    given = [model_value.get(cid) for cid in id_list]
    disc: list[Decimal | None] = [None if v is None else _cents(v) for v in given]
    simple: list[Decimal | None] = [None] * len(given)
    valued = [i for i, v in enumerate(given) if v is not None]
    if valued:
        at = np.asarray(valued, dtype=np.int64)
        lifetime_values = _rounded(
            per_year_cents[at] * lifetime,
            lambda j: (per_year(valued[j]) * lifetime).quantize(_CENT, rounding=ROUND_HALF_EVEN),
        )
        for i, v in zip(valued, lifetime_values, strict=True):
            simple[i] = v
    margin_cents = _rounded(m_float * 100.0, lambda i: margins[i].quantize(_CENT, rounding=ROUND_HALF_EVEN))
    out = pd.DataFrame(
        {
            "customer_id": ids,
            "margin": pd.Series(margin_cents, dtype=object),
            "purchase_days": n.to_numpy(),
            "years": np.round(years, 4),
            "basis": np.select(
                [n.to_numpy() > 1, n.to_numpy() == 1], ["history", "one purchase"], "no purchase"
            ),
            "annual_margin": pd.Series(annual, dtype=object),
            "monthly_margin": pd.Series(monthly, dtype=object),
            "discounted_value": pd.Series(disc, dtype=object),
            "simple_value": pd.Series(simple, dtype=object),
        }
    )
    if profit is not None:
        out["monthly_profit"] = pd.Series(
            [
                _cents(Decimal(str(profit.get(c) or 0)) / y / 12)
                for c, y in zip(id_list, (Decimal(repr(y)) for y in years.tolist()), strict=True)
            ],
            dtype=object,
        )
    return out


def worth(
    store: Store,
    customer_ids: list[str] | None = None,
    *,
    before: datetime | None = None,
    rules: ReviewAssumptions | None = None,
) -> pd.DataFrame:
    """:func:`customer_worth` of ``customer_ids`` (default: everyone who bought) from the store's orders.

    Parameters
    ----------
    store:
        The store (an Ibis backend is wrapped).
    customer_ids:
        The customers to value (filtered in the engine); ``None``: every customer with an order.
    before:
        Only orders before this moment (``None``: all).
    rules:
        ``[review]`` (lifetime years, discount rate).

    Returns
    -------
    pandas.DataFrame
        :data:`COLUMNS`, plus ``first_order_at`` and ``last_order_at`` (no model here: the discounted value
        and the simple figure are ``None``).
    """
    from keepwise import features

    store = as_store(store)
    if customer_ids is not None and len(customer_ids) == 1:  # a page's one customer: compiled once
        h = _one(store, str(customer_ids[0]), before).to_pandas()
    else:
        lines = features.order_lines(store, before)
        if customer_ids is not None:
            lines = lines.filter(lines.customer_id.isin([str(c) for c in customer_ids] or [""]))
        h = history(features.orders(lines)).to_pyarrow().to_pandas()
    out = customer_worth(h, rules=rules)
    out["first_order_at"] = pd.to_datetime(h["first_order_at"], utc=True).reset_index(drop=True)
    out["last_order_at"] = pd.to_datetime(h["last_order_at"], utc=True).reset_index(drop=True)
    return out


def _one(store: Store, customer_id: str, before: datetime | None) -> Any:
    """:func:`history` of one customer's orders before ``before`` (Arrow), compiled once per process."""
    from keepwise import features
    from keepwise.features.orders import margin_rate_of
    from keepwise.store.customer_history import one_customer

    rate = margin_rate_of("config")

    def build(cid: str) -> ir.Table:
        lines = features.order_lines(store, before, margin_rate=rate)
        return history(features.orders(lines.filter(lines.customer_id.isin([cid]))))

    return one_customer(store, ("worth", before, rate), build, customer_id, ("orders", "products"))
