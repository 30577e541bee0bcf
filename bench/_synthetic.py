"""The synthetic customers and order lines the load benches generate with DuckDB (one definition).

``bench/load.py``, ``bench/status.py`` and ``bench/postgres_load.py`` write the same shapes of file and differ
only by the options here: the width of the padded customer ids (``pad``), returned lines (``returns``: about
3% of lines with quantity -1, drawn with ``random()``), random or stepped prices (``prices``), a
``unit_cost`` column or none, the quantity expression and the range of line numbers (a later slice of the
same lines, e.g. an incoming file of new and changed lines). Every file is seeded (``setseed(0.42)`` on the
connection :func:`connect` returns), so the same arguments write the same bytes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import duckdb

#: The quantity of a line that is not a return: 1, 2 or 3 in turn.
QUANTITY = "1 + (i % 3)"


def connect() -> Any:
    """An in-memory DuckDB connection with the benches' seed set (random prices and returns repeat)."""
    con = duckdb.connect()
    con.execute("SELECT setseed(0.42)")
    return con


def customers_sql(customers: int, *, pad: int = 7) -> str:
    """A query of ``customers`` customers: ``C`` and the number padded to ``pad`` digits, acquired in 2022."""
    return f"""SELECT 'C' || lpad(i::VARCHAR, {pad}, '0') AS customer_id, 'Customer ' || i AS name,
                 TIMESTAMPTZ '2022-01-01 00:00:00+00' + to_days(CAST(i % 365 AS INTEGER)) AS acquired_at,
                 'USD' AS currency
           FROM range({customers}) t(i)"""


def lines_sql(
    customers: int,
    stop: int,
    *,
    start: int = 0,
    pad: int = 7,
    quantity: str = QUANTITY,
    returns: bool = False,
    prices: Literal["random", "steps"] = "random",
    unit_cost: bool = True,
) -> str:
    """A query of order lines ``start`` to ``stop - 1``: three lines an order, an order every 7 seconds.

    ``returns``: about 3% of the lines (``random() < 0.03``) have quantity -1 instead of ``quantity``.
    ``prices``: ``random`` draws unit prices from 5 to 100 (and costs from 2 to 42); ``steps`` makes them
    a function of the line number (the same line has the same price in every file).
    """
    amount = "CASE WHEN random() < 0.03 THEN -1 ELSE 1 + (i % 3) END" if returns else quantity
    if prices == "random":
        price, cost = "round(5 + random() * 95, 2)", "round(2 + random() * 40, 2)"
    else:
        price, cost = "round(5 + (i % 9500) / 100, 2)", "round(2 + (i % 4000) / 100, 2)"
    costs = f"\n                 {cost}::DECIMAL(10,2) AS unit_cost," if unit_cost else ""
    return f"""SELECT 'O' || (i // 3)::VARCHAR AS order_id, (i % 3 + 1)::VARCHAR AS line_no,
                 'C' || lpad(((i // 3) % {customers})::VARCHAR, {pad}, '0') AS customer_id,
                 strftime(TIMESTAMP '2022-01-01' + to_seconds(CAST((i // 3) * 7 % 63072000 AS BIGINT)),
                          '%Y-%m-%dT%H:%M:%SZ') AS ordered_at,
                 'P' || (i % 97)::VARCHAR AS product_id, 'cat' || (i % 5)::VARCHAR AS category,
                 {amount} AS quantity,
                 {price}::DECIMAL(10,2) AS unit_price,{costs} 'USD' AS currency
           FROM range({start}, {stop}) t(i)"""


def write(con: Any, query: str, path: Path) -> None:
    """Write the rows of ``query`` to the CSV file ``path`` (with a header), as DuckDB's COPY does."""
    con.execute(f"COPY ({query}) TO '{path}' (HEADER)")


def write_files(
    folder: Path, lines: int, customers: int, *, pad: int = 7, returns: bool = False, **options: Any
) -> None:
    """``customers.csv`` and ``orders.csv`` in ``folder`` (made if needed); ``options``: :func:`lines_sql`'s.

    The customers take ``pad``; the lines take ``pad``, ``returns`` and ``options``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    con = connect()
    try:
        write(con, customers_sql(customers, pad=pad), folder / "customers.csv")
        query = lines_sql(customers, lines, pad=pad, returns=returns, **options)
        write(con, query, folder / "orders.csv")
    finally:
        con.close()
