"""Shopify's orders export and customers export (Shopify admin: Orders > Export; Customers > Export).

Orders: one row per line item; the order's own fields (Financial Status, Created at, Discount Amount,
Shipping, Taxes, Refunded Amount, Cancelled at, ...) are filled on its first row only. Mapped as:

* each line item -> an order line ``shopify:NAME`` / 1, 2, ...; the discount (``Lineitem discount`` where the
  export has it, else the order's ``Discount Amount`` shared by line value) reduces the unit price paid;
* a cancelled or voided order is not revenue and is left out (counted under ``skipped``); so is an order not
  paid yet (pending, authorized);
* a refunded order -> each line again with a negative quantity; a partly refunded order -> one refund line
  (``refund``) of the refunded amount, at most the products' value; the rest of a refund (shipping, tax)
  and the order's Shipping and Taxes go to ``import_charges``, never into product revenue;
* ``Accepts Marketing`` = yes -> e-mail marketing consent from the order's time, with the export as source.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from keepwise.store.adapters.base import ROW, Adapter, Context, Mapped
from keepwise.store.adapters.values import as_utc, blank, money, normal_email, timestamps

__all__ = ["SHOPIFY_CUSTOMERS", "SHOPIFY_ORDERS"]

_ORDER_FIELDS = (
    "Email",
    "Financial Status",
    "Accepts Marketing",
    "Currency",
    "Shipping",
    "Taxes",
    "Discount Amount",
    "Created at",
    "Billing Name",
    "Cancelled at",
    "Refunded Amount",
)
_UNPAID = {"pending", "authorized", "voided", "expired"}


def _order_fields(frame: pd.DataFrame) -> pd.DataFrame:
    """Order-level fields copied from each order's first row onto its other rows."""
    filled = frame[list(_ORDER_FIELDS)].replace("", np.nan).groupby(frame["Name"]).transform("first")
    return frame.assign(**{c: filled[c].fillna("") for c in _ORDER_FIELDS})


def map_orders(frame: pd.DataFrame, ctx: Context) -> Mapped:
    """Map a Shopify orders export (see the module's rules)."""
    out = Mapped()
    f = _order_fields(frame[~blank(frame["Name"])].reset_index(drop=True))
    status = f["Financial Status"].str.lower()
    cancelled = ~blank(f["Cancelled at"]) | (status == "voided")
    unpaid = ~cancelled & status.isin(_UNPAID)
    out.skip("cancelled orders", f.loc[cancelled, "Name"].nunique())
    out.skip("unpaid orders (pending or authorized)", f.loc[unpaid, "Name"].nunique())
    f = f[~cancelled & ~unpaid].reset_index(drop=True)
    if f.empty:
        return out
    heads = ~f["Name"].duplicated()  # each order's first row: its time is read once, then shared by its lines
    times = as_utc(timestamps(f[heads], "Created at", ctx.name, ctx.timezone))
    at = pd.Series(times.to_numpy(), index=f.loc[heads, "Name"]).reindex(f["Name"]).set_axis(f.index)
    qty = money(f, "Lineitem quantity", ctx.name)
    price = money(f, "Lineitem price", ctx.name)
    gross = qty * price
    if bool((~blank(f["Lineitem discount"])).any()):
        discount = money(f, "Lineitem discount", ctx.name)
    else:  # the order's discount, shared by the lines' value
        order_gross = gross.groupby(f["Name"]).transform("sum")
        first = ~f["Name"].duplicated()
        order_discount = money(
            f.assign(**{"Discount Amount": f["Discount Amount"].where(first, "")}),
            "Discount Amount",
            ctx.name,
        )
        order_discount = order_discount.groupby(f["Name"]).transform("sum")
        discount = (order_discount * gross / order_gross.replace(0, np.nan)).fillna(0)
    net = (gross - discount).clip(lower=0)
    unit = (net / qty.replace(0, np.nan)).fillna(0).round(4)
    who = {
        "_email": normal_email(f["Email"]),
        "_ext": "",
        "_client": "",
        "_name": f["Billing Name"],
    }
    lines = pd.DataFrame(
        {
            "order_id": "shopify:" + f["Name"],
            "line_no": (f.groupby("Name").cumcount() + 1).astype(str),
            "ordered_at": at,
            "product_id": f["Lineitem sku"].where(~blank(f["Lineitem sku"]), f["Lineitem name"]),
            "category": None,
            "quantity": qty.round(4),
            "unit_price": unit.round(4),
            "currency": f["Currency"].str.upper(),
            ROW: f[ROW],
            **who,
        }
    )
    first = ~f["Name"].duplicated()
    order = f[first].reset_index(drop=True)
    order_net = net.groupby(f["Name"]).sum().reindex(order["Name"]).to_numpy()
    refunded = money(order, "Refunded Amount", ctx.name).to_numpy()
    full = (order["Financial Status"].str.lower() == "refunded").to_numpy() | (
        refunded >= order_net - 0.005
    ) & (refunded > 0)
    mirrored = lines[f["Name"].isin(order.loc[full, "Name"]).to_numpy()].assign(
        line_no=lambda d: "r" + d["line_no"], quantity=lambda d: -d["quantity"]
    )
    partial = (refunded > 0) & ~full
    refund_amount = np.minimum(refunded, order_net)
    order_lines = lines[first.to_numpy()].reset_index(drop=True)
    partial_lines = order_lines[partial].assign(
        line_no="refund",
        product_id=None,
        category=None,
        quantity=-1.0,
        unit_price=pd.Series(refund_amount[partial]).round(4).to_numpy(),
    )
    out.tables["orders"] = pd.concat([lines, mirrored, partial_lines], ignore_index=True)
    out.columns["orders"] = {
        "order_id": "Name",
        "line_no": "Name",
        "ordered_at": "Created at",
        "product_id": "Lineitem sku",
        "quantity": "Lineitem quantity",
        "unit_price": "Lineitem price",
        "currency": "Currency",
        "_email": "Email",
    }
    shipping = money(order, "Shipping", ctx.name).to_numpy()
    taxes = money(order, "Taxes", ctx.name).to_numpy()
    back = np.where(refunded > 0, refunded - np.where(full, order_net, refund_amount), 0)
    charges = [
        order_lines[shipping > 0].assign(
            kind="shipping", amount=pd.Series(shipping[shipping > 0]).round(4).to_numpy()
        ),
        order_lines[taxes > 0].assign(kind="tax", amount=pd.Series(taxes[taxes > 0]).round(4).to_numpy()),
        order_lines[back > 0.004].assign(
            kind="refund_shipping_tax",
            amount=pd.Series(-back[back > 0.004]).round(4).to_numpy(),
        ),
    ]
    out.charges = pd.concat(charges, ignore_index=True).rename(columns={"ordered_at": "charged_at"})
    marketing = order_lines[order["Accepts Marketing"].str.lower().isin(["yes", "true"]).to_numpy()]
    out.consent = marketing.assign(
        channel="email",
        purpose="marketing",
        granted_at=marketing["ordered_at"],
        source=f"shopify orders export {ctx.name}",
        proof="Accepts Marketing = yes on order " + marketing["order_id"].str.removeprefix("shopify:"),
    )
    return out


