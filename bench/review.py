"""The monthly review of 1 million customers and 10 million order lines, beside a bare DuckDB scan.

Run: ``.venv/bin/python bench/review.py [--customers 1000000] [--orders 4200000]``, with ``--baseline SRC``
to time another source tree's review side by side, ``--repeat N`` for medians, or ``--demo`` for the
``make demo`` business (3,000 customers, 24 months, seed 7). With a baseline the two reviews alternate, run by
run.

Generates a store ``bench/data/review/CUSTOMERS-ORDERS/kw.duckdb`` with DuckDB SQL (deterministic: every value
is a hash of its row number): ``--customers`` customers acquired over 2024, each active for 30-730 days from
acquisition and then gone (so the purchase model has drop-outs to find); ``--orders`` orders, each placed at a
uniform moment of its customer's active life, with 1-4 lines (2.5 on average) over 6 product ranges and 3%
returns; orders that would fall after 2025 are dropped (4,200,000 orders give about 10 million lines); exits
are recorded for 2% of customers. Then, each in a fresh process so that its peak memory is its own:

* bare: one DuckDB query that scans every order line and aggregates it per customer (count, revenue, margin,
  last order), the least any per-customer review has to do;
* review: ``keepwise.review.run_review`` for 2025-12 (every section, incl. any registered by other parts of
  keepwise, and writing the results back to the store) plus the HTML report.

Prints a Markdown table (wall time, peak RSS) to paste into bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
DATA = HERE / "data" / "review"

GENERATE = """
INSERT INTO customers (customer_id, acquired_at, acquisition_cost, currency)
SELECT 'C' || lpad(i::VARCHAR, 7, '0'),
       TIMESTAMPTZ '2024-01-01 00:00:00+00' + to_seconds((hash(i) % 31536000)::BIGINT),
       (20 + hash(i * 3) % 8000 / 100)::DECIMAL(18, 4), 'USD'
FROM range({customers}) t(i);

INSERT INTO orders (order_id, line_no, customer_id, ordered_at, product_id, category, quantity, unit_price,
                    unit_cost, currency)
SELECT 'O' || n::VARCHAR, (j + 1)::VARCHAR, 'C' || lpad(c::VARCHAR, 7, '0'), ts,
       'P' || ((hash(n * 31 + j) % 60))::VARCHAR,
       'range' || ((hash(n * 31 + j) % 60) // 10)::VARCHAR,
       CASE WHEN hash(n * 17 + j) % 100 < 3 THEN -1 ELSE 1 + hash(n * 13 + j) % 3 END,
       (5 + (hash(n * 31 + j) % 9500) / 100)::DECIMAL(18, 4),
       (2 + (hash(n * 37 + j) % 3000) / 100)::DECIMAL(18, 4),
       'USD'
FROM (
    SELECT n, j, c,
           -- an order falls in its customer's active life: from acquisition for 30-730 days, then they stop
           TIMESTAMPTZ '2024-01-01 00:00:00+00'
             + to_seconds((hash(c) % 31536000 + hash(n) % ((30 + hash(c * 11) % 700) * 86400))::BIGINT) AS ts
    FROM (SELECT n, unnest(range(1 + n % 4)) AS j, hash(n * 7919) % {customers} AS c
          FROM range({orders}) t(n))
)
WHERE ts < TIMESTAMPTZ '2026-01-01 00:00:00+00';

INSERT INTO exits (customer_id, lost_at, reason_code, competitor)
SELECT 'C' || lpad(i::VARCHAR, 7, '0'),
       TIMESTAMPTZ '2025-01-01 00:00:00+00' + to_seconds((hash(i * 5) % 31536000)::BIGINT),
       CASE WHEN hash(i) % 5 = 0 THEN NULL
            ELSE ['price', 'service', 'moved', 'competitor'][(1 + hash(i) % 4)::BIGINT] END,
       CASE WHEN hash(i) % 4 = 3 THEN 'BeanCo' END
FROM range(0, {customers}, 50) t(i);
"""

BARE = """
import json, resource, sys, time, duckdb
start = time.perf_counter()
con = duckdb.connect(sys.argv[1], read_only=True)
con.execute("SET enable_progress_bar = false")
rows = con.execute('''SELECT customer_id, count(*) AS lines, sum(quantity * unit_price) AS revenue,
                             sum(quantity * (unit_price - unit_cost)) AS margin, max(ordered_at) AS last
                      FROM orders GROUP BY customer_id''').fetchall()
use = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": time.perf_counter() - start, "rows": len(rows),
                  "cpu": use.ru_utime + use.ru_stime, "peak_mib": use.ru_maxrss / 1024}))
