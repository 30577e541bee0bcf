"""The UCI "Online Retail" data set: a real UK gift-ware wholesaler's invoices, in pounds sterling (GBP).

Bundled as ``datasets/data/online_retail_gbp.csv.xz``: every invoice line of the 4,372 customers with an id,
2010-12-01 to 2011-12-09, as published. Source: the UCI Machine Learning Repository, "Online Retail" (id 352,
https://doi.org/10.24432/C5BW33, licensed CC BY 4.0; Chen, Sain and Guo 2012), read from the onlineretail
0.1.2 package for R (CC0, included with the donor's permission). Details in ``datasets/data/README.md``.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

__all__ = ["load_online_retail", "load_online_retail_lines", "online_retail_tables"]

_FILE = resources.files("keepwise.datasets") / "data" / "online_retail_gbp.csv.xz"

#: The shop's own clock: invoice times are local time in the United Kingdom.
LOCAL_TIME = "Europe/London"


def load_online_retail_lines() -> pd.DataFrame:
    """The bundled invoice lines as published: 406,829 lines of 4,372 customers, 2010-12-01 to 2011-12-09.

    Columns: ``invoice`` (text; a leading ``C`` marks a cancellation, whose quantities are negative),
    ``stock_code`` (text), ``quantity`` (int), ``invoiced_at`` (``datetime64``, UTC, from the shop's local
    time), ``unit_price`` (text, pounds sterling, as published with up to three decimals) and
    ``customer_id`` (text, five digits).

    Source: the UCI Machine Learning Repository's "Online Retail" data set (Chen, Sain and Guo 2012), lines
    without a customer id left out; see ``datasets/data/README.md``.
    """
    with _FILE.open("rb") as f:
        raw = pd.read_csv(
            f,
            compression="xz",
            dtype={"invoice": str, "stock_code": str, "unit_price": str, "customer_id": str},
        )
    raw["quantity"] = raw["quantity"].astype("int64")
    local = pd.to_datetime(raw["invoiced_at"], format="%Y-%m-%d %H:%M")
    raw["invoiced_at"] = local.dt.tz_localize(LOCAL_TIME).dt.tz_convert("UTC")
    return raw


def load_online_retail() -> pd.DataFrame:
    """Online Retail as order lines in the keepwise contract layout (table ``orders``), in GBP.

    One order per invoice (a cancellation is an order of its own with negative quantities, the contract's
    returns), one line per published line, numbered within the invoice in the published order. No unit
    costs and no categories: the data has neither.

    Shape: 406,829 rows, 22,190 invoices (3,654 of them cancellations), 4,372 customers.
    """
    raw = load_online_retail_lines()
    return pd.DataFrame(
        {
            "order_id": raw["invoice"],
            "line_no": (raw.groupby("invoice").cumcount() + 1).astype(str),
            "customer_id": raw["customer_id"],
            "ordered_at": raw["invoiced_at"],
            "product_id": raw["stock_code"],
            "category": None,
            "quantity": raw["quantity"],
            "unit_price": raw["unit_price"],
            "unit_cost": None,
            "currency": "GBP",
        }
    )


def online_retail_tables() -> dict[str, pd.DataFrame]:
    """Online Retail as the contract tables ``customers`` and ``orders``, ready for :func:`keepwise.load`.

    Customers carry their first invoice as ``acquired_at`` and ``GBP`` as their currency; nothing else
    (no costs, incidents, exits or consent) is in the data.
    """
    orders = load_online_retail()
    first = orders.groupby("customer_id", as_index=False)["ordered_at"].min()
    customers = pd.DataFrame(
        {"customer_id": first["customer_id"], "acquired_at": first["ordered_at"], "currency": "GBP"}
    )
    return {"customers": customers, "orders": orders}
