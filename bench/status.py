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
"""

from __future__ import annotations

import argparse
import os
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


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=2_000_000, help="order lines of the largest built store")
    parser.add_argument("--store", action="append", default=[], help="another DuckDB store URL (copied)")
    parser.add_argument("--baseline", help="another checkout's src folder, timed side by side")
    parser.add_argument("--repeat", type=int, default=3, help="rounds per store (medians are reported)")
    args = parser.parse_args()
    src = str(ROOT / "src")
    sides: list[tuple[str, str]] = [("this", src)] + ([("baseline", args.baseline)] if args.baseline else [])
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
