"""Loading 10 million order lines: keepwise's validated load against a bare DuckDB read of the same file.

Run: ``.venv/bin/python bench/load.py [--lines 10000000] [--customers 1000000]`` (``make bench`` runs it with
``--lines 1000000 --customers 100000``). ``--baseline OLD/src`` adds the same load by another checkout's
sources (e.g. ``git -C . archive main src | tar -x -C /tmp/old``), and ``--repeat N`` runs the three sides N
times, alternating (bare, baseline, this checkout), so that a busy machine weighs on each side alike.

Generates ``bench/data/load/{customers,orders}.csv`` with DuckDB (seeded), then, each in a fresh process
(so peak memory is that process's own): ``keepwise load DIR`` (validation, key and reference checks, upsert,
one transaction) and the reference ``CREATE TABLE orders AS SELECT * FROM read_csv(...)`` in plain duckdb.
Prints a Markdown table with wall time, CPU time, peak RSS and the ratios; paste it into bench/RESULTS.md.

Then, on the store just loaded, ``keepwise status --json`` (what the load recorded, read with DuckDB alone)
beside the same figures counted through Ibis as ``status`` did before it read the load's record, and
``keepwise --help`` (the start-up every command pays), each in a fresh process.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import _synthetic

HERE = Path(__file__).parent
DATA = HERE / "data" / "load"


def generate(lines: int, customers: int) -> None:
    DATA.mkdir(parents=True, exist_ok=True)
    orders = DATA / "orders.csv"
    if orders.exists() and (DATA / f".{lines}-{customers}").exists():
        return
    for marker in DATA.glob(".*-*"):  # the files of another size are about to be overwritten
        marker.unlink()
    _synthetic.write_files(DATA, lines, customers, returns=True)
    (DATA / f".{lines}-{customers}").touch()


BARE = """
import duckdb, sys
con = duckdb.connect(sys.argv[1])
con.execute("CREATE TABLE customers AS SELECT * FROM read_csv(?)", [sys.argv[2] + '/customers.csv'])
con.execute("CREATE TABLE orders AS SELECT * FROM read_csv(?)", [sys.argv[2] + '/orders.csv'])
"""


LOAD = (
    "from keepwise.cli import main; import sys; sys.argv=['keepwise','load',"
    "sys.argv[2],'--db','duckdb:///'+sys.argv[1]]\n"
    "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code"
)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=Path, help="another checkout's src folder, loaded the same way")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the sides, alternating")
    args = parser.parse_args()
    generate(args.lines, args.customers)
    size = (DATA / "orders.csv").stat().st_size / 2**20
    print(f"orders.csv: {args.lines:,} lines, {size:,.0f} MiB; customers.csv: {args.customers:,} rows")
    print("| round | run | wall time (s) | CPU time (s) | peak RSS (MiB) | CPU ratio to bare | load avg |")
    print("|---|---|---:|---:|---:|---:|---:|")
    sides = [("bare duckdb `CREATE TABLE AS SELECT * FROM read_csv`", BARE, None)]
    if args.baseline is not None:
        sides.append(("`keepwise load DIR`, baseline", LOAD, args.baseline))
    sides.append(("`keepwise load DIR`, this checkout", LOAD, HERE.parent / "src"))
    for round_no in range(1, args.repeat + 1):
        bare_cpu = 0.0
        for name, code, src in sides:
            for f in DATA.glob("*.duckdb*"):
                f.unlink()
            db = DATA / ("bare.duckdb" if src is None else "keepwise.duckdb")
            env = None if src is None else {**os.environ, "PYTHONPATH": str(src)}
            out = subprocess.run(
                [sys.executable, "-c", _timed(code), str(db), str(DATA)],
                check=True,
                capture_output=True,
                text=True,
                env=env,
            ).stdout
            seconds, cpu, mb = _figures(out)
            bare_cpu = cpu if src is None else bare_cpu
            print(
                f"| {round_no} | {name} | {seconds:.1f} | {cpu:.1f} | {mb:,.0f} | {cpu / bare_cpu:.2f}x "
                f"| {os.getloadavg()[0]:.1f} |",
                flush=True,
            )
    status(f"duckdb:///{DATA / 'keepwise.duckdb'}", args.lines)


#: ``keepwise status`` as it was before loads recorded their figures: every table counted through Ibis.
COUNTED = """
import sys
from keepwise.store import connect
from keepwise.store.status import _ibis_status
store = connect(sys.argv[1])
_ibis_status(store)
store.disconnect()
"""


def status(url: str, lines: int) -> None:
    """Time ``keepwise status`` on the loaded store against counting it, and ``keepwise --help``."""
    runs = {
        "`keepwise status --json` (what the load recorded)": _timed(
            _cli("'status', '--json', '--db', sys.argv[1]")
        ),
        "the same figures counted through Ibis (status before)": _timed(COUNTED),
        "`keepwise --help`": _timed(_cli("'--help'")),
    }
    print(f"\nStatus of the store just loaded ({lines:,} order lines):")
    print("| run | wall time (s) | CPU time (s) |")
    print("|---|---:|---:|")
    for name, code in runs.items():
        here = {**os.environ, "PYTHONPATH": str(HERE.parent / "src")}
        out = subprocess.run(
            [sys.executable, "-c", code, url], check=True, capture_output=True, text=True, env=here
        ).stdout
        seconds, cpu, _ = _figures(out)
        print(f"| {name} | {seconds:.2f} | {cpu:.2f} |")


def _cli(args: str) -> str:
    """Code that runs ``keepwise ARGS`` (a Python list's items) in this interpreter, failing on a bad exit."""
    return (
        f"from keepwise.cli import main; import sys; sys.argv = ['keepwise', {args}]\n"
        "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code"
    )


def _figures(stdout: str) -> tuple[float, ...]:
    """Wall seconds, CPU seconds and peak MiB from the line a timed child printed last."""
    line = next(x for x in reversed(stdout.splitlines()) if x.startswith("KWBENCH"))
    return tuple(float(x) for x in line.split()[1:])


def _timed(code: str) -> str:
    return (
        "import time, resource, sys\n_t0 = time.perf_counter()\n"
        + code
        + "\n_u = resource.getrusage(resource.RUSAGE_SELF)\n"
        + "print('KWBENCH', time.perf_counter() - _t0, _u.ru_utime + _u.ru_stime, _u.ru_maxrss / 1024)\n"
    )


if __name__ == "__main__":
    main()