"""

REVIEW = """
import json, resource, sys, time
start = time.perf_counter()
import keepwise.review as R
from keepwise.report import write_report
from keepwise.store import connect
timings = {}
def timed(key, provider):
    def run(ctx):
        t = time.perf_counter()
        try:
            return provider(ctx)
        finally:
            timings[key] = round(time.perf_counter() - t, 1)
    return run
b = connect(sys.argv[1])
settings = json.loads(sys.argv[4]) if len(sys.argv) > 4 else {}
trace = settings.pop("trace", None)
skip = set(settings.pop("skip", []))
for key, value in settings.items():  # e.g. memory_limit and temp_directory for the largest stores
    b.raw_sql(f"SET {key} = '{value}'")
if trace:  # where the review is and its memory, every so often, for runs that may not finish
    import threading, traceback
    main = threading.main_thread().ident
    def watch():
        while True:
            time.sleep(float(trace))
            frames = traceback.extract_stack(sys._current_frames()[main])
            here = " < ".join(f"{f.filename.split('/')[-1]}:{f.lineno} {f.name}" for f in reversed(frames)
                              if "keepwise" in f.filename)[:400]
            rss = int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
            cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
            print(f"[{time.perf_counter() - start:7.0f} s, cpu {cpu:7.0f} s, rss {rss:6.0f} MiB] {here}",
                  file=sys.stderr, flush=True)
    threading.Thread(target=watch, daemon=True).start()
