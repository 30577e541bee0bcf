"""Feature queries and the (x, t_x, T) compression on DuckDB and on Spark in local mode, side by side.

Run: ``.venv/bin/python bench/spark.py [--customers 200000] [--orders 840000]``, or by size:
``--lines 10000000`` (1,000,000 customers and 4,200,000 orders, about 10 million lines: bench/review.py's
store), ``--lines 200000`` for a quick run (what ``make bench`` uses).

The store is bench/review.py's generated business (``--orders`` orders with 1-4 lines each, about 2.4 lines
per order, over 2024-2025). It is exported as Parquet (``keepwise.store.spark.export_parquet``, what a
warehouse export hands to Spark) and then, each in a fresh process (a fresh JVM for Spark):

* duckdb: the DuckDB store;
* spark: ``spark-local?data=DIR`` with keepwise's defaults (local[2], 4 shuffle partitions);
* spark-small: the same with ``keepwise.store.spark.SMALL_DATA_CONF`` (C1 JIT only, no whole-stage codegen).

Each runs ``rfm`` (one row per customer back to Python, through Arrow) and the compressed ``(x, t_x, T)``
histogram of ``keepwise fit`` (unique tuples with counts) twice; the script checks that every engine returns
the same histogram. Prints a Markdown table to paste into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from review import generate  # bench/review.py's deterministic store

CHILD = """
import hashlib, json, sys, time
from datetime import UTC, date, datetime
t0 = time.perf_counter()
engine, url = sys.argv[1], sys.argv[2]
from keepwise import features
from keepwise.features.btyd import customer_summary, purchase_days_until, rft_histogram
if engine == "duckdb":
    from keepwise.store import connect
    b = connect(url, read_only=True)
    b.raw_sql("SET enable_progress_bar = false")
else:
    from keepwise.store.spark import SMALL_DATA_CONF, connect_spark
    conf = {**(SMALL_DATA_CONF if engine == "spark-small" else {}), **json.loads(sys.argv[3])}
    b = connect_spark(url, conf=conf or None)
ready = time.perf_counter() - t0
as_of = datetime(2026, 1, 1, tzinfo=UTC)
out = {"engine": engine, "start_s": ready}
for attempt in (1, 2):
    t = time.perf_counter()
    r = features.rfm(features.orders(features.order_lines(b, as_of)), as_of).to_pyarrow()
    out[f"rfm_{attempt}_s"] = time.perf_counter() - t
    t = time.perf_counter()
    days, end = purchase_days_until(b, date(2025, 12, 31))
    h = rft_histogram(customer_summary(days, end, "week")).sort_values(["x", "t_x", "T"])
    out[f"hist_{attempt}_s"] = time.perf_counter() - t
out["customers"] = r.num_rows
out["tuples"] = len(h)
out["hist_sha"] = hashlib.sha256(h.to_csv(index=False).encode()).hexdigest()[:16]
out["total_s"] = time.perf_counter() - t0
print(json.dumps(out))
"""


def child(*args: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{args[0]} failed:\n{done.stderr[-3000:]}")
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])


ENGINES = ("duckdb", "spark", "spark-small")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--orders", type=int, default=840_000)
    parser.add_argument(
        "--lines",
        type=int,
        help="size by order lines: LINES/10 customers, 0.42 LINES orders (10000000 = review.py's store)",
    )
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES))
    parser.add_argument("--driver-memory", default="", help="spark.driver.memory, e.g. 6g")
    args = parser.parse_args()
    if args.lines:
        args.customers, args.orders = args.lines // 10, round(args.lines * 0.42)
    conf = json.dumps({"spark.driver.memory": args.driver_memory} if args.driver_memory else {})
    path = generate(args.customers, args.orders)
    import duckdb

    from keepwise.store import connect
    from keepwise.store.spark import export_parquet

    parquet = path.parent / "parquet"
    t = time.perf_counter()
    if not (parquet / "orders.parquet").exists():
        duck = connect(f"duckdb:///{path}", read_only=True)
        export_parquet(duck, parquet)
        duck.disconnect()
    export_s = time.perf_counter() - t
    (lines,) = duckdb.connect(str(path), read_only=True).execute("SELECT count(*) FROM orders").fetchone()
    urls = {"duckdb": f"duckdb:///{path}", "spark": f"spark-local?data={parquet}"}
    engines = dict.fromkeys(["duckdb", *args.engines])  # DuckDB first: the reference of the ratios
    runs = [child(engine, urls.get(engine, urls["spark"]), conf) for engine in engines]
    shas = {r["hist_sha"] for r in runs}
    assert len(shas) == 1, f"engines disagree on the histogram: {runs}"
    base = runs[0]
    print(f"{args.customers:,} customers, {lines:,} order lines; Parquet export {export_s:.1f} s; ")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; same histogram on all engines\n")
    print("| engine | start | rfm (1st / 2nd) | (x, t_x, T) histogram (1st / 2nd) | 2nd runs vs DuckDB |")
    print("|---|---|---|---|---|")
    for r in runs:
        ratio = (float(r["rfm_2_s"]) + float(r["hist_2_s"])) / (
            float(base["rfm_2_s"]) + float(base["hist_2_s"])
        )
        rfm = f"{float(r['rfm_1_s']):.1f} / {float(r['rfm_2_s']):.1f} s"
        hist = f"{float(r['hist_1_s']):.1f} / {float(r['hist_2_s']):.1f} s"
        print(f"| {r['engine']} | {float(r['start_s']):.1f} s | {rfm} | {hist} | {ratio:.1f}x |")
    print(json.dumps(runs))


if __name__ == "__main__":
    main()
