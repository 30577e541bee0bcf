from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from keepwise.store import connect

Order = tuple[
    str, str, str, str, float, float, float | None
]  # order_id, customer, at, category, qty, price, cost


def build_store(
    customers: list[tuple[str, str | None, float | None]],
    orders: list[Order],
    exits: list[tuple[str, str, str | None, str | None]] | None = None,
) -> Any:
    """An in-memory store with the given customers (id, acquired_at, cost), order lines and exits."""
    b = connect("duckdb://:memory:")
    con = b.con
    con.executemany(
        "INSERT INTO customers (customer_id, acquired_at, acquisition_cost, currency) "
        "VALUES (?, ?, ?, 'USD')",
        [list(c) for c in customers],
    )
    con.executemany(
        "INSERT INTO orders (order_id, line_no, customer_id, ordered_at, product_id, category, quantity, "
        "unit_price, unit_cost, currency) VALUES (?, ?, ?, ?, 'P1', ?, ?, ?, ?, 'USD')",
        [[o[0], str(i), o[1], o[2], o[3], o[4], o[5], o[6]] for i, o in enumerate(orders)],
    )
    if exits:
        con.executemany(
            "INSERT INTO exits (customer_id, lost_at, reason_code, competitor) VALUES (?, ?, ?, ?)",
            [list(e) for e in exits],
        )
    return b


@pytest.fixture
def store() -> Callable[..., Any]:
    return build_store
