"""The fast way of a load (store/load_fast.py) stores exactly what the careful way stores, and says the same.

Each valid file of every loadable table is loaded twice into copies of one store: the fast way (one pass,
the checks on the typed rows) and the careful way alone (staged as text, every check). The stores must be
identical (every row of every table, what the loads recorded) and so must the counts of new, updated and
unchanged rows, on a first load and on a reload that changes one row and adds another. The fast way must
really have been taken for these valid files, and a file it doubts must end with the careful way's answer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pytest
from loads_kit import VALID, digest_of

from keepwise.exceptions import LoadError
from keepwise.store import ingest
from keepwise.store.ingest import load_file, load_path

#: Consent is a history stamped with the time of each load (store/consent_history.py): both ways load it
#: the careful way, and two loads of it never hash alike.
TABLES = sorted(t for t in VALID if t != "consent")


def _load(path: Path, table: str, text: str, folder: Path) -> list[tuple[int, int, int, int]]:
    csv = folder / f"{table}.csv"
    csv.write_text(text)
    con = duckdb.connect(str(path))
    try:
        result = load_file(con, table, csv, show_progress=False)
        return [(result.rows, result.new, result.updated, result.unchanged)]
    finally:
        con.close()


def _digest(path: Path) -> str:
    con = duckdb.connect(str(path))
    try:
        return digest_of(con)
    finally:
        con.close()


@pytest.fixture
def careful(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """Call with True to make every load from then on take the careful way only."""

    def only(flag: bool) -> None:
        if flag:
            monkeypatch.setattr(ingest, "_load_fast", ingest._load_one)

    return only


@pytest.fixture
def fast_taken(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The tables the fast way loaded to the end (without a doubt)."""
    taken: list[str] = []
    real = ingest._load_fast

    def spy(steps: Any, s: Any, stage: str) -> Any:
        out = real(steps, s, stage)
        taken.append(s.table.name)
        return out

    monkeypatch.setattr(ingest, "_load_fast", spy)
    return taken


@pytest.mark.parametrize("table", TABLES)
def test_fast_and_careful_store_the_same(table, fresh_store, tmp_path, careful, fast_taken):
    """First load then a reload (one row changed, one new): same rows, same counts, same recorded figures."""
    header, one, two = VALID[table]
    changed = one.replace("2024-", "2023-", 1) if "2024-" in one else one
    runs: dict[bool, tuple[str, list[Any]]] = {}
    for only_careful in (False, True):
        careful(only_careful)
        path = fresh_store()
        folder = tmp_path / f"files-{only_careful}"
        folder.mkdir()
        counts = _load(path, table, f"{header}\n{one}\n", folder)
        counts += _load(path, table, f"{header}\n{changed}\n{two}\n", folder)
        runs[only_careful] = (_digest(path), counts)
        if not only_careful and table != "consent":
            assert fast_taken == [table, table], fast_taken
    assert runs[False] == runs[True]


def test_a_folder_the_fast_way_equals_the_careful_way(fresh_store, tmp_path, careful):
    """Every table of VALID in one folder load (customers before the tables that refer to them)."""
    folder = tmp_path / "all"
    folder.mkdir()
    for table in TABLES:
        header, one, two = VALID[table]
        (folder / f"{table}.csv").write_text(f"{header}\n{one}\n{two}\n")
    digests = []
    for only_careful in (False, True):
        careful(only_careful)
        path = fresh_store()
        con = duckdb.connect(str(path))
        try:
            results = [r.as_dict() for r in load_path(con, folder, show_progress=False)]
        finally:
            con.close()
        digests.append((_digest(path), results))
    assert digests[0] == digests[1]


@pytest.mark.parametrize(
    ("rows", "problem"),
    [
        ("O20,1,C1,2024-03-01T10:00:00Z,P1,tea,1,2,1,USD\nO20,1,C1,2024-03-02T10:00:00Z,P1,tea,1,2,1,USD",
         "duplicate key (order_id='O20', line_no='1'), first seen on row 2"),
        ("O20,1,C1,2024-03-01T10:00:00Z,P1,tea,1,2,1,USD\nO21,1,C1,2024-03-02T10:00:00Z,P1,tea,1,2,1,EUR",
         "currency 'EUR' differs from 'USD' on row 2"),
        ("O20,1,C9,2024-03-01T10:00:00Z,P1,tea,1,2,1,USD", "customer 'C9' does not exist in customers"),
        ("O20,1,C1,2024-03-01T10:00:00Z,P1,tea,1,2,1,XYZ", "unknown currency 'XYZ'"),
        ("O20,1,C1,2024-02-30T10:00:00Z,P1,tea,1,2,1,USD", "unparseable date '2024-02-30T10:00:00Z'"),
    ],
)  # fmt: skip
def test_what_the_typed_checks_doubt_is_told_the_careful_way(fresh_store, tmp_path, rows, problem):
    """Keys, currencies, references, a date that does not exist: the careful way's message, no change."""
    path = fresh_store()
    before = _digest(path)
    with pytest.raises(LoadError) as info:
        _load(path, "orders", VALID["orders"][0] + "\n" + rows + "\n", tmp_path)
    assert problem in str(info.value), str(info.value)
    assert _digest(path) == before
