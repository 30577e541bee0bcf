"""Real data sets as a real owner would load them: CDNOW with customers and orders only.

``cdnow_db`` is a fresh DuckDB store per test module holding the two required tables of CDNOW (Fader and
Hardie's CD retailer, 23,570 customers, 69,659 purchase records, 1997-01 to 1998-06, in US dollars) and
nothing else: no unit costs, incidents, time logs, exits, acquisition costs or consent. Tests that write
to the store (reviews, fits, experiments) stay within their module.

``run_cli(*args)`` runs ``keepwise ARGS`` in-process with the exit codes of the ``keepwise`` script and keeps
the JSON it printed (:class:`Ran`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import keepwise
from keepwise.datasets import cdnow_tables

#: The last month of CDNOW's history.
CDNOW_LAST_MONTH = "1998-06"


@dataclass
class Ran:
    """One command as the CLI ran it: arguments, exit code, stdout, stderr and the JSON it printed."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    doc: Any = None
    seconds: float = 0.0

    def why(self) -> str:
        """The command line and the last line of its error, for a failure message."""
        last = (self.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
        return f"keepwise {' '.join(self.args)} exited {self.code}: {last}"


def run_cli(*args: str) -> Ran:
    """Run ``keepwise ARGS`` in-process with the exit codes of ``keepwise.cli.main`` (2 for a user error)."""
    from keepwise import cli as cli_module
    from keepwise.exceptions import ConvergenceError, KeepwiseInputError

    started = time.perf_counter()
    result = CliRunner().invoke(cli_module.app, list(args), catch_exceptions=True)
    code, err = result.exit_code, result.stderr
    exc = result.exception
    if isinstance(exc, KeepwiseInputError | ConvergenceError):
        code, err = 2, cli_module.error_line(exc) + "\n"
    elif exc is not None and not isinstance(exc, SystemExit):
        code, err = 1, f"internal error: {type(exc).__name__}: {exc}\n"
    shown = tuple("DB" if a.startswith("duckdb:") else a for a in args)
    ran = Ran(shown, code, result.stdout, err, seconds=time.perf_counter() - started)
    if code == 0 and "--json" in args:
        try:
            ran.doc = json.loads(result.stdout)
        except ValueError as e:
            ran.code, ran.stderr = -1, f"--json printed no single JSON document: {e}"
    return ran


def load_cdnow_store(url: str) -> str:
    """Load CDNOW's customers and orders (nothing else) into the store at ``url``; return ``url``."""
    tables = cdnow_tables()
    keepwise.load("customers", tables["customers"], db=url)
    keepwise.load("orders", tables["orders"], db=url)
    return url


@pytest.fixture(scope="module")
def cdnow_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A DuckDB URL to a fresh orders-only CDNOW store (customers and orders only), one per module."""
    path: Path = tmp_path_factory.mktemp("cdnow") / "cdnow.duckdb"
    return load_cdnow_store(f"duckdb:///{path}")
