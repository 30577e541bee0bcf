"""Run the whole benchmark set, each script in its own process, and print one summary table.

    .venv/bin/python bench/run.py            # reduced sizes (``make bench``): minutes, not hours
    .venv/bin/python bench/run.py --full     # every script at its full, documented size (``make bench-full``)
    .venv/bin/python bench/run.py --only models spark

Each script runs with this checkout's ``src`` first on ``PYTHONPATH`` and the arguments of :data:`SCRIPTS`
(quick or full); its output goes to ``bench/data/run/NAME.log``. The table gives each script's exit code,
wall seconds and CPU seconds (user + system of the script and the processes it waited for: robust to other
load on a shared machine, where wall times are inflated). A script that is absent, or that does not (yet)
take one of the size flags given here, is skipped with a message rather than run at full size; any other
script that fails, or exceeds ``--timeout``, makes this script exit 1. Each script's own output has the
figures (ratios measured side by side); bench/RESULTS.md records them with the command, machine and date.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LOGS = HERE / "data" / "run"


@dataclass(frozen=True)
class Script:
    """One benchmark script and its arguments at the reduced and at the full size."""

    name: str
    quick: tuple[str, ...]
    full: tuple[str, ...] = ()


#: every benchmark, in the order run; ``full`` is each script's own default unless it says otherwise
SCRIPTS: tuple[Script, ...] = (
    Script("load", ("--lines", "200000", "--customers", "20000")),
    Script("status", ("--lines", "200000")),
    Script("review", ("--customers", "10000", "--orders", "42000")),
    Script("profit", ("--customers", "20000", "--lines", "200000", "--repeat", "1")),
    Script("models", ("--sizes", "50000", "--no-pymc")),
    Script("fit", ("--customers", "100000", "--rounds", "1")),
    Script("conjoint", ("--rows", "100000", "--statsmodels-rows", "20000")),
    Script("decisions", ("--customers", "3000", "--seeds", "0", "--scales", "1")),
    Script("winback", ("--customers", "3000", "--seeds", "0")),
    Script("uplift", ("--trial", "6000", "--population", "10000")),
    Script("web", ("--customers", "1000", "--repeat", "1")),
    Script("customers_page", ("--customers", "20000", "--lines", "200000", "--repeat", "3")),
    Script(
        "spark", ("--lines", "200000", "--engines", "spark"), ("--lines", "10000000", "--driver-memory", "6g")
    ),
    Script("compose", ("--letters", "50")),
    Script("messages", ("--customers", "3000")),
    Script("imports", ("--lines", "50000")),
    Script(
        "postgres_load", ("--lines", "100000", "--customers", "10000", "--incoming", "2000", "--branch-only")
    ),
    Script("cdnow_commands", ("--quick",)),
)


def missing_flags(path: Path, args: tuple[str, ...]) -> list[str]:
    """The ``--flags`` among ``args`` that the script's source does not declare."""
    source = path.read_text(encoding="utf-8")
    return [a for a in args if a.startswith("--") and f'"{a}"' not in source]


def run(script: Script, args: tuple[str, ...], timeout: float) -> tuple[str, float, float, str]:
    """Run one script: (exit, wall seconds, CPU seconds, note)."""
    path = HERE / f"{script.name}.py"
    if not path.exists():
        return "skipped", 0.0, 0.0, f"no bench/{script.name}.py"
    missing = missing_flags(path, args)
    if missing:
        return "skipped", 0.0, 0.0, f"takes no {', '.join(missing)} yet"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
    }
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{script.name}.log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with log.open("w", encoding="utf-8") as out:
        out.write(f"$ python bench/{script.name}.py {' '.join(args)}\n")
        out.flush()
        try:
            done = subprocess.run(
                [sys.executable, str(path), *args],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=timeout,
            )
            code, note = str(done.returncode), ""
        except subprocess.TimeoutExpired:
            code, note = "timeout", f"stopped after {timeout:.0f} s"
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if code not in ("0", "timeout"):
        tail = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        note = tail[0][:120] if tail else ""
    return code, wall, cpu, note


def main() -> None:
    """Run the selected scripts one after the other; print the table; exit 1 if one failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="reduced sizes (the default)")
    size.add_argument("--full", action="store_true", help="every script at its full size (hours)")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these scripts")
    parser.add_argument("--timeout", type=float, help="seconds per script (default: 900 quick, none full)")
    args = parser.parse_args()
    names = [s.name for s in SCRIPTS]
    unknown = sorted(set(args.only or ()) - set(names))
    if unknown:
        parser.error(f"unknown script(s) {', '.join(unknown)}; choose from {', '.join(names)}")
    timeout = args.timeout or (None if args.full else 900.0)
    chosen = [s for s in SCRIPTS if not args.only or s.name in args.only]
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.node()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f}; "
        f"{'full' if args.full else 'reduced'} sizes; logs in {LOGS.relative_to(ROOT)}/",
        flush=True,
    )
    rows = []
    for script in chosen:
        script_args = script.full if args.full else script.quick
        code, wall, cpu, note = run(script, script_args, timeout or 1e9)
        rows.append((script.name, " ".join(script_args), code, wall, cpu, note))
        print(f"{script.name}: {code} in {wall:.1f} s (CPU {cpu:.1f} s) {note}".rstrip(), flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end\n")
    print("| script | arguments | exit | wall (s) | CPU (s) | note |\n|---|---|---|---:|---:|---|")
    for name, script_args, code, wall, cpu, note in rows:
        print(f"| {name} | `{script_args}` | {code} | {wall:.1f} | {cpu:.1f} | {note.replace('|', '/')} |")
    ran = [r for r in rows if r[2] != "skipped"]
    print(f"| total | | | {sum(r[3] for r in ran):.1f} | {sum(r[4] for r in ran):.1f} | |")
    failed = [r[0] for r in ran if r[2] != "0"]
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
