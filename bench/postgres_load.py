"""An incremental load into a big PostgreSQL store: main's code against this branch's, side by side.

Run: ``.venv/bin/python bench/postgres_load.py [--lines 1000000] [--customers 100000] [--incoming 10000]
[--repeat 2] [--baseline SRC]`` (``SRC``: the ``src`` folder of the code to compare with; by default main's,
unpacked with ``git archive main src`` into ``bench/data/postgres_load/main-REV``).

Starts a throwaway PostgreSQL server (``tests/postgres/server.py``: initdb in a temporary folder), generates
``customers.csv`` and ``orders.csv`` with DuckDB (seeded; the orders of bench/load.py) and loads them once
into a template database per side, with that side's code (each side then works on the tables and indexes
its own loads make; these first loads are reported too). Then, for each side in turn (alternating which
goes first), on a fresh copy of its template (``CREATE DATABASE ... TEMPLATE``), one process loads
``incoming.csv``: ``--incoming`` order lines, nine in ten of them new lines of known customers and one in
ten stored lines with a changed quantity. Each run reports the load's wall time, its own CPU time (user +
system of the loading process, the load alone) and the CPU time of its PostgreSQL server process (read from
``/proc``), and the new/updated/unchanged counts; after each run the bench reads back a digest of the orders
table and the figures the load recorded for ``keepwise status``, which must be the same on both sides.
Prints a Markdown table for bench/RESULTS.md. ``--branch-only`` runs this branch's code alone (for sizes
where main's whole-table copy would not fit).

``--first 100000,1000000,3000000`` measures first loads instead: for each number of order lines (a tenth as
many customers), each side in turn loads ``customers.csv`` and then ``orders.csv`` into a new empty
database, each file in its own process; the table gives the orders load's CPU, its server's CPU and the
loading process's peak memory, and the stored orders must be the same on both sides.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import _synthetic

HERE = Path(__file__).parent
ROOT = HERE.parent
DATA = HERE / "data" / "postgres_load"
sys.path.insert(0, str(ROOT / "tests" / "postgres"))

import server as pg  # noqa: E402  (tests/postgres/server.py: a throwaway PostgreSQL server)

CHILD = r"""
import json, os, resource, sys, time
from keepwise.store import connect
from keepwise.store.ingest import load_file

url, path, table = sys.argv[1:4]
store = connect(url)
((pid,),) = store.sql("SELECT pg_backend_pid()")

def server_cpu():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def own_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime

s0, c0, t0 = server_cpu(), own_cpu(), time.perf_counter()
result = load_file(store, table, path, show_progress=False)
wall, cpu, server = time.perf_counter() - t0, own_cpu() - c0, server_cpu() - s0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"wall": wall, "cpu": cpu, "server": server, "peak": peak, "new": result.new,
                  "updated": result.updated, "unchanged": result.unchanged}))
store.disconnect()
"""


def generate(lines: int, customers: int, incoming: int) -> Path:
    """The three CSV files (generated once per size) in their folder."""
    folder = DATA / f"{lines}-{customers}-{incoming}"
    if (folder / "incoming.csv").exists():
        return folder
    _synthetic.write_files(folder, lines, customers, prices="steps")
    con = _synthetic.connect()
    updated = incoming // 10
    changed = _synthetic.lines_sql(
        customers, lines, start=lines - updated, quantity="4 + (i % 3)", prices="steps"
    )
    new = _synthetic.lines_sql(customers, lines + incoming - updated, start=lines, prices="steps")
    _synthetic.write(con, f"{changed} UNION ALL {new}", folder / "incoming.csv")
    con.close()
    return folder


def baseline(source: str | None) -> Path:
    """The ``src`` folder of the code to compare with (main's, unpacked once, unless given)."""
    if source:
        return Path(source)
    rev = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "main"], capture_output=True, text=True, check=True
    ).stdout.strip()
    target = DATA / f"main-{rev}"
    if not (target / "src").exists():
        target.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(suffix=".tar") as archive:
            subprocess.run(["git", "-C", str(ROOT), "archive", "main", "src", "-o", archive.name], check=True)
            with tarfile.open(archive.name) as tar:
                tar.extractall(target, filter="data")
    return target / "src"


def child(src: Path, url: str, path: Path, table: str) -> dict[str, float]:
    """Load ``path`` into ``table`` of ``url`` with the code in ``src``, in a fresh process; its figures."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", CHILD, url, str(path), table],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def digest(url: str) -> tuple[object, ...]:
    """The orders table's rows (count and an MD5 of them in key order) and what the load recorded."""
    import psycopg

    with psycopg.connect(url) as con:
        rows = con.execute(
            "SELECT COUNT(*), md5(string_agg(o::text, '|' ORDER BY order_id, line_no)) FROM orders o"
        ).fetchone()
        stats = con.execute("SELECT table_name, stats FROM kw_table_stats ORDER BY table_name").fetchall()
    return (*(rows or ()), json.dumps([(name, json.loads(text)) for name, text in stats], sort_keys=True))


