"""A small simulated business in a DuckDB file, built once; each test works on its own copy."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from keepwise.datasets import simulate
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order


@pytest.fixture(scope="session")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The simulated store file (never written by a test: copy it with ``store_copy``)."""
    path = tmp_path_factory.mktemp("operations") / "small.duckdb"
    biz = simulate(customers=250, months=18, seed=5)
    backend = connect(f"duckdb:///{path}")
    for name in load_order(set(biz.tables)):
        load_frame(backend, name, biz.tables[name], source=name)
    backend.disconnect()
    return path


@pytest.fixture
def store_copy(small_store: Path, tmp_path: Path) -> Callable[[str], str]:
    """``store_copy(name)``: a fresh copy of the simulated store; returns its URL."""

    def make(name: str) -> str:
        target = tmp_path / f"{name}.duckdb"
        shutil.copy(small_store, target)
        return f"duckdb:///{target}"

    return make


@pytest.fixture(autouse=True)
def _secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The flows sign links with KEEPWISE_SECRET; settings come from the defaults (no keepwise.toml)."""
    monkeypatch.setenv("KEEPWISE_SECRET", "operations-test-secret-0123456789")
    monkeypatch.chdir(tmp_path)
