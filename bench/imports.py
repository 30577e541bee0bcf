"""Importing a 1,000,000-line Shopify orders export against ``keepwise load`` of the same data.

Run: ``.venv/bin/python bench/imports.py [--lines 1000000]``

Generates ``bench/data/imports/orders_export.csv`` with DuckDB (seeded): Shopify's layout, three line
items per order, the order's fields on its first row only, timestamps with offsets, a discount on every
fifth order, a partial refund on every twentieth, a cancelled order in fifty, e-mails in mixed case. Then,
each in a fresh process on a fresh store: ``keepwise import shopify-orders FILE`` (read, map, match
customers, validate, load), and ``keepwise load DIR`` of the very rows the import stored (customers.csv and
orders.csv, exported from the import's store), the same validated load without the mapping. Prints a
Markdown table with wall time, peak RSS and the ratio; paste it into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).parent
DATA = HERE / "data" / "imports"
KEEPWISE = [sys.executable, "-m", "keepwise.cli"]


def generate(lines: int) -> Path:
    """Write the Shopify-format export (once per size)."""
    DATA.mkdir(parents=True, exist_ok=True)
    export = DATA / "orders_export.csv"
    marker = DATA / f".{lines}"
    if export.exists() and marker.exists():
        return export
    con = duckdb.connect()
    con.execute("SELECT setseed(0.16)")
    first = "i % 3 = 0"
    con.execute(
        f"""COPY (
          SELECT '#' || (1000 + i // 3)::VARCHAR AS "Name",
                 CASE WHEN (i // 3) % 7 = 0 THEN 'C' ELSE 'c' END || ((i // 3) % 100000)::VARCHAR
                   || '@example.com' AS "Email",
                 CASE WHEN {first} THEN CASE WHEN (i // 3) % 20 = 0 THEN 'partially_refunded'
                      WHEN (i // 3) % 50 = 1 THEN 'voided' ELSE 'paid' END END AS "Financial Status",
                 CASE WHEN {first} THEN CASE WHEN (i // 3) % 2 = 0 THEN 'yes' ELSE 'no' END END
                   AS "Accepts Marketing",
                 CASE WHEN {first} THEN 'USD' END AS "Currency",
                 CASE WHEN {first} THEN '4.99' END AS "Shipping",
                 CASE WHEN {first} THEN '2.10' END AS "Taxes",
                 CASE WHEN {first} THEN CASE WHEN (i // 3) % 5 = 0 THEN 'SPRING10' ELSE '' END END
                   AS "Discount Code",
                 CASE WHEN {first} THEN CASE WHEN (i // 3) % 5 = 0 THEN '3.00' ELSE '0.00' END END
                   AS "Discount Amount",
                 CASE WHEN {first} THEN strftime(TIMESTAMP '2024-01-01'
                   + to_seconds(CAST((i // 3) * 53 % 63072000 AS BIGINT)), '%Y-%m-%d %H:%M:%S')
                   || ' -0500' END AS "Created at",
                 (1 + i % 3)::VARCHAR AS "Lineitem quantity",
                 'Product ' || (i % 97)::VARCHAR AS "Lineitem name",
                 round(5 + random() * 95, 2)::DECIMAL(10,2)::VARCHAR AS "Lineitem price",
                 'SKU-' || (i % 97)::VARCHAR AS "Lineitem sku",
                 CASE WHEN {first} THEN 'Customer ' || ((i // 3) % 100000)::VARCHAR END AS "Billing Name",
                 CASE WHEN {first} AND (i // 3) % 50 = 1 THEN '2024-02-01 10:00:00 +0000' END
                   AS "Cancelled at",
                 CASE WHEN {first} THEN CASE WHEN (i // 3) % 20 = 0 THEN '5.00' ELSE '0.00' END END
                   AS "Refunded Amount",
                 'Bean & Leaf' AS "Vendor"
          FROM range({lines}) t(i)) TO '{export}' (HEADER)"""
    )
    marker.touch()
    return export


def run(argv: list[str]) -> tuple[float, float]:
    """Run a command in a child process; return (seconds, that child's peak RSS in MiB)."""
    start = time.perf_counter()
    child = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({status})")
    return seconds, usage.ru_maxrss / 1024


def contract_form(store: Path, folder: Path) -> None:
    """The customers and orders the import stored, as the contract's CSV files for ``keepwise load``."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    con = duckdb.connect(str(store), read_only=True)
    for table in ("customers", "orders"):
        con.execute(f"COPY (SELECT * FROM {table}) TO '{folder / (table + '.csv')}' (HEADER)")
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    args = parser.parse_args()
    export = generate(args.lines)
    imported, loaded = DATA / "imported.duckdb", DATA / "loaded.duckdb"
    for f in (imported, loaded):
        f.unlink(missing_ok=True)
    t_import, rss_import = run(
        [*KEEPWISE, "import", "shopify-orders", str(export), "--db", f"duckdb:///{imported}"]
    )
    contract_form(imported, DATA / "contract")
    t_load, rss_load = run([*KEEPWISE, "load", str(DATA / "contract"), "--db", f"duckdb:///{loaded}"])
    con = duckdb.connect(str(imported), read_only=True)
    (orders,) = con.execute("SELECT COUNT(*) FROM orders").fetchone() or (0,)
    con.close()
    print(f"Shopify export: {args.lines:,} lines -> {orders:,} order lines stored\n")
    print("| step | wall time | peak RSS (MiB) |")
    print("|---|---|---|")
    print(f"| keepwise import shopify-orders | {t_import:.1f} s | {rss_import:.0f} |")
    print(f"| keepwise load (same rows, contract form) | {t_load:.1f} s | {rss_load:.0f} |")
    print(f"| ratio import / load | {t_import / t_load:.2f} | |")


if __name__ == "__main__":
    main()
