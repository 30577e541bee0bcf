"""Each command on CDNOW, orders only: wall seconds of one run each, as a user runs them (a fresh process).

Run: ``.venv/bin/python bench/cdnow_commands.py [--out FILE] [--quick]`` (``--quick``: the load and
:data:`QUICK`'s commands only, what ``make bench`` runs)

Writes CDNOW's customers and orders (``keepwise.datasets.cdnow_tables``, 23,570 customers, 69,659 lines) as
CSV files, times ``keepwise load`` of the folder into a fresh DuckDB store, then times every command of
``tests/realdata/test_cdnow_commands.py`` (the same list, in the same order, so the two stay together), each
with ``--json`` in its own ``python -m keepwise.cli`` process, exit code included. Prints a Markdown table
(and writes it to ``--out``); paste it into bench/RESULTS.md with the date and the load average printed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]  # this checkout's keepwise and its tests

from tests.realdata.test_cdnow_commands import COMMANDS, EXPERIMENT, uplift_trial  # noqa: E402

#: the commands of a quick run (``make bench``): a few quick ones; the review, win-back and BG/BB fit left out
QUICK = ("status", "schema", "profit", "fit bgnbd", "concessions report", "messages report")


def run_keepwise(args: list[str], cwd: Path) -> tuple[int, float, str]:
    """Run ``keepwise ARGS`` in a fresh process: exit code, wall seconds, last line of stderr."""
    # the checkout's own code, whatever the working directory and however the environment installed keepwise
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "keepwise.cli", *args], cwd=cwd, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    last = (done.stderr.strip().splitlines() or [""])[-1]
    return done.returncode, seconds, last


def main() -> None:
    """Time the load and every command; print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="Also write the table to this file.")
    parser.add_argument("--quick", action="store_true", help="Only the load and a few commands (QUICK).")
    args = parser.parse_args()
    commands = [(k, line) for k, line in COMMANDS if k in QUICK] if args.quick else COMMANDS

    import keepwise
    from keepwise.datasets import cdnow_tables
    from keepwise.store import schema as contract

    tables = cdnow_tables()
    load_before = os.getloadavg()[0]
    rows: list[tuple[str, int, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="keepwise-cdnow-") as folder:
        work = Path(folder)
        data = work / "data"
        data.mkdir()
        for name in ("customers", "orders"):  # the contract's columns (CDNOW's number_of_cds is not one)
            frame = tables[name]
            frame[[c for c in contract.table(name).column_names if c in frame]].to_csv(
                data / f"{name}.csv", index=False
            )
        db = f"duckdb:///{work / 'cdnow.duckdb'}"
        code, seconds, err = run_keepwise(["load", str(data), "--db", db], work)
        rows.append(("load (customers.csv, orders.csv)", code, seconds, err))
        for key, line in commands:
            if key == "uplift fit":
                store = keepwise.connect(db)
                if "assignments" in store.tables():  # else uplift fit fails on the missing file, and says so
                    a = store.table("assignments")
                    chosen = a.filter(a.experiment_id == EXPERIMENT).select("customer_id", "arm")
                    uplift_trial(tables["orders"], store.to_pandas(chosen)).to_csv(
                        work / "trial.csv", index=False
                    )
                store.disconnect()
            argv = [a.replace("{db}", db).replace("{tmp}", str(work)) for a in line.split()]
            code, seconds, err = run_keepwise(argv, work)
            rows.append((key, code, seconds, err))
    load_after = os.getloadavg()[0]

    lines = [
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores; load average "
        f"{load_before:.1f} before and {load_after:.1f} after (the machine was shared).",
        "",
        "| command | exit | wall (s) | error (when not 0) |",
        "|---|---:|---:|---|",
    ]
    for key, code, seconds, err in rows:
        lines.append(f"| `{key}` | {code} | {seconds:.1f} | {err.replace('|', '/') if code else ''} |")
    total = sum(r[2] for r in rows)
    lines.append(f"| total | | {total:.1f} | |")
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(table + "\n")


if __name__ == "__main__":
    main()
