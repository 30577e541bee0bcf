"""``keepwise status`` opens an existing DuckDB store read-only: beside other readers, and as it was.

A store being read by another process (the dashboard's readers) cannot be opened for writing; status only
reads, so it answers at once. A table of the contract the store lacks (a store written by an older keepwise)
is shown as the empty table that opening the store for writing would have created.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb

from keepwise.store import connect
from keepwise.store.status import store_status


def test_status_answers_while_another_process_reads_the_store(tmp_path: Path, monkeypatch) -> None:
    url = f"duckdb:///{tmp_path}/kw.duckdb"
    connect(url).disconnect()
    before = store_status(url)
    reader = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); "
         "print('open', flush=True); time.sleep(60)", str(tmp_path / "kw.duckdb")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "open"
        monkeypatch.setenv("KEEPWISE_LOCK_TIMEOUT", "0")  # opening it for writing would fail at once
        started = time.monotonic()
        assert store_status(url) == before
        assert time.monotonic() - started < 30
    finally:
        reader.kill()
        reader.wait()


def test_a_table_the_store_lacks_is_shown_empty_as_opening_it_would_create_it(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path}/kw.duckdb"
    connect(url).disconnect()
    fresh = store_status(url)
    con = duckdb.connect(str(tmp_path / "kw.duckdb"))
    for table in ("wins", "clv", "products", "consent"):
        con.execute(f"DROP TABLE {table}")
    con.close()
    assert store_status(url) == fresh
    assert fresh["tables"]["wins"] == {"rows": 0, "first": None, "last": None, "customers": 0}
