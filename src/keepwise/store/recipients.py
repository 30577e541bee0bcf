"""Customers' and incidents' rows, looked up by key while messages are composed or sent.

:func:`customer_row` and :func:`incident_row` read one row (a preview, one letter); :func:`customer_rows`
and :func:`incident_rows` read a whole batch in one statement (a flow run composes thousands, the sender
checks a batch at a time). All are plain SQL returning Python values (``datetime``, ``Decimal``, ``None``)
rather than Ibis expressions compiled per call.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from keepwise.store.store import Store

__all__ = [
    "CUSTOMER_COLUMNS",
    "INCIDENT_COLUMNS",
    "customer_row",
    "customer_rows",
    "in_list",
    "incident_row",
    "incident_rows",
    "present_among",
]

#: Keys per ``IN (...)`` list: a batch larger than this is read in several statements.
IN_LIST_SIZE = 1000

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


def in_list(keys: Iterable[str]) -> list[list[str]]:
    """``keys`` (distinct, sorted) in chunks of at most :data:`IN_LIST_SIZE`: one ``IN (?, ...)`` each."""
    ordered = sorted({str(k) for k in keys})
    return [ordered[i : i + IN_LIST_SIZE] for i in range(0, len(ordered), IN_LIST_SIZE)]


def present_among(store: Store, table: str, column: str, values: Iterable[str]) -> set[str]:
    """Those of ``values`` that ``column`` of ``table`` holds (one statement per chunk of :func:`in_list`)."""
    out: set[str] = set()
    for chunk in in_list(values):
        marks = ", ".join("?" for _ in chunk)
        rows = store.sql(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IN ({marks})", chunk)
        out.update(str(r[0]) for r in rows)
    return out


def _by_key(
    store: Store, table: str, key: str, columns: tuple[str, ...], keys: Iterable[str]
) -> dict[str, Any]:
    out: dict[str, dict[str, Any]] = {}
    for chunk in in_list(keys):
        marks = ", ".join("?" for _ in chunk)
        rows = store.sql(f"SELECT {key}, {', '.join(columns)} FROM {table} WHERE {key} IN ({marks})", chunk)
        for row in rows:
            out.setdefault(str(row[0]), dict(zip(columns, row[1:], strict=True)))
    return out


def customer_rows(store: Store, customer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The :data:`CUSTOMER_COLUMNS` of each known customer among ``customer_ids``, by id (one statement)."""
    return _by_key(store, "customers", "customer_id", CUSTOMER_COLUMNS, customer_ids)


def incident_rows(store: Store, incident_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The :data:`INCIDENT_COLUMNS` of each known incident among ``incident_ids``, by id (one statement)."""
    ids = list(incident_ids)
    if not ids or not store.has_table("incidents"):
        return {}
    return _by_key(store, "incidents", "incident_id", INCIDENT_COLUMNS, ids)
