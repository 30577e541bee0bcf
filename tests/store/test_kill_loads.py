"""A load killed with SIGKILL at 20 seeded random moments leaves the store as before or fully loaded.

Each kill hits a ``keepwise load`` subprocess (customers and 30,000 order lines, one transaction) at a moment
drawn from a seeded generator over the time a whole load takes; afterwards the store, reopened, must hash
exactly as it did before the load or exactly as a completed load does (loads are all-or-nothing: one DuckDB
transaction, committed once). A rerun of the load after a kill completes it (checked after the 10th and the
20th kill). Marked slow: about 25 s of CPU, under 60 s on a busy two-core machine.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from loads_kit import digest

KILLS = 20
SEED = 21
CUSTOMERS = 3_000
ORDER_LINES = 30_000


def write_folder(folder: Path) -> None:
    folder.mkdir()
    with (folder / "customers.csv").open("w") as f:
        f.write("customer_id,name,currency\n")
        f.writelines(f"K{i},Customer {i},USD\n" for i in range(CUSTOMERS))
    with (folder / "orders.csv").open("w") as f:
        f.write("order_id,line_no,customer_id,ordered_at,quantity,unit_price,currency\n")
        f.writelines(
            f"K{i},1,K{i % CUSTOMERS},2024-{1 + i % 12:02d}-{1 + i % 28:02d}T10:00:00Z,{1 + i % 5},"
            f"{(i % 1000) / 100:.2f},USD\n"
            for i in range(ORDER_LINES)
        )


def load_command(folder: Path, store: Path) -> list[str]:
    return [sys.executable, "-m", "keepwise.cli", "load", str(folder), "--db", f"duckdb:///{store}"]


#: ``keepwise load`` that imports its modules, says "ready" and starts the load when told (a line on stdin),
#: so the kill moments fall on the load itself rather than on Python's start-up.
WARM = """
import sys
from keepwise import cli
import keepwise.commands.load, keepwise.store.connection, keepwise.store.ingest
print("ready", flush=True)
sys.stdin.readline()
sys.argv = ["keepwise", "load", *sys.argv[1:]]
cli.main()
"""


def warm_load(folder: Path, store: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    """Start a load subprocess and wait until it is ready to load."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WARM, str(folder), "--db", f"duckdb:///{store}"],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def reset(pristine: Path, store: Path) -> None:
    """Put the store back as it was before any load (its write-ahead log too)."""
    Path(f"{store}.wal").unlink(missing_ok=True)
    shutil.copy(pristine, store)


@pytest.mark.slow
def test_a_killed_load_leaves_the_store_as_before_or_complete(base_store: Path, tmp_path: Path):
    folder = tmp_path / "data"
    write_folder(folder)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    pristine = tmp_path / "pristine.duckdb"
    shutil.copy(base_store, pristine)
    before = digest(pristine)

    complete = tmp_path / "complete.duckdb"
    shutil.copy(pristine, complete)
    proc = warm_load(folder, complete, env)
    started = time.monotonic()
    proc.communicate("go\n")
    whole = time.monotonic() - started
    assert proc.returncode == 0
    after = digest(complete)
    assert after != before

    rng = random.Random(SEED)
    store = tmp_path / "store.duckdb"
    outcomes = []
    for kill in range(KILLS):
        reset(pristine, store)
        moment = rng.uniform(0.0, 1.0) * whole
        proc = warm_load(folder, store, env)
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        time.sleep(moment)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        state = digest(store)
        assert state in (before, after), f"kill {kill} at {moment:.2f}s left a partial store"
        outcomes.append("before" if state == before else "complete")
        if kill % 10 == 9:  # the load run again completes it
            subprocess.run(load_command(folder, store), env=env, check=True, capture_output=True)
            assert digest(store) == after, f"the rerun after kill {kill} did not complete the load"
    # the seeded moments hit the load while it works, not only before it starts or after it ends
    assert "before" in outcomes
