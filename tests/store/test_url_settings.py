"""DuckDB settings carried by a store URL (``?memory_limit=3GB&temp_directory=/spill&threads=2``).

A review of ten million customers fits a 24 GB machine only with DuckDB's memory capped and a folder to spill
to (bench/RESULTS.md, session 9); the URL is how every command and the dashboard get them.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from keepwise.cli import app, error_line
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import connect, duckdb_path, duckdb_settings


def test_the_settings_reach_the_engine_and_the_path_stays_the_file(tmp_path):
    spill = tmp_path / "spill"
    url = f"duckdb:///{tmp_path}/kw.duckdb?memory_limit=1GB&threads=1&temp_directory={spill}"
    assert duckdb_path(url) == f"{tmp_path}/kw.duckdb"
    store = connect(url)
    got = store.backend.con.execute(
        "SELECT current_setting('memory_limit'), current_setting('threads'), "
        "current_setting('temp_directory')"
    ).fetchone()
    store.disconnect()
    assert got == ("953.6 MiB", 1, str(spill))  # DuckDB shows 10^9 bytes in binary units
    assert (tmp_path / "kw.duckdb").exists()
    assert not list(tmp_path.glob("*memory_limit*"))


def test_a_url_without_settings_keeps_duckdbs_defaults(tmp_path):
    assert duckdb_settings(f"duckdb:///{tmp_path}/kw.duckdb") == {}
    store = connect(f"duckdb:///{tmp_path}/kw.duckdb")
    threads = store.backend.con.execute("SELECT current_setting('threads')").fetchone()[0]
    store.disconnect()
    assert threads >= 1


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("memory_limt=3GB", "unknown setting 'memory_limt'"),
        ("memory_limit=3", "memory_limit='3' is not a valid value"),
        ("memory_limit=3GB';DROP TABLE orders;--", "is not a valid value"),
        ("threads=0", "threads='0' is not a valid value"),
        ("temp_directory=/tmp/a'b", "is not a valid value"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it(tmp_path, query, message):
    with pytest.raises(KeepwiseInputError, match=message):
        connect(f"duckdb:///{tmp_path}/kw.duckdb?{query}")
    result = CliRunner().invoke(app, ["status", "--db", f"duckdb:///{tmp_path}/kw.duckdb?{query}"])
    assert isinstance(result.exception, KeepwiseInputError)
    assert message in error_line(result.exception)
    assert not (tmp_path / "kw.duckdb").exists()  # nothing was created for a refused URL


def test_the_command_says_it_in_one_line_and_exits_2(tmp_path):
    url = f"duckdb:///{tmp_path}/kw.duckdb?memory_limit=lots"
    done = subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "review", "--json", "--db", url],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "memory_limit='lots' is not a valid value" in lines[0]
