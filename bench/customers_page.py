"""The customers page on a store of a million customers: the page's handler against a bare ORDER BY ... LIMIT.

Builds once (kept under bench/data/, gitignored; delete it to regenerate) a DuckDB store generated with SQL
(every value a hash of its row number): ``--customers`` customers with names and e-mail addresses,
``--lines`` order lines over 2024-2025 with 3% returns; then the real ``keepwise profit --view ttm`` for
2025-11 and 2025-12 (the ``profit_ttm`` table, two months of it), and, in the shape ``keepwise clv`` and
``keepwise review`` store them, two ``clv`` runs and two months of ``review_p_alive`` (filled with SQL: the
review of a million customers takes minutes and is timed in bench/review.py).

Then, in one process, for the default view, a search and each sort, ``--repeat`` times:

- page: ``GET /customers?...`` through Starlette's TestClient (the route, the engine query, the template),
  and ``GET /api/v1/customers?...`` (the same query, JSON);
- bare join: the engine alone, ``SELECT customer_id, ... FROM customers LEFT JOIN ... ORDER BY ... LIMIT
  50`` written by hand for the same view (every figure joined, then sorted);
- bare one table: ``SELECT customer_id, figure FROM table ORDER BY figure LIMIT 50``, the sort's figure alone
  (for a search, the matching customers by id): the floor for any such page;

both on a fresh read-only DuckDB connection each time, as the dashboard opens the store for each request;

each the median wall and CPU seconds (this process, every thread), and the page's CPU over each bare query's.

    PYTHONPATH=src .venv/bin/python bench/customers_page.py                    # 1,000,000 customers
    PYTHONPATH=src .venv/bin/python bench/customers_page.py --customers 20000 --lines 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "customers_page"

FIRST = "Ada Ben Chloe Dawid Eva Farid Grace Hugo Iris Jan Kasia Liam Maja Noor Olek Pia".split()
LAST = "Nowak Smith Kowalska Jones Garcia Müller Rossi Dubois Silva Kim Novak Jensen Larsen".split()


def keepwise(*args: str) -> float:
    """Run the real CLI (this interpreter), output discarded; the seconds it took."""
    started = time.perf_counter()
    cli = [sys.executable, "-W", "ignore", "-c", "from keepwise.cli import main; main()", *args]
    subprocess.run(cli, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def _array(names: list[str]) -> str:
    return "[" + ", ".join("'" + n.replace("'", "''") + "'" for n in names) + "]"


def generate(path: Path, customers: int, lines: int) -> None:
    """The store: customers and orders by SQL, ``keepwise profit --view ttm``, clv and P(alive) by SQL."""
    import duckdb

    from keepwise.store import connect

    started = time.perf_counter()
    connect(f"duckdb:///{path}").disconnect()  # the contract's tables
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    n, first, last = customers, _array(FIRST), _array(LAST)
    start = "TIMESTAMPTZ '2024-01-01 00:00:00+00'"
    con.execute(f"""
        INSERT INTO customers (customer_id, name, email, language, acquired_at, currency)
        SELECT id, f || ' ' || l, lower(f) || '.' || i || '@example.com', 'en',
               {start} + to_seconds((hash(i * 3) % (360 * 86400))::BIGINT), 'USD'
        FROM (SELECT i, 'C' || lpad(i::VARCHAR, 7, '0') AS id,
                     {first}[(1 + hash(i * 5) % {len(FIRST)})::BIGINT] AS f,
                     {last}[(1 + hash(i * 7) % {len(LAST)})::BIGINT] AS l
              FROM range({n}) t(i))""")
    con.execute(f"""
        INSERT INTO orders (order_id, line_no, customer_id, ordered_at, product_id, category, quantity,
                            unit_price, unit_cost, currency)
        SELECT 'O' || i, '1', 'C' || lpad((hash(i) % {n})::VARCHAR, 7, '0'),
               {start} + to_seconds((hash(i * 11) % (730 * 86400))::BIGINT), 'P' || hash(i * 13) % 500,
               'range' || hash(i * 13) % 6,
               CASE WHEN hash(i * 17) % 100 < 3 THEN -1 ELSE 1 + hash(i * 19) % 3 END,
               5 + (hash(i * 23) % 9500) / 100, 3 + (hash(i * 29) % 4000) / 100, 'USD'
        FROM range({lines}) t(i)""")
    record(con)
    con.execute("CHECKPOINT")
    con.close()
    url = f"duckdb:///{path}"
    for month in ("2025-11", "2025-12"):
        seconds = keepwise("profit", "--view", "ttm", "--month", month, "--db", url, "--json")
        print(f"keepwise profit --view ttm --month {month}: {seconds:.1f} s", file=sys.stderr)
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute("""
        CREATE TABLE IF NOT EXISTS clv (customer_id VARCHAR, as_of TIMESTAMPTZ, model VARCHAR,
            horizon_months DECIMAL(18,4), discount_rate DOUBLE, p_alive DOUBLE, expected_purchases DOUBLE,
            next_purchase_date TIMESTAMPTZ, expected_spend DECIMAL(18,4), clv DECIMAL(18,4),
            clv_lower DECIMAL(18,4), clv_upper DECIMAL(18,4), currency VARCHAR, computed_at TIMESTAMPTZ)""")
    con.execute("""
        CREATE TABLE IF NOT EXISTS review_p_alive (review_month VARCHAR, customer_id VARCHAR, p_alive DOUBLE,
            p_alive_prev DOUBLE)""")
    for k, (as_of, month) in enumerate((("2025-11-30", "2025-11"), ("2025-12-31", "2025-12"))):
        con.execute(f"""
            INSERT INTO clv
            SELECT customer_id, TIMESTAMPTZ '{as_of} 00:00:00+00', 'bgnbd', 12, 0.1, p, 2 * p, NULL,
                   40 + (hash(customer_id || 's') % 6000) / 100 AS s, p * 2 * s * 0.5, NULL, NULL, 'USD',
                   TIMESTAMPTZ '{as_of} 12:00:00+00'
            FROM (SELECT customer_id, (hash(customer_id || '{k}') % 1000) / 1000.0 AS p FROM customers)""")
        con.execute(f"""
            INSERT INTO review_p_alive
            SELECT '{month}', customer_id, (hash(customer_id || 'a{k}') % 1000) / 1000.0,
                   (hash(customer_id || 'a{k - 1}') % 1000) / 1000.0
            FROM customers""")
    con.execute("CHECKPOINT")
    con.close()
    print(f"generated {path} in {time.perf_counter() - started:.1f} s", file=sys.stderr)


def record(con: Any) -> None:
    """Record the customers' and orders' figures as ``keepwise load`` does (what the inventory reads)."""
    from keepwise.store import stats

    stats.record(lambda sql, params=None: con.execute(sql, params or []).fetchall(), ["customers", "orders"])


#: The bare engine query of each view: the same joins and order as the page's, written by hand.
BARE_FROM = """
    FROM customers c
    LEFT JOIN (SELECT * FROM profit_ttm WHERE month = '2025-12') p ON p.customer_id = c.customer_id
    LEFT JOIN (SELECT * FROM clv WHERE as_of = TIMESTAMPTZ '2025-12-31 00:00:00+00' AND model = 'bgnbd') v
           ON v.customer_id = c.customer_id
    LEFT JOIN (SELECT * FROM review_p_alive WHERE review_month = '2025-12') a
           ON a.customer_id = c.customer_id"""
BARE_SELECT = "SELECT c.customer_id, c.name, c.email, p.profit, p.tier, v.clv, a.p_alive"
BARE_ORDER = {
    "profit": "p.profit DESC NULLS LAST, c.customer_id",
    "value": "v.clv DESC NULLS LAST, c.customer_id",
    "p_alive": "a.p_alive DESC NULLS LAST, c.customer_id",
    "tier": "p.rank ASC NULLS LAST, c.customer_id",
}


def bare_sql(view: dict[str, str]) -> str:
    """The hand-written query of one view of the page (its first page of 50 rows)."""
    sort = view.get("sort", "profit")
    where = ""
    if view.get("q"):
        q = view["q"].lower().replace("'", "''")
        where = (
            f" WHERE strpos(lower(c.customer_id), '{q}') > 0 OR strpos(lower(c.name), '{q}') > 0"
            f" OR strpos(lower(c.email), '{q}') > 0"
        )
    if sort == "last_order":
        return (
            "SELECT c.customer_id, c.name, o.last_order FROM customers c JOIN (SELECT customer_id, "
            "max(ordered_at) AS last_order FROM orders GROUP BY 1) o ON o.customer_id = c.customer_id"
            f"{where} ORDER BY o.last_order DESC, c.customer_id LIMIT 50"
        )
    return f"{BARE_SELECT} {BARE_FROM}{where} ORDER BY {BARE_ORDER[sort]} LIMIT 50"


#: The floor: the sort's figure alone from its stored table (or the customers), no join, no search.
FLOOR = {
    "profit": "SELECT customer_id, profit FROM profit_ttm WHERE month = '2025-12' "
    "ORDER BY profit DESC LIMIT 50",
    "value": "SELECT customer_id, clv FROM clv WHERE as_of = TIMESTAMPTZ '2025-12-31 00:00:00+00' "
    "ORDER BY clv DESC LIMIT 50",
    "p_alive": "SELECT customer_id, p_alive FROM review_p_alive WHERE review_month = '2025-12' "
    "ORDER BY p_alive DESC LIMIT 50",
    "tier": "SELECT customer_id, rank FROM profit_ttm WHERE month = '2025-12' ORDER BY rank LIMIT 50",
    "last_order": "SELECT customer_id, max(ordered_at) AS k FROM orders GROUP BY 1 ORDER BY k DESC LIMIT 50",
}


def floor_sql(view: dict[str, str]) -> str:
    """The one-table query of a view: its sort's figure, or for a search the matching customers by id."""
    if view.get("q"):
        q = view["q"].lower().replace("'", "''")
        return (
            "SELECT customer_id FROM customers WHERE "
            f"contains(lower(customer_id || ' ' || coalesce(name, '') || ' ' || coalesce(email, '')), '{q}') "
            "ORDER BY customer_id LIMIT 50"
        )
    return FLOOR[view.get("sort", "profit")]