def main() -> None:
    """Build the store, run both sides ``--repeat`` times, print the table."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--incoming", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--baseline", default=None, help="src folder of the code to compare with")
    parser.add_argument("--branch-only", action="store_true", help="run this branch's code only")
    parser.add_argument(
        "--first", default=None, help="first loads of these numbers of lines (comma-separated)"
    )
    args = parser.parse_args()
    if args.first:
        first_loads([int(n) for n in args.first.split(",")], args)
        return
    folder = generate(args.lines, args.customers, args.incoming)
    sides = (
        {"branch": ROOT / "src"}
        if args.branch_only
        else {"main": baseline(args.baseline), "branch": ROOT / "src"}
    )
    server = pg.start()
    try:
        setup: dict[tuple[str, str], dict[str, float]] = {}
        for side, src in sides.items():  # each side's store built by its own code (its tables, its indexes)
            server.create_database(f"kw_template_{side}")
            for table in ("customers", "orders"):
                path = folder / f"{table}.csv"
                setup[side, table] = child(src, server.url(f"kw_template_{side}"), path, table)
                print(f"setup: {side}: {table}: {setup[side, table]}", file=sys.stderr)
        runs: list[tuple[str, dict[str, float]]] = []
        digests: dict[str, set[tuple[object, ...]]] = {}
        for i in range(args.repeat):
            order = [s for s in (["main", "branch"] if i % 2 == 0 else ["branch", "main"]) if s in sides]
            for side in order:
                url = server.create_database(f"kw_{side}_{i}", template=f"kw_template_{side}")
                figures = child(sides[side], url, folder / "incoming.csv", "orders")
                runs.append((side, figures))
                digests.setdefault(side, set()).add(digest(url))
                print(f"{side} run {i + 1}: {figures}", file=sys.stderr)
    finally:
        server.stop()
    same = len(set().union(*digests.values())) == 1
    print(f"orders: {args.lines:,} stored lines, {args.customers:,} customers; {args.incoming:,} lines in")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"stored rows and recorded figures identical on both sides: {same}")
    for (side, table), f in setup.items():
        print(
            f"first load of {table} into an empty store ({side}): wall {f['wall']:.1f} s, "
            f"load CPU {f['cpu']:.1f} s, server CPU {f['server']:.1f} s, peak RSS {f['peak']:.0f} MiB"
        )
    print()
    print("| side | wall (s) | load CPU (s) | server CPU (s) | peak RSS (MiB) | new | updated | unchanged |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for side, f in runs:
        print(
            f"| {side} | {f['wall']:.2f} | {f['cpu']:.2f} | {f['server']:.2f} | {f['peak']:.0f} "
            f"| {f['new']:,.0f} | {f['updated']:,.0f} | {f['unchanged']:,.0f} |"
        )
    for key in ("wall", "cpu", "server") if "main" in sides else ():
        mean = {s: sum(f[key] for x, f in runs if x == s) / args.repeat for s in sides}
        print(
            f"\n{key}: main {mean['main']:.2f} s, branch {mean['branch']:.2f} s, "
            f"ratio main/branch {mean['main'] / max(mean['branch'], 1e-9):.1f}x",
            end="",
        )
    print()


def first_loads(sizes: list[int], args: argparse.Namespace) -> None:
    """First loads of customers and then orders into empty databases, per size and side; print the table."""
    sides = (
        {"branch": ROOT / "src"}
        if args.branch_only
        else {"main": baseline(args.baseline), "branch": ROOT / "src"}
    )
    server = pg.start()
    rows: list[tuple[int, str, dict[str, float]]] = []
    same: dict[int, set[tuple[object, ...]]] = {}
    try:
        for n in sizes:
            folder = generate(n, max(n // 10, 1), min(args.incoming, n))
            for i in range(args.repeat):
                order = list(sides) if i % 2 == 0 else list(reversed(sides))
                for side in order:
                    url = server.create_database(f"kw_first_{side}_{n}_{i}")
                    child(sides[side], url, folder / "customers.csv", "customers")
                    figures = child(sides[side], url, folder / "orders.csv", "orders")
                    rows.append((n, side, figures))
                    same.setdefault(n, set()).add(digest(url))
                    print(f"{n:,} lines, {side}: {figures}", file=sys.stderr)
                    server.drop_database(f"kw_first_{side}_{n}_{i}")
    finally:
        server.stop()
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    identical = all(len(d) == 1 for d in same.values())
    print(f"stored orders and recorded figures identical on both sides: {identical}")
    print()
    print("| order lines | side | wall (s) | load CPU (s) | server CPU (s) | peak RSS (MiB) |")
    print("|---:|---|---:|---:|---:|---:|")
    for n, side, f in rows:
        print(f"| {n:,} | {side} | {f['wall']:.1f} | {f['cpu']:.2f} | {f['server']:.2f} | {f['peak']:.0f} |")


if __name__ == "__main__":
    main()
