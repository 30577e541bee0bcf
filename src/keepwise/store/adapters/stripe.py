"""Stripe's payments export (Dashboard > Payments > Export), in its older and newer layouts.

The older export names the time ``Created (UTC)``, the newer ``Created date (UTC)``; both are UTC. Currencies
are written in lower case. Mapped as:

* a successful charge -> an order ``stripe:ID`` of one line, the amount paid;
* ``Amount Refunded`` -> a refund line (``refund``, quantity -1) of that amount;
* a failed charge, one not captured (``Captured`` false) and one not completed (pending, canceled) are not
  orders: they are counted under ``skipped``;
* the customer is the Stripe customer (``Customer ID``, linked in ``import_ids``) or the e-mail address.
"""

from __future__ import annotations

import pandas as pd

from keepwise.store.adapters.base import ROW, Adapter, Context, Mapped
from keepwise.store.adapters.values import as_utc, blank, money, normal_email, timestamps

__all__ = ["STRIPE_PAYMENTS"]

_PAID = {"paid", "succeeded", "refunded", "partially refunded", "partially_refunded"}


def map_payments(frame: pd.DataFrame, ctx: Context) -> Mapped:
    """Map a Stripe payments export (see the module's rules)."""
    out = Mapped()
    status = frame["Status"].str.lower()
    captured = ~frame["Captured"].str.lower().isin(["false", "no", "0"])
    failed = status == "failed"
    out.skip("failed charges", int(failed.sum()))
    out.skip("uncaptured charges", int((~failed & ~captured).sum()))
    out.skip(
        "charges not completed (pending or canceled)", int((~failed & captured & ~status.isin(_PAID)).sum())
    )
    f = frame[~failed & captured & status.isin(_PAID)].reset_index(drop=True)
    if f.empty:
        return out
    created = "Created date (UTC)" if bool((~blank(f["Created date (UTC)"])).any()) else "Created (UTC)"
    utc = f.assign(**{created: f[created].where(blank(f[created]), f[created] + " UTC")})
    at = as_utc(timestamps(utc, created, ctx.name, None))
    amount = money(f, "Amount", ctx.name)
    refunded = money(f, "Amount Refunded", ctx.name)
    lines = pd.DataFrame(
        {
            "order_id": "stripe:" + f["id"],
            "line_no": "1",
            "ordered_at": at,
            "product_id": None,
            "category": None,
            "quantity": 1.0,
            "unit_price": amount.round(4),
            "currency": f["Currency"].str.upper(),
            ROW: f[ROW],
            "_email": normal_email(f["Customer Email"]),
            "_ext": f["Customer ID"],
            "_client": "",
            "_name": f["Customer Description"],
        }
    )
    refunds = lines[(refunded > 0).to_numpy()].assign(
        line_no="refund", quantity=-1.0, unit_price=refunded[refunded > 0].round(4).to_numpy()
    )
    out.tables["orders"] = pd.concat([lines, refunds], ignore_index=True)
    out.columns["orders"] = {
        "order_id": "id",
        "ordered_at": created,
        "unit_price": "Amount",
        "currency": "Currency",
        "_email": "Customer Email",
        "_ext": "Customer ID",
    }
    return out


STRIPE_PAYMENTS = Adapter(
    name="stripe-payments",
    title="Stripe payments",
    where="Stripe Dashboard > Payments > Export (all columns, or at least those listed)",
    required=(("id",), ("Created date (UTC)", "Created (UTC)"), ("Amount",), ("Currency",), ("Status",)),
    signature=(
        "id",
        "Created date (UTC)",
        "Created (UTC)",
        "Amount",
        "Amount Refunded",
        "Currency",
        "Captured",
        "Status",
        "Customer ID",
        "Customer Email",
        "Converted Amount",
        "Fee",
    ),
    reads=(
        "id",
        "Created date (UTC)",
        "Created (UTC)",
        "Amount",
        "Amount Refunded",
        "Currency",
        "Status",
        "Captured",
        "Customer ID",
        "Customer Email",
        "Customer Description",
    ),
    map=map_payments,
)
