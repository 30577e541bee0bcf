"""Benchmark: customer profitability in the engine against a bare DuckDB aggregate over the same order lines.

    .venv/bin/python bench/profit.py                      # 1,000,000 customers, 10,000,000 order lines
    .venv/bin/python bench/profit.py --customers 100000 --lines 1000000 --repeat 1   # a quick look
    .venv/bin/python bench/profit.py --review --baseline /tmp/base/src --repeat 3   # the review's section

The store is generated directly with DuckDB SQL (``range()`` + ``random()`` with a fixed seed) into a
DuckDB file under bench/data/profit (kept between runs; delete it to regenerate): customers, products
(standard costs for lines without their own cost), order lines over 24 months with 3% returns, 2 million
time logs by 50 staff whose rates change on 2025-01-01 (priced by the rate valid at each log), 100,000
incidents (30% with a concession), 100,000 advocacy rows (half referrals valued by the referred customer's
first-year margin). Each measurement runs in a fresh Python process, so its peak resident memory (ru_maxrss)
is its own; the measurements are interleaved ``--repeat`` times (so all sides see the same background load)
and the best and median times and the largest peak memory are reported:

- ``bare``: ``SELECT customer_id, SUM(quantity * unit_price), SUM(quantity * unit_cost) FROM orders
  GROUP BY customer_id``, fetched as Arrow (revenue and cogs only: the floor for any per-customer figure);
- ``ledger``: keepwise's lifetime profitability expression (revenue, cogs, cost to serve with the as-of
  rate join, concessions, advocacy with referral margins, profit), fetched as Arrow;
- ``profitability``: ``keepwise.value.profitability(store, month, view="lifetime")``: the same plus ranks,
  quintiles and tiers (window functions in the engine), returned as a pandas DataFrame of Decimals.

With ``--review``, what a monthly review's profitability asks for instead: the review's profitability
section (``keepwise.report.sections.profitability.profitability_section``) in one run
(:func:`keepwise.store.memo.one_run`): the month's and the twelve months' documents (totals, tiers, tier
movement against the month before, the whale curve and the least profitable customers), four periods'
ledgers; Plotly is imported before the clock starts (the report's import, not the section's);
``--baseline SRC`` measures another source tree's side too (e.g. main's ``src``), alternating the sides run
by run. Times are CPU (user + system of the process, DuckDB's threads
included) beside wall time, as other work on a shared machine inflates wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
DATA = HERE / "data" / "profit"
MONTH = "2025-12"


def generate(path: Path, customers: int, lines: int) -> None:
    import duckdb

    from keepwise.store import connect

    t0 = time.perf_counter()
    backend = connect(f"duckdb:///{path}")
    backend.disconnect()
    con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SELECT setseed(0.42)")
    n, m = customers, lines
    logs, incidents, advocacy = 2_000_000, 100_000, 100_000
    start = "TIMESTAMPTZ '2024-01-01 00:00:00+00'"
    con.execute(f"""
        INSERT INTO customers (customer_id, acquired_at, currency)
        SELECT 'C' || lpad(i::VARCHAR, 8, '0'), {start} + to_seconds((random() * 360 * 86400)::BIGINT), 'USD'
        FROM range({n}) t(i)""")
    con.execute("""
        INSERT INTO products (product_id, category, unit_cost, currency)
        SELECT 'P' || i, 'cat' || (i % 12), round(2 + random() * 40, 2), 'USD' FROM range(1000) t(i)""")
    con.execute(f"""
        INSERT INTO orders
        SELECT 'O' || i, '1', 'C' || lpad((hash(i) % {n})::VARCHAR, 8, '0'),
               {start} + to_seconds((random() * 730 * 86400)::BIGINT),
               'P' || (hash(i * 7) % 1000), NULL,
               CASE WHEN random() < 0.03 THEN -1 ELSE 1 + (random() * 3)::INT END,
               round(5 + random() * 95, 2),
               CASE WHEN random() < 0.2 THEN NULL ELSE round(3 + random() * 50, 2) END,
               'USD'
        FROM range({m}) t(i)""")
    con.execute(f"""
        INSERT INTO staff_rates (staff_id, hourly_cost, currency, valid_from, practical_minutes_per_month)
        SELECT 'S' || s, 30 + s, 'USD', {start}, 6000 FROM range(50) t(s)
        UNION ALL
        SELECT 'S' || s, 33 + s, 'USD', TIMESTAMPTZ '2025-01-01 00:00:00+00', 6000 FROM range(50) t(s)""")
    con.execute(f"""
        INSERT INTO time_logs (customer_id, staff_id, started_at, minutes, activity)
        SELECT 'C' || lpad((hash(i * 13) % {n})::VARCHAR, 8, '0'), 'S' || (hash(i * 17) % 50),
               {start} + to_seconds((random() * 730 * 86400)::BIGINT), 1 + (random() * 59)::INT, 'call'
        FROM range({logs}) t(i)""")
    con.execute(f"""
        INSERT INTO incidents (incident_id, customer_id, opened_at, status, concession_amount, currency,
                               resolved_at)
        SELECT 'I' || i, 'C' || lpad((hash(i * 19) % {n})::VARCHAR, 8, '0'), o, 'resolved',
               CASE WHEN random() < 0.3 THEN round(5 + random() * 100, 2) END, 'USD', o + INTERVAL 3 DAY
        FROM (SELECT i, {start} + to_seconds((random() * 720 * 86400)::BIGINT) AS o
              FROM range({incidents}) t(i))""")
    con.execute(f"""
        INSERT INTO advocacy (customer_id, kind, "at", referred_customer_id, value, currency)
        SELECT 'C' || lpad((hash(i * 23) % {n})::VARCHAR, 8, '0'),
               CASE WHEN i % 4 < 2 THEN 'referral' WHEN i % 4 = 2 THEN 'review' ELSE 'case_study' END,
               {start} + to_seconds((random() * 720 * 86400)::BIGINT),
               CASE WHEN i % 4 < 2 THEN 'C' || lpad((hash(i * 29) % {n})::VARCHAR, 8, '0') END,
               CASE WHEN i % 4 = 3 THEN 500 END, 'USD'
        FROM range({advocacy}) t(i)""")
    con.execute("CHECKPOINT")
    con.close()
    print(f"generated {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)


def measure(name: str, path: Path) -> dict[str, float]:
    """Run one measurement in this (fresh) process and return its time and peak memory."""
    from keepwise.config import Config
    from keepwise.store import connect
    from keepwise.value import customer_ledger, profitability

    backend = connect(f"duckdb:///{path}", read_only=True)
    backend.raw_sql("SET TimeZone = 'UTC'")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cfg = Config()
    t0 = time.perf_counter()
    use0 = resource.getrusage(resource.RUSAGE_SELF)
    cpu0 = use0.ru_utime + use0.ru_stime
    if name == "bare":
        result = backend.con.sql(
            "SELECT customer_id, SUM(quantity * unit_price) AS revenue, SUM(quantity * unit_cost) AS cogs "
            "FROM orders GROUP BY customer_id"
        ).to_arrow_table()
        rows = result.num_rows
    elif name == "ledger":
        rows = customer_ledger(backend, MONTH, view="lifetime", config=cfg).to_pyarrow().num_rows
    elif name == "profitability":
        rows = len(profitability(backend, MONTH, view="lifetime", config=cfg))
    elif name.startswith("review"):  # the review's profitability section
        import plotly.graph_objects  # noqa: F401  (the whale figure's import is the report's, not the section's)

        from keepwise.report.sections.profitability import profitability_section
        from keepwise.store.memo import one_run

        t0 = time.perf_counter()
        use0 = resource.getrusage(resource.RUSAGE_SELF)
        cpu0 = use0.ru_utime + use0.ru_stime
        with one_run(backend):
            doc = profitability_section(backend, MONTH, cfg)
            rows = doc["ttm"]["whale"]["customers"] + doc["month"]["whale"]["customers"]
    else:
        raise SystemExit(f"unknown measurement {name}")
    seconds = time.perf_counter() - t0
    use = resource.getrusage(resource.RUSAGE_SELF)
    cpu = use.ru_utime + use.ru_stime - cpu0
    peak = use.ru_maxrss / 1024
    return {"seconds": seconds, "cpu": cpu, "peak_rss_mb": peak, "rss_before_mb": base, "rows": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--review", action="store_true", help="the review's profitability section")
    parser.add_argument("--baseline", help="another source tree (its src) to measure side by side")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--db", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.db)))
        return
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"profit_{args.customers}_{args.lines}.duckdb"
    if not path.exists():
        generate(path, args.customers, args.lines)
    names: tuple[str, ...] = ("bare", "ledger", "profitability")
    if args.review:
        names = ("bare", "review", "review_baseline") if args.baseline else ("bare", "review")
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for i in range(args.repeat):  # interleaved, so every side sees the same background load
        for name in names if i % 2 == 0 else (names[0], *names[:0:-1]):  # the sides alternate
            env = {**os.environ}
            if name == "review_baseline":
                env["PYTHONPATH"] = args.baseline
            proc = subprocess.run(
                [sys.executable, __file__, "--measure", name, "--db", str(path)],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            runs[name].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    results: dict[str, dict[str, float]] = {}
    for name in names:
        best = dict(min(runs[name], key=lambda r: r["seconds"]))
        best["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs[name])
        best["median_seconds"] = sorted(r["seconds"] for r in runs[name])[len(runs[name]) // 2]
        best["median_cpu"] = sorted(r["cpu"] for r in runs[name])[len(runs[name]) // 2]
        results[name] = best
        print(
            f"{name:15s} best {best['seconds']:6.2f} s, median {best['median_seconds']:6.2f} s wall, "
            f"{best['median_cpu']:6.2f} s CPU; "
            f"peak RSS {best['peak_rss_mb']:6.0f} MB (after imports {best['rss_before_mb']:.0f} MB); "
            f"rows {best['rows']:,}",
            file=sys.stderr,
        )
    bare = results["bare"]["median_cpu"]
    for name in names[1:]:
        print(f"{name} / bare = {results[name]['median_cpu'] / bare:.1f}x (CPU)", file=sys.stderr)
    print(json.dumps({"customers": args.customers, "lines": args.lines, "cpus": os.cpu_count(), **results}))


if __name__ == "__main__":
    main()
