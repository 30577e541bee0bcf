from __future__ import annotations

from pathlib import Path

import pytest

from keepwise.store import connect


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """A fresh DuckDB store file (absolute path, SQLAlchemy-style URL)."""
    return f"duckdb:///{tmp_path}/store.duckdb"


@pytest.fixture
def store(db_url: str):
    backend = connect(db_url)
    yield backend
    backend.disconnect()
