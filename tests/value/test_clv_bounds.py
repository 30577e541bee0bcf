"""A CLV horizon beyond a hundred years is refused at once (10^9 months used to run for minutes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_a_huge_horizon_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """The error names the option and the allowed range, before any data are read."""
    done = subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "clv", "--horizon-months", "1000000000",
         "--db", f"duckdb:///{tmp_path / 'kw.duckdb'}"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == "error: --horizon-months: must be a whole number of months from 1 to 1200"
