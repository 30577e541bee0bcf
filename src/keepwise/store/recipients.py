"""One customer's or one incident's row, looked up by key while a message is composed or sent.

The messages stage reads these once per message (a flow run composes thousands), so they are plain SQL
point lookups returning Python values (``datetime``, ``Decimal``, ``None``) rather than Ibis expressions
compiled per call.
"""

from __future__ import annotations

from typing import Any

from keepwise.store.store import Store

__all__ = ["CUSTOMER_COLUMNS", "INCIDENT_COLUMNS", "customer_row", "incident_row"]

#: What :func:`customer_row` returns, in order.
CUSTOMER_COLUMNS = ("customer_id", "name", "email", "language", "acquired_at")
#: What :func:`incident_row` returns, in order.
INCIDENT_COLUMNS = (
    "customer_id",
    "category",
    "opened_at",
    "status",
    "concession_amount",
    "currency",
    "resolved_at",
)


def customer_row(store: Store, customer_id: str) -> dict[str, Any] | None:
    """The :data:`CUSTOMER_COLUMNS` of one customer, or ``None`` for an unknown id."""
    rows = store.sql(
        f"SELECT {', '.join(CUSTOMER_COLUMNS)} FROM customers WHERE customer_id = ?", [customer_id]
    )
    return dict(zip(CUSTOMER_COLUMNS, rows[0], strict=True)) if rows else None


def incident_row(store: Store, incident_id: str) -> dict[str, Any] | None:
    """The :data:`INCIDENT_COLUMNS` of one incident, or ``None`` for an unknown id."""
    rows = store.sql(
        f"SELECT {', '.join(INCIDENT_COLUMNS)} FROM incidents WHERE incident_id = ?", [incident_id]
    )
    return dict(zip(INCIDENT_COLUMNS, rows[0], strict=True)) if rows else None
