"""The profit stage: each customer's real profit, the tiers and the whale curve, kept in the store.

:func:`run` computes what ``keepwise profit`` prints (:mod:`keepwise.value.profitability`) and writes it back:
one row per customer to the ``profit`` table (``profit_ttm``, ``profit_lifetime`` for the other views),
replacing the rows of the same month, and the document itself (:meth:`keepwise.store.Store.save_document`,
kind ``profit``), which the dashboard reads instead of computing again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

import pandas as pd
import pyarrow as pa

from keepwise.config import Config, load_config
from keepwise.exceptions import BadInput
from keepwise.store import Store, as_store
from keepwise.store.memo import one_run
from keepwise.value.profitability import FIELDS, View
from keepwise.value.profitability.document import document_and_rows

__all__ = ["KIND", "ProfitResult", "run", "table_name"]

#: Kind of the stored document (:meth:`keepwise.store.Store.save_document`).
KIND = "profit"
#: Columns of the stored rows after ``month``.
COLUMNS: tuple[str, ...] = (
    "customer_id",
    "currency",
    *FIELDS,
    "operating_profit",
    "rank",
    "quintile",
    "tier",
)


@dataclass
class ProfitResult:
    """What one profit run computed.

    Attributes
    ----------
    document:
        What ``keepwise profit --json`` prints (:meth:`to_json`).
    customers:
        One row per customer active in the period, most profitable first (money as Decimal).
    saved:
        Whether the rows and the document were written to the store.
    """

    document: dict[str, Any]
    customers: pd.DataFrame
    saved: bool = False

    @property
    def month(self) -> str:
        """The month reported, ``YYYY-MM``."""
        return str(self.document["month"])

    def to_json(self) -> dict[str, Any]:
        """What ``keepwise profit --json`` prints."""
        return self.document


def table_name(view: View) -> str:
    """The table that keeps the rows of ``view``: ``profit``, ``profit_ttm`` or ``profit_lifetime``."""
    return "profit" if view == "month" else f"profit_{view}"


def run(
    store: Store,
    month: str | None = None,
    *,
    config: Config | None = None,
    save: bool = True,
    view: View = "month",
) -> ProfitResult:
    """Each customer's profit after cost of goods, staff time and concessions; tiers and the whale curve.

    Parameters
    ----------
    store:
        The store (:func:`keepwise.store.connect`; an Ibis backend is accepted too).
    month:
        ``YYYY-MM``; ``None``: the latest month with an order line or a time log.
    config:
        Assumptions; ``None`` reads ``keepwise.toml`` from the working directory.
    save:
        Write the per-customer rows (table :func:`table_name`, replacing the month's rows) and the document
        (kind ``profit``, variant ``view`` except for ``"month"``).
    view:
        ``"month"``, ``"ttm"`` (trailing twelve months ending with ``month``) or ``"lifetime"``.

    Returns
    -------
    ProfitResult
        ``to_json()`` is what ``keepwise profit --json`` prints.
    """
    if view not in get_args(View):
        raise BadInput("view", f"'{view}' is not one of: month, ttm, lifetime")
    store = as_store(store)
    cfg = config or load_config()
    with one_run(store):  # the period's ledger computed once for the document and the customers
        doc, customers = document_and_rows(store, month, view=view, config=cfg)
    if save:
        with store.transaction():
            store.replace_month(table_name(view), doc["month"], _rows(customers), column="month")
            store.save_document(KIND, doc["month"], doc, variant="" if view == "month" else view)
    return ProfitResult(doc, customers, saved=save)


def _rows(customers: pd.DataFrame) -> pd.DataFrame:
    """The rows to store: money as ``DECIMAL(18, 4)`` (Arrow-typed, so every engine gets the exact type)."""
    rows = customers[list(COLUMNS)].copy()
    money = pd.ArrowDtype(pa.decimal128(18, 4))
    for col in (*FIELDS, "operating_profit"):
        rows[col] = rows[col].astype(money)
    rows["rank"] = rows["rank"].astype("int64")
    rows["quintile"] = rows["quintile"].astype("int64")
    return rows
