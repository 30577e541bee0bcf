"""Loads into PostgreSQL check exactly what loads into DuckDB check, and a refused load changes nothing.

Every malformed file of the adversarial suite (tests/store/test_adversarial_loads.py) is loaded into a copy
of the same seeded store on PostgreSQL through the real CLI: one line on stderr naming the file, the row and
the column, exit code 2, and every table's digest unchanged. Valid files load, a second load of the same
files changes nothing, an update is counted as one, and a folder with one bad file loads nothing at all.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from loads_kit import VALID
from test_adversarial_loads import CASES, Case, run_cli

from keepwise.store import connect
from keepwise.store.backup import store_digests
from keepwise.store.ingest import load_path


def digest(url: str) -> dict[str, str]:
    """The digest of every table of the store at ``url`` (keepwise.store.backup's canonical one)."""
    store = connect(url)
    try:
        return store_digests(store)
    finally:
        store.disconnect()


def _sample() -> list[Case]:
    """The first case of each problem the checks report, and the first of each table not yet among them.

    The checks are the DuckDB load's own; what PostgreSQL adds is the all-or-nothing write and the message.
    """
    chosen: dict[str, Case] = {}
    for c in CASES:
        chosen.setdefault(c.says, c)
    tables = {c.table for c in chosen.values()}
    for c in CASES:
        if c.table not in tables:
            chosen[c.id] = c
            tables.add(c.table)
    return list(chosen.values())


SAMPLE = _sample()


def test_the_sample_covers_every_problem_and_every_table():
    assert {c.says for c in SAMPLE} == {c.says for c in CASES}
    assert {c.table for c in SAMPLE} == set(VALID)


@pytest.mark.parametrize("case", SAMPLE, ids=[c.id for c in SAMPLE])
def test_malformed_load_is_refused_in_one_line_and_changes_nothing(
    case: Case,
    pg_fresh: Callable[[], str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    url = pg_fresh()
    before = digest(url)
    path = tmp_path / f"{case.table}.csv"
    path.write_bytes(case.body)
    code, stderr = run_cli(capsys, monkeypatch, "load", case.table, str(path), "--db", url)
    assert code == 2, stderr
    assert stderr.endswith("\n") and stderr.count("\n") == 1, f"not one line: {stderr!r}"
    assert stderr.startswith(f"error: {case.table}.csv, {case.where}: "), stderr
    assert case.says in stderr, stderr
    assert digest(url) == before, "a refused load changed the store"


def test_valid_files_load_once_and_a_second_load_changes_nothing(pg_fresh: Callable[[], str], tmp_path: Path):
    url = pg_fresh()
    folder = tmp_path / "all"
    folder.mkdir()
    for table, (head, first, second) in VALID.items():
        (folder / f"{table}.csv").write_text(f"{head}\n{first}\n{second}\n")
    store = connect(url)
    try:
        first_load = {r.table: (r.new, r.updated, r.unchanged) for r in load_path(store, folder)}
        after_first = digest(url)
        again = {r.table: (r.new, r.updated, r.unchanged) for r in load_path(store, folder)}
    finally:
        store.disconnect()
    assert first_load["orders"] == (2, 0, 0) and first_load["customers"] == (2, 0, 0)
    assert all(v == (0, 0, 2) for v in again.values()), again
    assert digest(url) == after_first


def test_a_changed_row_is_one_update_and_other_columns_keep_their_values(
    pg_fresh: Callable[[], str], tmp_path: Path
):
    url = pg_fresh()
    path = tmp_path / "customers.csv"
    path.write_text("customer_id,email\nC1,ada@example.com\nC2,\n")
    store = connect(url)
    try:
        (result,) = load_path(store, path)
        rows = store.sql("SELECT customer_id, name, email FROM customers ORDER BY 1")
        stats = store.sql("SELECT row_count FROM kw_table_stats WHERE table_name = 'customers'")
    finally:
        store.disconnect()
    assert (result.new, result.updated, result.unchanged) == (0, 1, 1)
    assert rows == [("C1", "Ada", "ada@example.com"), ("C2", "Bolek", None)]
    assert stats == [(2,)]


def test_a_folder_with_one_bad_file_loads_nothing(pg_fresh: Callable[[], str], tmp_path: Path):
    url = pg_fresh()
    before = digest(url)
    folder = tmp_path / "mixed"
    folder.mkdir()
    head, first, second = VALID["customers"]
    (folder / "customers.csv").write_text(f"{head}\n{first}\n{second}\n")
    head, first, _ = VALID["orders"]
    (folder / "orders.csv").write_text(f"{head}\n{first}\nO11,1,C404,2024-03-01,P1,coffee,1,1,1,USD\n")
    store = connect(url)
    try:
        with pytest.raises(Exception, match="does not exist in customers"):
            load_path(store, folder)
    finally:
        store.disconnect()
    assert digest(url) == before
