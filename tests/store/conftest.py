"""Fixtures of the load tests: a seeded store (``loads_kit.BASE``) made once, copied for each test."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from loads_kit import BASE

from keepwise.store import connect
from keepwise.store.ingest import load_path


@pytest.fixture(scope="session")
def base_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store file holding ``BASE`` (customers C1 and C2, product P1, one order), made once per session."""
    folder = tmp_path_factory.mktemp("base")
    data = folder / "data"
    data.mkdir()
    for table, text in BASE.items():
        (data / f"{table}.csv").write_text(text)
    path = folder / "base.duckdb"
    backend = connect(f"duckdb:///{path}")
    load_path(backend, data, show_progress=False)
    backend.disconnect()
    return path


@pytest.fixture
def fresh_store(base_store: Path, tmp_path: Path) -> Callable[[], Path]:
    """A copy of the base store in this test's folder (call it for each copy you need)."""
    count = 0

    def make() -> Path:
        nonlocal count
        count += 1
        path = tmp_path / f"store{count}.duckdb"
        shutil.copy(base_store, path)
        return path

    return make
