"""The CDNOW data set of Fader and Hardie, bundled with its source (see ``datasets/data/README.md``)."""

from __future__ import annotations

from importlib import resources

import pandas as pd

_DATA = resources.files("keepwise.datasets") / "data"


def load_cdnow_master() -> pd.DataFrame:
    """The raw CDNOW master file: 69,659 purchase records of 23,570 customers (1997-01-01 to 1998-06-30).

    Columns: ``customer_id`` (zero-padded text), ``date`` (``datetime64``, UTC midnight), ``number_of_cds``
    (int) and ``dollar_value`` (float, as published).

    Source: Bruce Hardie, https://www.brucehardie.com/datasets/ (as redistributed in lifetimes 0.11.3).
    """
    with (_DATA / "CDNOW_master.txt.gz").open("rb") as f:
        raw = pd.read_csv(
            f,
            compression="gzip",
            sep=r"\s+",
            header=0,
            names=["customer_id", "date", "number_of_cds", "dollar_value"],
            dtype={"customer_id": str, "date": str},
        )
    raw["date"] = pd.to_datetime(raw["date"], format="%Y%m%d").dt.tz_localize("UTC")
    return raw


def load_cdnow() -> pd.DataFrame:
    """CDNOW as order lines in the keepwise contract layout (table ``orders``).

    One line per record of the master file: an order is one customer's purchases on one day (so same-day
    purchases are one order, the convention that reproduces the published model estimates), ``line_no``
    numbers the records within it. ``quantity`` is 1 and ``unit_price`` the record's dollar value (the master
    file gives only the total per record, and dividing it by the number of CDs would not be exact); the
    number of CDs is kept in ``number_of_cds``. Category ``music``, currency ``USD``.

    Shape: 69,659 rows, 23,570 customers, 1997-01-01 to 1998-06-30.
    """
    raw = load_cdnow_master()
    day = raw["date"].dt.strftime("%Y%m%d")
    order_id = raw["customer_id"] + "-" + day
    line_no = raw.groupby(order_id).cumcount() + 1
    return pd.DataFrame(
        {
            "order_id": order_id,
            "line_no": line_no.astype(str),
            "customer_id": raw["customer_id"],
            "ordered_at": raw["date"],
            "product_id": None,
            "category": "music",
            "quantity": 1,
            "unit_price": raw["dollar_value"].map(lambda v: f"{v:.2f}"),
            "unit_cost": None,
            "currency": "USD",
            "number_of_cds": raw["number_of_cds"],
        }
    )


def cdnow_tables() -> dict[str, pd.DataFrame]:
    """CDNOW as the contract tables ``customers`` and ``orders``, ready for :func:`keepwise.load`."""
    orders = load_cdnow()
    first = orders.groupby("customer_id", as_index=False)["ordered_at"].min()
    customers = pd.DataFrame(
        {"customer_id": first["customer_id"], "acquired_at": first["ordered_at"], "currency": "USD"}
    )
    return {"customers": customers, "orders": orders}


def load_cdnow_summary(with_spend: bool = False) -> pd.DataFrame:
    """The 1/10 CDNOW sample (2,357 customers) summarised for weeks 1-39 (1997-01-01 to 1997-09-30).

    Without ``with_spend``: columns ``frequency`` (repeat purchases), ``recency``, ``T`` in weeks, as in
    lifetimes. With it: ``x``, ``t_x``, ``T`` and ``zbar`` (mean value of repeat purchases in dollars), the
    layout of Fader, Hardie and Lee (2005) for the Gamma-Gamma spend model. Index: the customer id.
    """
    name = "cdnow_customers_summary_with_transactions.csv" if with_spend else "cdnow_customers_summary.csv"
    with (_DATA / name).open("rb") as f:
        return pd.read_csv(f, index_col="ID")
