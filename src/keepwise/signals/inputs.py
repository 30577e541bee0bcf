"""What every warning rule reads: the order expressions and one per-customer summary, computed once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import ibis.expr.types as ir
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from keepwise import features
from keepwise.config import ReviewAssumptions
from keepwise.signals.customers import compact_frame, rfm_cadence_columns
from keepwise.signals.period import ReviewPeriod
from keepwise.value.worth import annual_margins, years_as_customer

__all__ = ["MIN_TENURE_DAYS", "SignalInputs", "among", "money", "prepare", "to_frame"]

#: Margins are annualised over at least this many days, so a brand-new customer's first order is not
#: extrapolated into a huge yearly figure.
MIN_TENURE_DAYS = 90.0

CENT = Decimal("0.01")


def to_frame(expr: ir.Table) -> pd.DataFrame:
    """Run ``expr`` and return a DataFrame through Arrow.

    Decimals arrive as ``Decimal`` in one pass, much faster than Ibis' value-by-value ``to_pandas``.
    """
    return expr.to_pyarrow().to_pandas()


def among(ids: pd.Series, members: Iterable[Any]) -> np.ndarray:
    """Whether each id of ``ids`` is one of ``members`` (a boolean array, one value per id).

    A set lookup per id: pandas' ``isin`` on Arrow-backed text makes an Arrow scalar of every member first,
    about ten times slower at 100,000 customers.
    """
    wanted = members if isinstance(members, set | frozenset) else set(members)
    values = ids.to_numpy(dtype=object)
    return np.fromiter((v in wanted for v in values), dtype=bool, count=len(values))


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows of ``frame`` as plain dicts (typed loosely, for building evidence strings)."""
    return [dict(zip(frame.columns, row, strict=True)) for row in frame.itertuples(index=False, name=None)]


def money(value: Any) -> Decimal:
    """An amount as a ``Decimal`` rounded half-even to cents (non-finite or missing values become 0.00)."""
    if isinstance(value, Decimal):
        return value.quantize(CENT, rounding=ROUND_HALF_EVEN)
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return Decimal("0.00")
    return Decimal(repr(float(value))).quantize(CENT, rounding=ROUND_HALF_EVEN)


@dataclass
class SignalInputs:
    """Inputs shared by the warning rules for one review period.

    Attributes
    ----------
    period:
        The review month.
    lines, orders:
        Ibis expressions of order lines and orders before the end of the period (cached in the engine by the
        review).
    summary:
        One row per customer with a purchase before the end of the period: the columns of
        :func:`keepwise.features.rfm` and :func:`keepwise.features.cadence`, plus ``annual_margin`` (the
        customer's margin a year, :func:`keepwise.value.worth.customer_worth`: lifetime margin over their
        years as a customer, at least one), ``basis`` (how it was reached), ``orders_per_year`` (purchase
        orders per year since the first purchase, over at least :data:`MIN_TENURE_DAYS`) and
        ``lost`` (already in the lost-customer ledger at the end of the period: warnings skip them).
    p_alive:
        ``customer_id``, ``p_alive`` (at the end of the period) and ``p_alive_prev`` (at the end of the month
        before), or ``None`` when no purchase model is available.
    notes:
        Remarks for the report (e.g. why a rule was not evaluated).
    model, rft:
        The fitted BG/NBD model and every customer's ``frequency``, ``recency``, ``T`` (weeks) at the end of
        the period, when the model is available.
    rules:
        The thresholds of the warning rules (``[review]`` in ``keepwise.toml``).
    currency:
        The reporting currency, for money in the warnings' evidence.
    days:
        The purchase days of ``orders`` (:func:`keepwise.features.purchase_days`), when computed once for
        the run (``None``: the rules compute them).
    customers, customer_rows:
        The review's customer table (:func:`keepwise.signals.customers.customer_table`) in the engine and
        fetched, when computed once for the run (``None``: the rules group the orders themselves).
    """

    period: ReviewPeriod
    lines: ir.Table
    orders: ir.Table
    summary: pd.DataFrame
    p_alive: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    model: Any = None
    rft: pd.DataFrame | None = None
    rules: ReviewAssumptions = field(default_factory=ReviewAssumptions)
    currency: str = "USD"
    days: ir.Table | None = None
    customers: ir.Table | None = None
    customer_rows: pa.Table | None = None


def prepare(
    lines: ir.Table,
    ords: ir.Table,
    period: ReviewPeriod,
    lost_ids: set[str] | None = None,
    rules: ReviewAssumptions | None = None,
    *,
    customers: pa.Table | None = None,
) -> SignalInputs:
    """Compute the shared per-customer summary for ``period`` (one engine query, one row per customer).

    ``customers``: the review's customer table (:func:`keepwise.signals.customers.customer_table`, fetched),
    read instead of grouping the orders again.
    """
    if customers is None:
        rfm = features.rfm(ords, period.end)
        cad = features.cadence(ords, period.end).drop("last_order_at")
        table = rfm.left_join(cad, "customer_id").drop("customer_id_right").to_pyarrow()
    else:
        table = rfm_cadence_columns(customers)
    table = table.filter(pc.fill_null(pc.greater(table["n_orders"], 0), False))
    summary = compact_frame(table)  # revenue and margin stay exact decimals, in Arrow
    tenure = np.maximum(summary["tenure_days"].astype(float), MIN_TENURE_DAYS)
    # customer_worth's margin a year and basis, without a Decimal per customer (the same figures)
    n = pd.to_numeric(summary["n_days"], errors="coerce").fillna(0).astype(int).to_numpy()
    years = years_as_customer(
        n,
        pd.to_datetime(summary["first_order_at"], utc=True).dt.floor("D"),
        pd.to_datetime(summary["last_order_at"], utc=True).dt.floor("D"),
    )
    summary["annual_margin"] = annual_margins(table["margin"], years)
    summary["basis"] = np.select([n > 1, n == 1], ["history", "one purchase"], "no purchase")
    summary["orders_per_year"] = summary["n_orders"].astype(float) * 365.25 / tenure
    summary["lost"] = among(summary["customer_id"], lost_ids or set())
    return SignalInputs(
        period=period,
        lines=lines,
        orders=ords,
        summary=summary,
        rules=rules or ReviewAssumptions(),
        customer_rows=customers,
    )