def map_customers(frame: pd.DataFrame, ctx: Context) -> Mapped:
    """Map a Shopify customers export: new customers, their Shopify ids, and e-mail marketing consent.

    The export has no dates, so a consent it shows is dated by the file (its modification day, the day it
    was exported), and the export is named as the consent's source.
    """
    out = Mapped()
    f = frame[~blank(frame["Email"]) | ~blank(frame["Customer ID"])].reset_index(drop=True)
    ids = f["Customer ID"].str.lstrip("'")
    name = (f["First Name"] + " " + f["Last Name"]).str.strip()
    who = {"_email": normal_email(f["Email"]), "_ext": ids, "_client": "", "_name": name}
    out.tables["customers"] = pd.DataFrame(
        {
            "customer_id": None,
            "name": name.where(name != "", None),
            "email": normal_email(f["Email"]),
            ROW: f[ROW],
            **who,
        }
    ).assign(email=lambda d: d["email"].where(d["email"] != "", None))
    out.columns["customers"] = {
        "name": "First Name",
        "email": "Email",
        "_email": "Email",
        "_ext": "Customer ID",
    }
    accepts = f["Accepts Email Marketing"].where(~blank(f["Accepts Email Marketing"]), f["Accepts Marketing"])
    day = pd.Timestamp(ctx.file.stat().st_mtime, unit="s", tz="UTC").normalize()
    yes = accepts.str.lower().isin(["yes", "true"])
    out.consent = pd.DataFrame(
        {
            "channel": "email",
            "purpose": "marketing",
            "granted_at": day,
            "source": f"shopify customers export {ctx.name}",
            "proof": "Accepts Email Marketing = yes for Shopify customer " + ids,
            ROW: f[ROW],
            **who,
        }
    )[yes.to_numpy()]
    return out


SHOPIFY_ORDERS = Adapter(
    name="shopify-orders",
    title="Shopify orders",
    where="Shopify admin > Orders > Export > All orders, CSV for Excel or plain CSV",
    required=(("Name",), ("Created at",), ("Lineitem quantity",), ("Lineitem price",), ("Currency",)),
    signature=(
        "Name",
        "Email",
        "Financial Status",
        "Paid at",
        "Fulfillment Status",
        "Lineitem quantity",
        "Lineitem name",
        "Lineitem price",
        "Lineitem sku",
        "Discount Amount",
        "Refunded Amount",
        "Cancelled at",
    ),
    reads=(
        *_ORDER_FIELDS,
        "Name",
        "Lineitem quantity",
        "Lineitem name",
        "Lineitem price",
        "Lineitem sku",
        "Lineitem discount",
    ),
    map=map_orders,
)

SHOPIFY_CUSTOMERS = Adapter(
    name="shopify-customers",
    title="Shopify customers",
    where="Shopify admin > Customers > Export > All customers",
    required=(("Email",), ("Accepts Email Marketing", "Accepts Marketing")),
    signature=(
        "Customer ID",
        "First Name",
        "Last Name",
        "Email",
        "Accepts Email Marketing",
        "Accepts Marketing",
        "Total Spent",
        "Total Orders",
        "Accepts SMS Marketing",
    ),
    reads=("Customer ID", "First Name", "Last Name", "Email", "Accepts Email Marketing", "Accepts Marketing"),
    map=map_customers,
)
