"""``keepwise status`` and ``keepwise --help`` at growing store sizes, against a bare DuckDB connect + count.

Run: ``.venv/bin/python bench/status.py [--lines 2000000] [--baseline /tmp/base/src] [--store URL ...]``
(``make bench`` runs it with ``--lines 200000``).

Builds three stores with ``keepwise load`` (so that each holds what a load records), of ``--lines`` / 100,
/ 10 and ``--lines`` order lines (a customer per ten lines) under ``bench/data/status/``; ``--store`` adds
existing DuckDB stores (copied there first: the bench never writes to them; the 1,000,000-customer store of
``bench/customers_page.py`` is ``--store duckdb:///bench/data/customers_page/customers_1000000_10000000.duckdb``).
Then, each in a fresh process and alternating the sides round by round (``--repeat``): ``keepwise status
--json`` with this checkout's ``src``, the same with ``--baseline`` (another checkout's ``src``, e.g. main's:
``git archive main src | tar -x -C /tmp/base``), and the reference: a bare ``python -c "import duckdb;
connect(read_only=True); SELECT COUNT(*) FROM orders"``. ``keepwise --help`` is timed the same way once a
round. Prints a Markdown table of the median CPU time (user + system of the child) and wall time of each,
and the ratios to the bare count; paste it into bench/RESULTS.md with the load average printed.

``--review STORE_URL`` measures the import share of ``keepwise review`` instead: on a copy of the store per
run, each side's ``keepwise review --json --html`` and its imports alone (``import keepwise.cli,
keepwise.commands.review, keepwise.review``, what the command imports before it runs), alternated, then the
import self-time of one run of each side by top-level package (``python -X importtime``).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import _synthetic

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data" / "status"
KEEPWISE = str(Path(sys.executable).with_name("keepwise"))
BARE = (
    "import sys, duckdb; c = duckdb.connect(sys.argv[1], read_only=True); "
    "c.execute('SELECT COUNT(*) FROM orders').fetchall()"
)


def build(lines: int) -> Path:
    """A store of ``lines`` order lines and ``lines // 10`` customers, loaded by ``keepwise load`` (kept)."""
    folder = DATA / f"{lines}"
    store = folder / "kw.duckdb"
    done = folder / ".loaded"
    if done.exists() and store.exists():
        return store
    shutil.rmtree(folder, ignore_errors=True)
    customers = max(lines // 10, 1)
    _synthetic.write_files(folder / "csv", lines, customers, pad=8, unit_cost=False)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    subprocess.run(
        [KEEPWISE, "load", str(folder / "csv"), "--db", f"duckdb:///{store}"],
        check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    done.touch()
    return store


def copied(url: str) -> Path:
    """A copy under bench/data/status/ of the DuckDB store ``url`` (made once; the original is only read)."""
    source = Path(url.removeprefix("duckdb://").removeprefix("/"))
    if not url.startswith("duckdb:////"):
        source = ROOT / source
    target = DATA / "copies" / source.name
    if not target.exists() or target.stat().st_size != source.stat().st_size:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return target


def timed(argv: list[str], src: str | None) -> tuple[float, float]:
    """Run ``argv`` in a child process (``src`` first on PYTHONPATH); (wall seconds, CPU seconds)."""
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = src
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def rows_of(store: Path) -> tuple[int, int]:
    """(order lines, customers) of ``store``, read-only."""
    import duckdb

    con = duckdb.connect(str(store), read_only=True)
    try:
        ((lines,),) = con.execute("SELECT COUNT(*) FROM orders").fetchall()
        ((customers,),) = con.execute("SELECT COUNT(*) FROM customers").fetchall()
    finally:
        con.close()
    return int(lines), int(customers)


REVIEW_IMPORTS = "import keepwise.cli, keepwise.commands.review, keepwise.review"


def import_shares(argv: list[str], src: str) -> tuple[float, dict[str, float]]:
    """Import self-time of ``argv`` (``-X importtime``): the total, and seconds per top-level package."""
    env = dict(os.environ, PYTHONPATH=src)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", *argv], env=env, capture_output=True, text=True, check=True
    )
    shares: dict[str, float] = collections.Counter()
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if found:
            shares[found[2].split(".")[0]] += int(found[1]) / 1e6
    return sum(shares.values()), dict(shares)


def review_imports(url: str, sides: list[tuple[str, str]], repeat: int) -> None:
    """``keepwise review`` on a copy of the store at ``url``, and its imports alone, side by side; shares."""
    store = copied(url)
    work = DATA / "review"
    work.mkdir(parents=True, exist_ok=True)
    html = work / "review.html"
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for round_no in range(repeat):
        for side, path in sides if round_no % 2 == 0 else sides[::-1]:
            target = work / f"{side}.duckdb"
            shutil.copyfile(store, target)
            argv = [KEEPWISE, "review", "--json", "--html", str(html), "--db", f"duckdb:///{target}"]
            results.setdefault(("review", side), []).append(timed(argv, path))
            results.setdefault(("imports", side), []).append(
                timed([sys.executable, "-c", REVIEW_IMPORTS], path)
            )
    print(f"`keepwise review --json --html` on {store.name}, median of {repeat}:\n")
    print("| side | review CPU (s) | review wall (s) | imports alone CPU (s) | imports alone wall (s) |")
    print("|---|---:|---:|---:|---:|")
    for side, _ in sides:
        cells = []
        for what in ("review", "imports"):
            runs = results[(what, side)]
            cells += [
                f"{statistics.median(c for _, c in runs):.2f}",
                f"{statistics.median(w for w, _ in runs):.2f}",
            ]
        print(f"| {side} | " + " | ".join(cells) + " |")
    for side, path in sides:
        target = work / f"{side}.duckdb"
        shutil.copyfile(store, target)
        script = str(Path(KEEPWISE))
        total, shares = import_shares(
            [script, "review", "--json", "--html", str(html), "--db", f"duckdb:///{target}"], path
        )
        top = sorted(shares.items(), key=lambda kv: -kv[1])[:12]
        print(f"\n{side}: import self-time {total:.2f} s; " + ", ".join(f"{k} {v:.3f}" for k, v in top))
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=2_000_000, help="order lines of the largest built store")
    parser.add_argument("--store", action="append", default=[], help="another DuckDB store URL (copied)")
    parser.add_argument("--baseline", help="another checkout's src folder, timed side by side")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per store (medians are reported)")
    parser.add_argument("--review", metavar="STORE_URL", help="the import share of keepwise review on it")
    args = parser.parse_args()
    src = str(ROOT / "src")
    sides: list[tuple[str, str]] = [("this", src)] + ([("baseline", args.baseline)] if args.baseline else [])
    if args.review:
        print(f"# bench/status.py --review: load average {os.getloadavg()[0]:.1f}", flush=True)
        review_imports(args.review, sides, args.repeat)
        return
    stores = [
        build(n) for n in sorted({max(args.lines // 100, 1000), max(args.lines // 10, 1000), args.lines})
    ]
    stores += [copied(url) for url in args.store]
    print(f"# bench/status.py on {os.uname().nodename}: load average {os.getloadavg()[0]:.1f}", flush=True)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for store in stores:
        url = f"duckdb:///{store}"
        for round_no in range(args.repeat):
            order = sides if round_no % 2 == 0 else sides[::-1]
            for side, path in order:
                results.setdefault((store.as_posix(), side), []).append(
                    timed([KEEPWISE, "status", "--json", "--db", url], path)
                )
                results.setdefault(("--help", side), []).append(timed([KEEPWISE, "--help"], path))
            results.setdefault((store.as_posix(), "bare"), []).append(
                timed([sys.executable, "-c", BARE, str(store)], None)
            )

    def median(key: tuple[str, str]) -> tuple[float, float]:
        runs = results[key]
        return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)

    heads = ["store", "order lines", "customers", "bare count CPU (s)"]
    for side, _ in sides:
        heads += [f"status {side} CPU (s)", f"status {side} wall (s)", f"{side} / bare (CPU)"]
    if args.baseline:
        heads.append("this / baseline (CPU)")
    print("| " + " | ".join(heads) + " |")
    print("|" + "---|" * 3 + "---:|" * (len(heads) - 3))
    for store in stores:
        lines, customers = rows_of(store)
        _, bare = median((store.as_posix(), "bare"))
        cells = [store.relative_to(DATA).as_posix(), f"{lines:,}", f"{customers:,}", f"{bare:.2f}"]
        cpu = {}
        for side, _ in sides:
            wall, cpu[side] = median((store.as_posix(), side))
            cells += [f"{cpu[side]:.2f}", f"{wall:.2f}", f"{cpu[side] / bare:.1f}x"]
        if args.baseline:
            cells.append(f"{cpu['this'] / cpu['baseline']:.2f}")
        print("| " + " | ".join(cells) + " |")
    for side, _ in sides:
        wall, cpu_help = median(("--help", side))
        runs = args.repeat * len(stores)
        print(f"\n`keepwise --help` ({side}): {cpu_help:.2f} s CPU, {wall:.2f} s wall (median of {runs})")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
