"""Fixtures of the PostgreSQL suite: one throwaway server per test process, a fresh database per test.

The suite runs the store layer, the loads (the adversarial cases of tests/store), the review and backups on
a real PostgreSQL server (:mod:`.server`) and, where it compares, on DuckDB beside it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from . import server as pg

# the load tests' shared rows and cases (tests/store/loads_kit.py, test_adversarial_loads.py)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "store"))

from loads_kit import BASE


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


@pytest.fixture(scope="session")
def pg_base(pg_server: pg.Server, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database holding ``loads_kit.BASE`` (customers C1 and C2, product P1, an order): a template."""
    from keepwise.store import connect
    from keepwise.store.ingest import load_path

    data = tmp_path_factory.mktemp("pg_base")
    for table, text in BASE.items():
        (data / f"{table}.csv").write_text(text)
    url = pg_server.create_database("kw_base")
    store = connect(url)
    load_path(store, data, show_progress=False)
    store.disconnect()
    return "kw_base"


@pytest.fixture
def pg_fresh(pg_server: pg.Server, pg_base: str) -> Callable[[], str]:
    """Make a copy of the base database (``CREATE DATABASE ... TEMPLATE``) and return its URL."""
    return lambda: pg_server.create_database(template=pg_base)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``postgres`` (``-m "not postgres"`` leaves them out)."""
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().parent == here:
            item.add_marker(pytest.mark.postgres)
