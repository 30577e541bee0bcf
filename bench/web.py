"""The dashboard reads what the commands stored: every route, timed beside main's code or the old computation.

The served store is either built (once, cached under --cache) from ``keepwise simulate --customers N --months
24 --seed 7`` loaded into DuckDB, or given with ``--store PATH`` (a DuckDB file; for a million customers copy
bench/data/customers_page/customers_1000000_10000000.duckdb); either way ``keepwise review``, ``winback``,
``outreach``, ``profit`` and ``profit --view ttm`` run on it first unless ``PATH.commands.json`` says they
did (``--store`` is written to: pass a copy). Then every route of ``keepwise.web.create_app``, through
Starlette's TestClient (in-process ASGI, no network, signed in with a script's token: bench/_signed_in.py),
in a fresh process per side and round:

- first: the route's first request in that process (it parses a stored document, fits the advisor),
- now: the median wall and CPU seconds (the process, every thread: DuckDB's too) of --repeat requests
  after it,

for this tree's ``src`` and, with ``--baseline SRC`` (e.g. main's src from ``git archive``), for that tree
too, the two sides alternating round by round (``--rounds``); each figure is the median over rounds. With
``--before``, the computation each route made per request before the web read stored documents
(``winback.run(save=False)``, ``outreach.run(save=False)``, ``profit_document``, a fresh
``ConcessionAdvisor``, ``profitability(ttm)`` for a profile, ``wins_against_losses``) is timed too.

    PYTHONPATH=src .venv/bin/python -W ignore bench/web.py [--customers 30000] [--repeat 5]
    PYTHONPATH=src .venv/bin/python -W ignore bench/web.py --store /tmp/m1.duckdb --baseline /tmp/base/src
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _signed_in import median, signed_in
from keepwise.config import Config
from keepwise.jsonio import dumps
from keepwise.store import Store, connect

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


def run_commands(db: Path, timings: Path) -> dict[str, float]:
    """Run the commands whose results the dashboard reads on ``db`` once; the seconds each took, kept."""
    if timings.exists():
        return dict(json.loads(timings.read_text()))
    took = {}
    for args in COMMANDS:
        started = time.perf_counter()
        html = ["--html", str(db.with_suffix(".html"))] * (args[0] == "review")
        keepwise(*args, "--db", f"duckdb:///{db}", *html)
        took[" ".join(a for a in args if a != "--json")] = time.perf_counter() - started
    timings.write_text(json.dumps(took, indent=1))
    return took


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
    return f"duckdb:///{db}", run_commands(db, timings)


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


#: Every route timed: (name, method, path, query or JSON body); ``{ID}`` is a customer of the store.
ROUTES: tuple[tuple[str, str, str, dict[str, Any] | None], ...] = (
    ("GET /api/status", "GET", "/api/status", None),
    ("GET /api/review", "GET", "/api/review", None),
    ("GET / (overview)", "GET", "/", None),
    ("GET /warnings", "GET", "/warnings", None),
    ("GET /lost", "GET", "/lost", None),
    ("GET /customers", "GET", "/customers", None),
    ("GET /api/v1/customers", "GET", "/api/v1/customers", None),
    ("GET /api/customers/ID", "GET", "/api/customers/{ID}", None),
    ("GET /api/v1/customers/ID", "GET", "/api/v1/customers/{ID}", None),
    ("GET /customers/ID", "GET", "/customers/{ID}", None),
    ("GET /api/profit", "GET", "/api/profit", None),
    ("GET /api/profit?view=ttm", "GET", "/api/profit", {"view": "ttm"}),
    ("GET /profit", "GET", "/profit", None),
    ("POST /api/concession", "POST", "/api/concession", {"customer_id": "{ID}", "cost": "100"}),
    ("GET /api/winback", "GET", "/api/winback", None),
    ("GET /api/winback?page=3", "GET", "/api/winback", {"page": 3}),
    ("GET /winback", "GET", "/winback", None),
    ("GET /api/outreach", "GET", "/api/outreach", None),
    ("GET /outreach", "GET", "/outreach", None),
    ("GET /api/wins", "GET", "/api/wins", None),
    ("GET /wins", "GET", "/wins", None),
    ("GET /concession (form)", "GET", "/concession", None),
    ("GET /conjoint", "GET", "/conjoint", None),
    ("GET /experiments", "GET", "/experiments", None),
    ("GET /outbox", "GET", "/outbox", None),
    ("GET /activity", "GET", "/activity", None),
)


def a_customer(url: str) -> str:
    """A customer to show: the first one the latest review warned about, else the first by id."""
    store = connect(url, read_only=True)
    try:
        tables = set(store.tables())
        if "review_warnings" in tables:
            t = store.table("review_warnings")
            rows = store.to_pandas(t.order_by(["review_month", "customer_id"]).select("customer_id").limit(1))
            if not rows.empty:
                return str(rows.customer_id.iloc[0])
        t = store.table("customers")
        return str(
            store.to_pandas(t.order_by("customer_id").select("customer_id").limit(1)).customer_id.iloc[0]
        )
    finally:
        store.disconnect()


def measure(url: str, customer: str, repeat: int, only: set[str] | None = None) -> list[dict[str, Any]]:
    """Each route's first request and the median of ``repeat`` after it, in this process (its code)."""
    client, _ = signed_in(url)
    out = []
    for name, method, path, given in ROUTES:
        if only and name not in only:
            continue
        path = path.replace("{ID}", customer)
        if method == "POST":
            body = {k: v.replace("{ID}", customer) for k, v in (given or {}).items()}
            call: Callable[[], Any] = lambda p=path, b=body: client.post(p, json=b)  # noqa: E731
        else:
            call = lambda p=path, q=given: client.get(p, params=q)  # noqa: E731
        started, used = time.perf_counter(), time.process_time()
        first = call()
        first_s, first_cpu = time.perf_counter() - started, time.process_time() - used
        row: dict[str, Any] = {"route": name, "status": first.status_code, "bytes": len(first.content)}
        row.update(first=first_s, first_cpu=first_cpu)
        if first.status_code == 200:
            row["wall"], row["cpu"] = median(call, repeat)
        else:
            row["error"] = first.text[:200]
        out.append(row)
    row = {"route": "peak RSS (MiB)", "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    return [*out, row]


def side(src: str, url: str, customer: str, repeat: int, only: set[str] | None) -> list[dict[str, Any]]:
    """:func:`measure` in a fresh process with ``src`` first on its path; its rows."""
    env = dict(os.environ, PYTHONPATH=src)
    cli = [sys.executable, "-W", "ignore", __file__, "--measure", url, "--customer", customer]
    cli += ["--repeat", str(repeat), *(["--only", ",".join(sorted(only))] if only else [])]
    done = subprocess.run(cli, env=env, check=True, capture_output=True, text=True)
    rows: list[dict[str, Any]] = json.loads(done.stdout.splitlines()[-1])
    return rows


def medians(rounds: list[list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Each route's figures, the median over rounds (the first round's status, bytes and error)."""
    out: dict[str, dict[str, Any]] = {}
    for row in rounds[0]:
        name = row["route"]
        same = [r for one in rounds for r in one if r["route"] == name]
        merged = dict(row)
        for key in ("first", "first_cpu", "wall", "cpu", "peak_mib"):
            values = [r[key] for r in same if key in r]
            if values:
                merged[key] = statistics.median(values)
        out[name] = merged
    return out


def cell(row: dict[str, Any] | None) -> tuple[str, str]:
    """The "first" and "now wall / CPU" cells of a side's route (its status when it failed)."""
    if row is None:
        return "", ""
    if row["status"] != 200:
        return f"{row['status']}", ""
    return f"{row['first']:.3f} / {row['first_cpu']:.3f}", f"{row['wall']:.3f} / {row['cpu']:.3f}"


def main() -> None:
    """Build or reuse the store, then time every route on each side (and the former computation)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=30_000)
    parser.add_argument("--store", type=Path, help="serve this DuckDB file (the commands run on it once)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1, help="processes per side, alternating")
    parser.add_argument("--baseline", help="another tree's src (e.g. main's) timed side by side")
    parser.add_argument("--before", action="store_true", help="time the former per-request computations")
    parser.add_argument("--only", help="comma-separated route names (as printed) to time, no others")
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "keepwise-bench")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # a side's process: its rows as JSON
    parser.add_argument("--customer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    only = set(args.only.split(",")) if args.only else None
    if args.measure:
        print(json.dumps(measure(args.measure, args.customer, args.repeat, only)))
        return
    if args.store is not None:
        url = f"duckdb:///{args.store.resolve()}"
        took = run_commands(args.store, Path(f"{args.store}.commands.json"))
    else:
        url, took = build(args.customers, args.cache)
    customer = a_customer(url)
    here = str(Path(__file__).resolve().parent.parent / "src")
    sides = {"this": here, **({"main": args.baseline} if args.baseline else {})}
    rounds: dict[str, list[list[dict[str, Any]]]] = {name: [] for name in sides}
    loads = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for name, src in reversed(sides.items()):  # the baseline first, then this tree
            rounds[name].append(side(src, url, customer, args.repeat, only))
            loads.append(os.getloadavg()[0])
    results = {name: medians(r) for name, r in rounds.items()}
    old: dict[str, tuple[float, float]] = {}
    if args.before:
        config = Config()
        for name, compute in before_calls(config, customer).items():
            if only and name not in only:
                continue
            store = connect(url, read_only=True)
            try:
                old[name] = median(lambda f=compute, s=store: f(s), args.repeat)  # type: ignore[misc]
            finally:
                store.disconnect()
    print(f"{url}; customer {customer}; commands that stored what the dashboard reads:")
    for name, seconds in took.items():
        print(f"  keepwise {name}: {seconds:.1f} s")
    print(f"median of {args.repeat} requests after the first, median of {args.rounds} process(es) per side; "
          f"load average {min(loads):.1f}-{max(loads):.1f}\n")  # fmt: skip
    this = results["this"]
    base = results.get("main", {})
    head = "| route |"
    rule = "|---|"
    if args.before:
        head, rule = head + " before wall / CPU (s) |", rule + "---:|"
    if base:
        head, rule = head + " main first wall / CPU (s) | main wall / CPU (s) |", rule + "---:|---:|"
    head += " first wall / CPU (s) | now wall / CPU (s) |"
    rule += "---:|---:|"
    if base:
        head, rule = head + " main / now (CPU) |", rule + "---:|"
    print(head + " bytes |\n" + rule + "---:|")
    for name, _, _, _ in ROUTES:
        if name not in this:
            continue
        row = this[name]
        cells = []
        if args.before:
            cells.append(f"{old[name][0]:.3f} / {old[name][1]:.3f}" if name in old else "")
        if base:
            cells += list(cell(base.get(name)))
        cells += list(cell(row))
        if base:
            b = base.get(name)
            ok = b is not None and b["status"] == 200 and row["status"] == 200
            cells.append(f"{b['cpu'] / max(row['cpu'], 1e-3):.1f}x" if ok and b else "")
        print(f"| `{name}` | " + " | ".join(cells) + f" | {row['bytes']:,} |")
    rss = {name: r.get("peak RSS (MiB)", {}).get("peak_mib") for name, r in results.items()}
    print("\npeak RSS of a side's process (MiB): " + ", ".join(f"{k} {v:,.0f}" for k, v in rss.items() if v))


if __name__ == "__main__":
    main()