VIEWS: tuple[tuple[str, dict[str, str]], ...] = (
    ("default (profit, page 1)", {}),
    ("search 'nowak'", {"q": "nowak"}),
    ("search an id", {"q": "C0012345"}),
    ("sort by value", {"sort": "value"}),
    ("sort by P(alive)", {"sort": "p_alive"}),
    ("sort by tier", {"sort": "tier"}),
    ("sort by last order", {"sort": "last_order"}),
    ("profit, page 200", {"page": "200"}),
)


def main() -> None:
    """Build or reuse the store; time the page, the API and the bare query of each view side by side."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"customers_{args.customers}_{args.lines}.duckdb"
    if not path.exists():
        try:
            generate(path, args.customers, args.lines)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    import duckdb

    from _signed_in import median, signed_in

    url = f"duckdb:///{path}"
    client, _ = signed_in(url)

    def cold(sql: str) -> Any:
        """The bare query on a fresh connection, as the dashboard opens the store for each request."""
        con = duckdb.connect(str(path), read_only=True)
        try:
            con.execute("SET TimeZone = 'UTC'")
            return con.execute(sql).fetchall()
        finally:
            con.close()

    print(f"{args.customers:,} customers, {args.lines:,} order lines; median of {args.repeat}; CPU = this "
          f"process, every thread; load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    print(
        "| view | page wall / CPU (s) | API wall / CPU (s) | bare join wall / CPU (s) | bare one table "
        "wall / CPU (s) | page / bare join (CPU) | page / one table (CPU) |\n"
        "|---|---:|---:|---:|---:|---:|---:|"
    )
    worst = 0.0
    for name, view in VIEWS:
        query = dict(view)
        if args.customers < 200_000 and "page" in query:
            query["page"] = "20"
        first = client.get("/customers", params=query)
        assert first.status_code == 200 and first.url.path == "/customers", (
            name,
            first.status_code,
            first.url,
        )
        assert client.get("/api/v1/customers", params=query).status_code == 200
        page = median(lambda q=query: client.get("/customers", params=q), args.repeat)  # type: ignore[misc]
        api = median(lambda q=query: client.get("/api/v1/customers", params=q), args.repeat)  # type: ignore[misc]
        offset = 50 * (int(query.get("page", "1")) - 1)
        sql = bare_sql(view) + (f" OFFSET {offset}" if offset else "")
        joined = median(lambda s=sql: cold(s), args.repeat)  # type: ignore[misc]
        one = floor_sql(view) + (f" OFFSET {offset}" if offset else "")
        floor = median(lambda s=one: cold(s), args.repeat)  # type: ignore[misc]
        worst = max(worst, page[0])
        print(
            f"| {name} | {page[0]:.3f} / {page[1]:.3f} | {api[0]:.3f} / {api[1]:.3f} | "
            f"{joined[0]:.3f} / {joined[1]:.3f} | {floor[0]:.3f} / {floor[1]:.3f} | "
            f"{page[1] / max(joined[1], 1e-4):.1f}x | {page[1] / max(floor[1], 1e-4):.1f}x |"
        )
    one = client.get("/api/v1/customers", params={"per_page": 1}).json()["customers"][0]["customer_id"]
    profile = median(lambda: client.get(f"/customers/{one}"), args.repeat)
    print(f"\ncustomer page GET /customers/{one}: {profile[0]:.3f} s wall, {profile[1]:.3f} s CPU")
    print(f"slowest list page: {worst:.3f} s wall; load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
