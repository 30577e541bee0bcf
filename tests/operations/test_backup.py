"""``keepwise backup`` / ``restore``: a simulated store round-trips through Parquet with identical digests."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from ops_kit import MONTH
from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.exceptions import BadInput
from keepwise.operations import run
from keepwise.store import connect
from keepwise.store.backup import MANIFEST, restore


def _engine_hashes(url: str) -> dict[str, tuple[str, int, int]]:
    """A second digest, DuckDB's own: per table its column types, row count and the sum of its row hashes."""
    con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
    try:
        tables = con.execute(
            "SELECT table_name, string_agg(column_name || ' ' || data_type, ', ' ORDER BY column_index) "
            "FROM duckdb_columns() WHERE NOT internal GROUP BY table_name"
        ).fetchall()
        found = {}
        for name, columns in tables:
            if name == "locks":
                continue
            count, total = con.execute(f'SELECT COUNT(*), SUM(HASH(t)::HUGEINT) FROM "{name}" t').fetchone()
            found[name] = (columns, count, int(total or 0))
        return found
    finally:
        con.close()


@pytest.fixture
def worked_store(store_copy: Callable[[str], str]) -> str:
    """The simulated store after part of a monthly run: records, consent events, results, documents."""
    url = store_copy("source")
    store = connect(url)
    try:
        run(store, MONTH, steps="profit,winback")
    finally:
        store.disconnect()
    return url


def test_backup_and_restore_round_trip_with_identical_digests(worked_store: str, tmp_path: Path) -> None:
    cli = CliRunner()
    folder = tmp_path / "backup"
    done = cli.invoke(app, ["backup", str(folder), "--json", "--db", worked_store])
    assert done.exit_code == 0, done.output
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    entries = {t["table"]: t for t in manifest["tables"]}
    assert {"orders", "customers", "consent", "consent_events", "profit", "winback", "runs"} <= set(entries)
    assert "locks" not in entries
    for name, entry in entries.items():
        assert (folder / entry["file"]).exists() and len(entry["sha256"]) == 64, name
    original = _engine_hashes(worked_store)
    assert entries["orders"]["rows"] == original["orders"][1] > 0
    target = f"duckdb:///{tmp_path / 'restored.duckdb'}"
    done = cli.invoke(app, ["restore", str(folder), "--json", "--db", target])
    assert done.exit_code == 0, done.output
    again = tmp_path / "again"
    assert cli.invoke(app, ["backup", str(again), "--db", target]).exit_code == 0
    second = json.loads((again / MANIFEST).read_text(encoding="utf-8"))
    assert {t["table"]: (t["rows"], t["sha256"]) for t in second["tables"]} == {
        name: (e["rows"], e["sha256"]) for name, e in entries.items()
    }
    restored = _engine_hashes(target)
    assert restored == original  # same types, counts and row hashes by DuckDB's own hash


def test_restore_refuses_a_store_with_rows_and_a_damaged_backup(worked_store: str, tmp_path: Path) -> None:
    folder = tmp_path / "backup"
    assert CliRunner().invoke(app, ["backup", str(folder), "--db", worked_store]).exit_code == 0
    store = connect(worked_store)
    try:
        with pytest.raises(BadInput, match="the store is not empty"):
            restore(store, folder)
    finally:
        store.disconnect()
    entry = next(t for t in json.loads((folder / MANIFEST).read_text())["tables"] if t["table"] == "orders")
    (folder / entry["file"]).write_bytes((folder / "customers.parquet").read_bytes())
    empty = connect(f"duckdb:///{tmp_path / 'empty.duckdb'}")
    try:
        with pytest.raises(BadInput, match=r"orders\.parquet does not match its manifest entry"):
            restore(empty, folder)
        assert empty.count("customers") == 0, "nothing restored from a damaged backup"
    finally:
        empty.disconnect()
    with pytest.raises(BadInput, match="is not a keepwise backup"):
        restore(connect(f"duckdb:///{tmp_path / 'other.duckdb'}"), tmp_path)
