"""Real data sets as a real owner would load them: CDNOW with customers and orders only.

``cdnow_db`` is a fresh DuckDB store per test module holding the two required tables of CDNOW (Fader and
Hardie's CD retailer, 23,570 customers, 69,659 purchase records, 1997-01 to 1998-06, in US dollars) and
nothing else: no unit costs, incidents, time logs, exits, acquisition costs or consent. Tests that write
to the store (reviews, fits, experiments) stay within their module.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import keepwise
from keepwise.datasets import cdnow_tables

#: The last month of CDNOW's history.
CDNOW_LAST_MONTH = "1998-06"


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
