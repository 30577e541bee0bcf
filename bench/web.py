"""The dashboard reads what the review stored instead of running it again: time per route vs the review.

Simulates a business (default 3,000 customers over 24 months, seed 7: the `make demo` store), loads it into a
DuckDB file, runs the monthly review once (timed: what the dashboard would cost if it recomputed), then times
each route of `keepwise.web.create_app` through Starlette's TestClient (in-process ASGI, no network):
median of --repeat runs after one warm-up.

    .venv/bin/python bench/web.py [--customers 3000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from keepwise.config import Config
from keepwise.datasets import simulate
from keepwise.review import run_review
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order
from keepwise.web import create_app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="kw-web-bench-"))
    url = f"duckdb:///{folder}/store.duckdb"
    biz = simulate(customers=args.customers, months=24, seed=7)
    backend = connect(url)
    for name in load_order(set(biz.tables)):
        load_frame(backend, name, biz.tables[name], source=name)
    started = time.perf_counter()
    review = run_review(backend, config=Config())
    review_s = time.perf_counter() - started
    month = review.period.month
    top = review.to_json()["warnings"][0]["customer_id"]
    backend.disconnect()
    os.environ.pop("KEEPWISE_WEB_TOKEN", None)
    client = TestClient(create_app(url, Config()), base_url="http://127.0.0.1:8000")
    routes = [
        ("GET /api/review", lambda: client.get("/api/review")),
        ("GET / (overview page, 4 charts)", lambda: client.get("/")),
        (f"GET /api/customers/{top}", lambda: client.get(f"/api/customers/{top}")),
        ("GET /api/profit?view=ttm", lambda: client.get("/api/profit", params={"view": "ttm"})),
        ("GET /profit (tiers, whale curve)", lambda: client.get("/profit")),
        (
            "POST /api/concession",
            lambda: client.post("/api/concession", json={"customer_id": top, "cost": "100"}),
        ),
        ("GET /api/winback", lambda: client.get("/api/winback")),
    ]
    print(f"{args.customers:,} customers, review of {month}: run_review {review_s:.2f} s")
    print("| route | median (s) | review run / route |")
    print("|---|---:|---:|")
    print(f"| `run_review` (what recomputing would cost) | {review_s:.2f} | 1.0x |")
    for name, call in routes:
        assert call().status_code == 200, name
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        print(f"| `{name}` | {med:.3f} | {review_s / med:,.1f}x |")


if __name__ == "__main__":
    main()
