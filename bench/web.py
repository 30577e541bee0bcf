"""The dashboard reads what the commands stored: each route against what it used to compute per request.

Builds (once, cached under --cache) a simulated business, `keepwise simulate --customers N --months 24
--seed 7`, loaded into a DuckDB file on which `keepwise review`, `winback`, `outreach` and `profit` (month
and ttm) have run, as a store the dashboard serves. Then, for each route of `keepwise.web.create_app`
through Starlette's TestClient (in-process ASGI, no network), side by side in one run:

- before: the front-door computation the route made on every request until the web read stored documents
  (`winback.run(save=False)`, `outreach.run(save=False)`, `profit_document`, a fresh `ConcessionAdvisor`,
  `profitability(ttm)` for a customer's profile, `wins_against_losses`, the review document parsed),
- first: the route's first request (parses the stored document, fits the advisor),
- now: the median of --repeat requests after it,

each a median of --repeat runs, with the response size. Ratios are before / now.

    PYTHONPATH=src .venv/bin/python -W ignore bench/web.py [--customers 30000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from keepwise.config import Config
from keepwise.jsonio import dumps
from keepwise.store import Store, connect
from keepwise.web import create_app

COMMANDS = (
    ("review", "--json"),
    ("winback", "--json"),
    ("outreach", "--json"),
    ("profit", "--json"),
    ("profit", "--view", "ttm", "--json"),
)


def keepwise(*args: str) -> None:
    """Run the real CLI (the same interpreter), output discarded; stop on failure."""
    cli = [sys.executable, "-W", "ignore", "-c", "from keepwise.cli import main; main()", *args]
    subprocess.run(cli, check=True, stdout=subprocess.DEVNULL)


def build(customers: int, cache: Path) -> tuple[str, dict[str, float]]:
    """The served store (built once per size under ``cache``) and the seconds each command took to store."""
    folder = cache / f"web-{customers}"
    db = folder / "store.duckdb"
    timings = folder / "commands.json"
    if not (db.exists() and timings.exists()):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        keepwise("simulate", "--customers", str(customers), "--months", "24", "--seed", "7",
                 "--out", str(folder / "data"))  # fmt: skip
        keepwise("load", str(folder / "data"), "--db", f"duckdb:///{db}")
        took = {}
        for args in COMMANDS:
            started = time.perf_counter()
            keepwise(
                *args,
                "--db",
                f"duckdb:///{db}",
                *(["--html", str(folder / "r.html")] * (args[0] == "review")),
            )
            took[" ".join(a for a in args if a != "--json")] = time.perf_counter() - started
        timings.write_text(json.dumps(took, indent=1))
    return f"duckdb:///{db}", json.loads(timings.read_text())


def median(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (this process, every thread) of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    return statistics.median(wall), statistics.median(cpu)


def before_calls(config: Config, customer: str) -> dict[str, Callable[[Store], Any]]:
    """What each route computed per request before it read the stored documents (by route name)."""
    from keepwise.decisions import outreach, winback
    from keepwise.decisions.concession import ConcessionAdvisor
    from keepwise.decisions.wins import wins_against_losses
    from keepwise.value import customer_ledger, whale_curve
    from keepwise.value.profitability import latest_month, profitability
    from keepwise.value.review_section import profit_document
    from keepwise.web.data import review_document

    def whale_page(s: Store) -> Any:
        doc = profit_document(s, None, view="ttm", config=config)
        return doc, whale_curve(customer_ledger(s, doc["month"], view="ttm", config=config))

    review = lambda s: dumps(review_document(s))  # noqa: E731
    return {
        "GET /api/review": review,
        "GET / (overview)": review,
        "GET /api/customers/ID": lambda s: profitability(s, latest_month(s), view="ttm", config=config),
        "GET /api/profit": lambda s: dumps(profit_document(s, None, view="month", config=config)),
        "GET /api/profit?view=ttm": lambda s: dumps(profit_document(s, None, view="ttm", config=config)),
        "GET /profit": whale_page,
        "POST /api/concession": lambda s: ConcessionAdvisor(s, config).advise(customer, "100", log=False),
        "GET /api/winback": lambda s: dumps(winback.run(s, config=config, top=20, save=False).to_json()),
        "GET /winback": lambda s: winback.run(s, config=config, top=25, save=False).to_json(),
        "GET /api/outreach": lambda s: dumps(outreach.run(s, config=config, save=False).to_json()),
        "GET /outreach": lambda s: outreach.run(s, config=config, save=False).to_json(),
        "GET /api/wins": lambda s: wins_against_losses(s, None, config=config).to_json(),
        "GET /wins": lambda s: wins_against_losses(s, None, config=config).to_json(),
    }


def main() -> None:
    """Build or reuse the store, then time every route against its former per-request computation."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "keepwise-bench")
    args = parser.parse_args()
    url, took = build(args.customers, args.cache)
    from dataclasses import replace

    from keepwise.config import WebAssumptions
    from keepwise.web.data import review_document

    token = "bench-token-0123456789abcdef"  # every route needs a login: a script's admin token
    config = replace(Config(), web=replace(WebAssumptions(), token=token))

    backend = connect(url, read_only=True)
    customer = review_document(backend)["warnings"][0]["customer_id"]
    backend.disconnect()
    os.environ.pop("KEEPWISE_WEB_TOKEN", None)
    client = TestClient(create_app(url, config), base_url="http://127.0.0.1:8000")
    client.headers["Authorization"] = f"Bearer {token}"
    routes: list[tuple[str, Callable[[], Any]]] = [
        ("GET /api/status", lambda: client.get("/api/status")),
        ("GET /api/review", lambda: client.get("/api/review")),
        ("GET / (overview)", lambda: client.get("/")),
        ("GET /api/customers/ID", lambda: client.get(f"/api/customers/{customer}")),
        ("GET /customers/ID", lambda: client.get(f"/customers/{customer}")),
        ("GET /api/profit", lambda: client.get("/api/profit")),
        ("GET /api/profit?view=ttm", lambda: client.get("/api/profit", params={"view": "ttm"})),
        ("GET /profit", lambda: client.get("/profit")),
        (
            "POST /api/concession",
            lambda: client.post("/api/concession", json={"customer_id": customer, "cost": "100"}),
        ),
        ("GET /api/winback", lambda: client.get("/api/winback")),
        ("GET /api/winback?page=3", lambda: client.get("/api/winback", params={"page": 3})),
        ("GET /winback", lambda: client.get("/winback")),
        ("GET /api/outreach", lambda: client.get("/api/outreach")),
        ("GET /outreach", lambda: client.get("/outreach")),
        ("GET /api/wins", lambda: client.get("/api/wins")),
        ("GET /wins", lambda: client.get("/wins")),
        ("GET /concession (form)", lambda: client.get("/concession")),
        ("GET /conjoint", lambda: client.get("/conjoint")),
    ]
    before = before_calls(config, customer)
    print(f"{args.customers:,} customers; commands that stored what the dashboard reads:")
    for name, seconds in took.items():
        print(f"  keepwise {name}: {seconds:.1f} s")
    print(f"median of {args.repeat}; before = the route's former per-request computation, same run\n")
    print("| route | before wall / CPU (s) | first (s) | now wall / CPU (s) | before / now (CPU) | bytes |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, call in routes:
        old = None
        if name in before:
            store = connect(url, read_only=True)
            try:
                old = median(lambda f=before[name], s=store: f(s), args.repeat)  # type: ignore[misc]
            finally:
                store.disconnect()
        started = time.perf_counter()
        first = call()
        first_s = time.perf_counter() - started
        assert first.status_code == 200, (name, first.status_code, first.text[:300])
        now = median(call, args.repeat)
        ratio = f"{old[1] / max(now[1], 1e-3):,.0f}x" if old is not None else ""
        old_s = f"{old[0]:.3f} / {old[1]:.3f}" if old is not None else ""
        now_s = f"{now[0]:.3f} / {now[1]:.3f}"
        print(f"| `{name}` | {old_s} | {first_s:.3f} | {now_s} | {ratio} | {len(first.content):,} |")


if __name__ == "__main__":
    main()
