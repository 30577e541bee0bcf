"""What storing a stage's document costs (:func:`keepwise.store.documents.save`), beside another keepwise.

Reads one stored document (``--kind``, ``--month``, ``--variant``) from ``--store`` (read-only), then saves it
``--repeat`` times into a new DuckDB store, timing each save's CPU (this process, every thread: DuckDB's too)
and the peak memory it adds (``VmHWM`` after the saves minus ``VmRSS`` before them). Run it once with each
side's ``src`` first on ``PYTHONPATH``; ``--baseline SRC`` runs the same in a child process with that ``src``
(main's, from ``git archive``) and prints both, alternating the two sides ``--rounds`` times.

    PYTHONPATH=src .venv/bin/python bench/stored_documents.py --store PATH --kind outreach --month 2025-12 \\
        --baseline /tmp/base/src
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _status(field: str) -> int:
    """A ``/proc/self/status`` figure in KiB (0 where there is none)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(store: str, kind: str, month: str, variant: str, repeat: int) -> dict[str, float]:
    """CPU seconds of each save (median), and the peak memory the saves added (MiB)."""
    import duckdb

    con = duckdb.connect(store, read_only=True)
    con.execute("SET enable_progress_bar = false")
    found = con.execute(
        "SELECT body FROM stage_documents WHERE kind = ? AND month = ? AND variant = ?",
        [kind, month, variant],
    ).fetchone()
    con.close()
    if found is None:
        raise SystemExit(f"no {kind} document of {month} ({variant or 'no variant'}) in {store}")
    document = json.loads(found[0])
    del found
    from keepwise.store import connect

    with tempfile.TemporaryDirectory() as tmp:
        target = connect(f"duckdb:///{tmp}/saved.duckdb")
        before = _status("VmRSS")
        cpu, wall = [], []
        try:
            for _ in range(repeat):
                started, used = time.perf_counter(), time.process_time()
                target.save_document(kind, month, document, variant=variant)
                cpu.append(time.process_time() - used)
                wall.append(time.perf_counter() - started)
        finally:
            target.disconnect()
        peak = _status("VmHWM")
    return {
        "cpu": statistics.median(cpu),
        "wall": statistics.median(wall),
        "added_mib": max(peak - before, 0) / 1024,
        "items": float(sum(len(v) for v in document.values() if isinstance(v, list))),
    }


def main() -> None:
    """Parse the arguments, measure this side (and the baseline's, alternating), print the figures."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--store", required=True, help="a DuckDB file holding the document (read-only)")
    p.add_argument("--kind", default="outreach")
    p.add_argument("--month", required=True)
    p.add_argument("--variant", default="")
    p.add_argument("--repeat", type=int, default=1)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--baseline", help="another keepwise's src directory, measured in a child process")
    p.add_argument("--json", action="store_true", help="print this side's figures as JSON (one line)")
    a = p.parse_args()
    if a.json or not a.baseline:
        out = measure(a.store, a.kind, a.month, a.variant, a.repeat)
        print(json.dumps(out) if a.json else out)
        return
    sides = {"this": str(Path(__file__).resolve().parents[1] / "src"), "baseline": a.baseline}
    got: dict[str, list[dict[str, float]]] = {k: [] for k in sides}
    for _ in range(a.rounds):
        for side in ("baseline", "this"):
            env = {**os.environ, "PYTHONPATH": sides[side]}
            args = ["--store", a.store, "--kind", a.kind, "--month", a.month, "--variant", a.variant]
            run = subprocess.run(
                [sys.executable, "-W", "ignore", __file__, *args, "--repeat", str(a.repeat), "--json"],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            got[side].append(json.loads(run.stdout.strip().splitlines()[-1]))
    print(f"{a.kind} {a.month} {a.variant}: items {got['this'][0]['items']:,.0f}, load {os.getloadavg()}")
    for side, rows in got.items():
        cpu = statistics.median(r["cpu"] for r in rows)
        wall = statistics.median(r["wall"] for r in rows)
        mib = statistics.median(r["added_mib"] for r in rows)
        print(f"  {side:8s} save CPU {cpu:8.3f} s  wall {wall:8.3f} s  peak added {mib:8.0f} MiB")
    b = statistics.median(r["cpu"] for r in got["baseline"])
    t = statistics.median(r["cpu"] for r in got["this"])
    print(f"  baseline / this (CPU): {b / t:.1f}x")


if __name__ == "__main__":
    main()
