"""A simulated business in a DuckDB file, shared by the decision tests (built once per session)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from keepwise.config import Config
from keepwise.datasets import simulate
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order


@pytest.fixture(scope="session")
def sim_business():
    """The simulated business behind ``sim_db``, with its truth."""
    return simulate(customers=3000, months=24, seed=3)


@pytest.fixture(scope="session")
def sim_db(tmp_path_factory: pytest.TempPathFactory, sim_business) -> str:
    path: Path = tmp_path_factory.mktemp("decisions") / "store.duckdb"
    url = f"duckdb:///{path}"
    biz = sim_business
    backend = connect(url)
    for name in load_order(set(biz.tables)):
        load_frame(backend, name, biz.tables[name], source=name)
    backend.disconnect()
    return url


@pytest.fixture(scope="session")
def advisor(sim_db: str, tmp_path_factory: pytest.TempPathFactory):
    """An advisor on a copy of the store (DuckDB opens a file once per process; the CLI tests open it too)."""
    from keepwise.decisions.concession import ConcessionAdvisor

    copy = tmp_path_factory.mktemp("advisor") / "store.duckdb"
    shutil.copy(sim_db.removeprefix("duckdb:///"), copy)
    backend = connect(f"duckdb:///{copy}", read_only=True)
    adv = ConcessionAdvisor(backend, Config())
    yield adv
    backend.disconnect()