review = R.run_review(b, sys.argv[3], sections=[(k, timed(k, p)) for k, p in R.SECTIONS if k not in skip])
t = time.perf_counter()
write_report(review, sys.argv[2])
timings["html report"] = round(time.perf_counter() - t, 1)
doc = review.to_json()
print(json.dumps({"seconds": time.perf_counter() - start,
                  "warnings": len(doc["warnings"]), "lost": doc["lost"]["count"],
                  "sections": [s.key for s in review.sections], "notes": review.notes,
                  "headlines": review.headlines, "timings": timings,
                  "cpu": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def demo() -> Path:
    """The ``make demo`` business (3,000 customers, 24 months, seed 7) in a store of its own."""
    folder = DATA / "demo"
    path = folder / "kw.duckdb"
    if path.exists() and (folder / ".complete").exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.glob("kw.duckdb*"):
        f.unlink()
    cli = [sys.executable, "-m", "keepwise.cli"]
    subprocess.run(
        [
            *cli,
            "simulate",
            "--customers",
            "3000",
            "--months",
            "24",
            "--seed",
            "7",
            "--out",
            str(folder / "data"),
        ],
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*cli, "load", str(folder / "data"), "--db", f"duckdb:///{path}"], check=True, capture_output=True
    )
    (folder / ".complete").touch()
    return path


def generate(customers: int, orders: int) -> Path:
    folder = DATA / f"{customers}-{orders}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "kw.duckdb"
    stamp = folder / ".complete"
    if path.exists() and stamp.exists():
        return path
    for f in folder.glob("kw.duckdb*"):
        f.unlink()
    from keepwise.store import connect

    b = connect(f"duckdb:///{path}")
    for statement in GENERATE.format(customers=customers, orders=orders).split(";"):
        if statement.strip():
            b.raw_sql(statement)
    b.disconnect()
    stamp.touch()
    return path


def child(code: str, *args: str, src: str | None = None) -> dict[str, Any]:
    """Run ``code`` in a fresh Python (with ``src`` first on its path) and return the JSON it prints last."""
    env = dict(os.environ, PYTHONPATH=src) if src else None
    out = subprocess.run(
        [sys.executable, "-c", code, *args], check=True, stdout=subprocess.PIPE, text=True, env=env
    )
    return json.loads([line for line in out.stdout.splitlines() if line.startswith("{")][-1])


def median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median wall time, its CPU and memory replaced by the medians of all runs."""
    ordered = sorted(runs, key=lambda r: r["seconds"])
    out = dict(ordered[len(ordered) // 2])
    for key in ("cpu", "peak_mib"):
        values = sorted(r[key] for r in runs)
        out[key] = values[len(values) // 2]
    return out


def main() -> None:
    """Generate (or reuse) the store, then time the bare scan and the review, each in its own process."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--orders", type=int, default=4_200_000)
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="also time the review with the sources in SRC (e.g. a worktree of main's src), side by side",
    )
    parser.add_argument(
        "--demo", action="store_true", help="review the `make demo` business (3,000 customers) instead"
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each side; the median is shown")
    parser.add_argument("--memory-limit", help="DuckDB's memory_limit for the review (e.g. 12GB)")
    parser.add_argument("--temp-dir", help="DuckDB's temp_directory for the review (where it spills)")
    parser.add_argument(
        "--trace", type=float, help="print where the review is (its Python stack) every this many seconds"
    )
    parser.add_argument("--no-bare", action="store_true", help="skip the bare scan (time the review only)")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        metavar="SECTION",
        help="leave these sections out (e.g. profitability)",
    )
    args = parser.parse_args()
    t0 = time.perf_counter()
    path = demo() if args.demo else generate(args.customers, args.orders)
    print(f"data ready in {time.perf_counter() - t0:.1f} s: {path}", file=sys.stderr)
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    lines = con.execute("SELECT count(*) FROM orders").fetchone()[0]  # type: ignore[index]
    con.close()
    settings: dict[str, Any] = {}
    if args.memory_limit:
        settings["memory_limit"] = args.memory_limit
    if args.temp_dir:
        settings["temp_directory"] = args.temp_dir
    if args.trace:
        settings["trace"] = args.trace
    if args.skip:
        settings["skip"] = args.skip
    if args.no_bare:
        bare = {"seconds": float("nan"), "cpu": float("nan"), "peak_mib": float("nan")}
    else:
        bare = median([child(BARE, str(path)) for _ in range(args.repeat)])
        print(f"bare scan: {json.dumps(bare)}", file=sys.stderr, flush=True)
    runs = [("`run_review` 2025-12 + HTML report", None)]
    if args.baseline:
        runs.insert(0, (f"the same, sources of {args.baseline}", args.baseline))
    html, month = str(path.parent / "review.html"), "2025-12"
    # the sides alternate, run by run, so that a change in the machine's load falls on both alike
    done: dict[str, list[dict[str, Any]]] = {label: [] for label, _ in runs}
    for _ in range(args.repeat):
        for label, src in runs:
            done[label].append(child(REVIEW, f"duckdb:///{path}", html, month, json.dumps(settings), src=src))
    results = [(label, median(done[label])) for label, _ in runs]
    customers = 3000 if args.demo else args.customers
    print(f"{customers:,} customers, {lines:,} order lines; median of {args.repeat}\n")
    print("| run | wall (s) | CPU (s) | peak RSS (MiB) | wall / bare | CPU / bare |")
    print("|---|---:|---:|---:|---:|---:|")
    print(
        f"| bare DuckDB scan: per-customer count, revenue, margin, last order | {bare['seconds']:.1f} | "
        f"{bare['cpu']:.1f} | {bare['peak_mib']:,.0f} | 1.0x | 1.0x |"
    )
    for label, r in results:
        print(
            f"| {label} | {r['seconds']:.1f} | {r['cpu']:.1f} | {r['peak_mib']:,.0f} | "
            f"{r['seconds'] / bare['seconds']:.1f}x | {r['cpu'] / bare['cpu']:.1f}x |"
        )
    review = results[-1][1]
    print(f"\nreview: {json.dumps({k: review[k] for k in ('warnings', 'lost', 'timings', 'notes')})}")
    for h in review["headlines"]:
        print(f"- {h}")


if __name__ == "__main__":
    main()
