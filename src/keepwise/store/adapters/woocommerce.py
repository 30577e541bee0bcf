"""WooCommerce orders, in the layout of the common order-export plugin (one row per order or per line item).

The layout is the one the "Order Import Export" plugin documents (WooCommerce.com, "Import and Export of
WooCommerce Orders"): ``order_id``, ``order_date`` (the shop's local time), ``status``, ``order_currency``,
``shipping_total``, ``tax_total``, ``customer_user``, ``billing_email`` and one column per item,
``line_item_1``, ``line_item_2``, ... each holding ``name:...|sku:...|quantity:2|total:66.60|...``. An order
spread over several rows (one per item) is one order. Mapped as:

* each item -> a line ``woocommerce:ID`` / 1, 2, ...; ``total`` is after discounts, so the unit price paid
  is ``total / quantity``;
* ``refunded`` on an item -> that item again with a negative quantity (``refunded_qty``, at least 1) and
  the refunded amount; a refunded order -> every item again, negative;
* cancelled, failed, pending and on-hold orders are not revenue (counted under ``skipped``);
* shipping (``shipping_total``) and taxes (``tax_total`` + ``shipping_tax_total``) -> ``import_charges``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from keepwise.store.adapters.base import ROW, Adapter, Context, Mapped
from keepwise.store.adapters.values import as_utc, blank, money, normal_email, timestamps

__all__ = ["WOOCOMMERCE_ORDERS"]

_NOT_REVENUE = {
    "cancelled": "cancelled orders",
    "failed": "failed orders",
    "pending": "unpaid orders (pending or on hold)",
}
_NOT_REVENUE["on-hold"] = _NOT_REVENUE["pending"]


def _items(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per item: the order's row number and the item's fields parsed from ``key:value|...``."""
    cols = sorted(
        (c for c in frame.columns if c.startswith("line_item_")), key=lambda c: int(c.rsplit("_", 1)[1])
    )
    stacked = frame[[ROW, *cols]].melt(id_vars=[ROW], value_name="item").dropna()
    stacked = stacked[stacked["item"] != ""]
    stacked = stacked.assign(n=stacked["variable"].str.rsplit("_", n=1).str[-1].astype(int))
    stacked = stacked.sort_values([ROW, "n"], kind="stable")
    fields = (
        stacked["item"].str.split("|").map(lambda parts: dict(p.split(":", 1) for p in parts if ":" in p))
    )
    parsed = pd.DataFrame(list(fields), index=stacked.index).fillna("")
    for key in ("name", "sku", "quantity", "total", "refunded", "refunded_qty", "product_id"):
        if key not in parsed.columns:
            parsed[key] = ""
    return parsed.assign(**{ROW: stacked[ROW]})


def map_orders(frame: pd.DataFrame, ctx: Context) -> Mapped:
    """Map a WooCommerce orders export (see the module's rules)."""
    out = Mapped()
    status = frame["status"].str.lower().str.removeprefix("wc-")
    for code, reason in _NOT_REVENUE.items():
        out.skip(reason, frame.loc[status == code, "order_id"].nunique())
    f = frame[~status.isin(list(_NOT_REVENUE))].reset_index(drop=True)
    if f.empty:
        return out
    refunded_order = f["status"].str.lower().str.removeprefix("wc-") == "refunded"
    items = _items(f).join(f.set_index(ROW)[["order_id", "order_currency"]], on=ROW)
    if items.empty:
        return out
    order = f.drop_duplicates("order_id").set_index("order_id")
    at = as_utc(timestamps(f, "order_date", ctx.name, ctx.timezone)).set_axis(f[ROW])
    email = normal_email(f["customer_email"].where(~blank(f["customer_email"]), f["billing_email"])).set_axis(
        f[ROW]
    )
    user = f["customer_user"].where(~f["customer_user"].isin(["0", ""]), "").set_axis(f[ROW])
    name = (f["billing_first_name"] + " " + f["billing_last_name"]).str.strip().set_axis(f[ROW])
    qty = money(items, "quantity", ctx.name)
    line_total = money(items, "total", ctx.name)
    lines = pd.DataFrame(
        {
            "order_id": "woocommerce:" + items["order_id"],
            "line_no": (items.groupby("order_id").cumcount() + 1).astype(str).to_numpy(),
            "ordered_at": items[ROW].map(at),
            "product_id": items["sku"].where(items["sku"] != "", items["name"]),
            "category": None,
            "quantity": qty.round(4),
            "unit_price": (line_total / qty.replace(0, np.nan)).fillna(0).round(4),
            "currency": items["order_currency"].str.upper(),
            ROW: items[ROW],
            "_email": items[ROW].map(email),
            "_ext": items[ROW].map(user),
            "_client": "",
            "_name": items[ROW].map(name),
        }
    ).reset_index(drop=True)
    refunded = money(items, "refunded", ctx.name).abs().to_numpy()
    refunded_qty = money(items, "refunded_qty", ctx.name).abs().clip(lower=1).to_numpy()
    whole = (
        items["order_id"]
        .isin(order.index[refunded_order.groupby(f["order_id"]).any().reindex(order.index)])
        .to_numpy()
    )
    back = np.where(whole, line_total.to_numpy(), refunded)
    back_qty = np.where(whole, qty.to_numpy(), refunded_qty)
    returns = lines[back > 0].assign(
        line_no=lambda d: "r" + d["line_no"],
        quantity=pd.Series(-back_qty[back > 0]).round(4).to_numpy(),
        unit_price=pd.Series(back[back > 0] / back_qty[back > 0]).round(4).to_numpy(),
    )
    out.tables["orders"] = pd.concat([lines, returns], ignore_index=True)
    out.columns["orders"] = {
        "order_id": "order_id",
        "ordered_at": "order_date",
        "currency": "order_currency",
        "_email": "billing_email",
        "_ext": "customer_user",
    }
    firsts = lines.drop_duplicates("order_id").reset_index(drop=True)
    ids = firsts["order_id"].str.removeprefix("woocommerce:")
    shipping = money(order.reindex(ids).reset_index(), "shipping_total", ctx.name).to_numpy()
    tax = (
        money(order.reindex(ids).reset_index(), "tax_total", ctx.name)
        + money(order.reindex(ids).reset_index(), "shipping_tax_total", ctx.name)
    ).to_numpy()
    out.charges = pd.concat(
        [
            firsts[shipping > 0].assign(
                kind="shipping", amount=pd.Series(shipping[shipping > 0]).round(4).to_numpy()
            ),
            firsts[tax > 0].assign(kind="tax", amount=pd.Series(tax[tax > 0]).round(4).to_numpy()),
        ],
        ignore_index=True,
    ).rename(columns={"ordered_at": "charged_at"})
    return out


WOOCOMMERCE_ORDERS = Adapter(
    name="woocommerce-orders",
    title="WooCommerce orders",
    where="WordPress admin > WooCommerce > Order Im-Ex (Order Import Export plugin) > Export, CSV",
    required=(("order_id",), ("order_date",), ("status",), ("order_currency",), ("line_item_1",)),
    signature=(
        "order_id",
        "order_number",
        "order_date",
        "status",
        "shipping_total",
        "tax_total",
        "order_total",
        "order_currency",
        "customer_user",
        "billing_email",
        "line_item_1",
    ),
    reads=(
        "order_id",
        "order_date",
        "status",
        "shipping_total",
        "shipping_tax_total",
        "tax_total",
        "order_currency",
        "customer_user",
        "customer_email",
        "billing_email",
        "billing_first_name",
        "billing_last_name",
        "line_item_*",
    ),
    map=map_orders,
    needs_timezone=True,
)
