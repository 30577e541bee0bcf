"""Fixtures of the PostgreSQL suite: one throwaway server per test process, a fresh database per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from . import server as pg


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.Server]:
    """A PostgreSQL server for this test process (started once, stopped at the end)."""
    if not pg.available():
        pytest.fail(f"PostgreSQL is not installed at {pg.BIN}: run `make system-deps`")
    running = pg.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def pg_url(pg_server: pg.Server) -> str:
    """The URL of a new, empty PostgreSQL database."""
    return pg_server.create_database()


@pytest.fixture(params=["duckdb", "postgres"])
def engine_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty store on each engine: a DuckDB file, then a PostgreSQL database."""
    if request.param == "duckdb":
        return f"duckdb:///{tmp_path}/store.duckdb"
    server: pg.Server = request.getfixturevalue("pg_server")
    return server.create_database()
