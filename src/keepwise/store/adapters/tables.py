"""The importers' own tables, declared like the contract's (they are created when an import first runs).

* ``import_ids`` links a tool's own ids to keepwise's customers: a Stripe customer ``cus_...``, a Shopify
  customer id, a Toggl client name. Matching looks here first, then at normalised e-mail addresses.
* ``import_charges`` holds what an order charged besides its products: shipping, taxes, and the part of a
  refund that gave back shipping or tax. Product revenue (``orders``) never includes them.

They sit outside :data:`keepwise.store.schema.TABLES` so that ``keepwise schema`` and the README's contract
stay as they are; they belong there once the contract grows ``source``/``source_id`` columns.
"""

from __future__ import annotations

from keepwise.store.schema import Column, Table

__all__ = ["IMPORT_CHARGES", "IMPORT_IDS", "ensure_import_tables"]

IMPORT_IDS = Table(
    "import_ids",
    "A tool's own id for a customer, and the keepwise customer it is (written by keepwise import).",
    (
        Column("source", "text", "The tool (stripe, shopify, toggl, ...).", required=True, example="stripe"),
        Column(
            "kind",
            "text",
            "What the id names.",
            required=True,
            allowed=("customer", "client"),
            example="customer",
        ),
        Column(
            "source_id", "text", "The tool's id or client name.", required=True, example="cus_NffrFeUfNV2Hib"
        ),
        Column("customer_id", "text", "The keepwise customer.", required=True, example="C001"),
    ),
    key=("source", "kind", "source_id"),
)

IMPORT_CHARGES = Table(
    "import_charges",
    "Shipping, taxes and refunds of them, per order, kept apart from product revenue (written by keepwise "
    "import).",
    (
        Column(
            "order_id", "text", "The order (as in orders.order_id).", required=True, example="shopify:#1001"
        ),
        Column(
            "kind",
            "text",
            "What was charged.",
            required=True,
            allowed=("shipping", "tax", "refund_shipping_tax"),
            example="shipping",
        ),
        Column("customer_id", "text", "Who paid.", example="C001"),
        Column("charged_at", "timestamp", "When.", required=True, example="2026-03-12T13:14:02Z"),
        Column("amount", "money", "Amount (negative for a refund).", required=True, example="5.00"),
        Column("currency", "currency", "Currency.", required=True, example="USD"),
    ),
    key=("order_id", "kind"),
)


def ensure_import_tables(store: object) -> None:
    """Create the importers' tables if they do not exist yet."""
    from keepwise.store.store import as_store

    s = as_store(store)
    for t in (IMPORT_IDS, IMPORT_CHARGES):
        if not s.has_table(t.name):
            s.sql(t.create_sql())
