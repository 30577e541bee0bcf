from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

SHARED = Path("/work/shared/data/cdnow")


def _cdnow_path(name: str) -> Path:
    """The bundled copy under keepwise.datasets if it is there, else the shared reference data."""
    try:
        packaged = resources.files("keepwise.datasets") / "data" / name
        if packaged.is_file():
            return Path(str(packaged))
    except ModuleNotFoundError:
        pass
    return SHARED / name


@pytest.fixture(scope="session")
def cdnow_summary() -> pd.DataFrame:
    """The 1/10 CDNOW sample, 2,357 customers, 39-week calibration (weeks; frequency = repeat purchases)."""
    return pd.read_csv(_cdnow_path("cdnow_customers_summary.csv"))


@pytest.fixture(scope="session")
def cdnow_spend() -> pd.DataFrame:
    """The same customers with zbar, the mean value of the repeat purchases (946 have x > 0)."""
    return pd.read_csv(_cdnow_path("cdnow_customers_summary_with_transactions.csv"))


@pytest.fixture(scope="session")
def lifetimes_donations() -> pd.DataFrame:
    """The donations data (11,104 donors, 6 opportunities) of Fader, Hardie and Shang (2010), as shipped
    inside lifetimes 0.11.3 (lifetimes/datasets/donations.csv)."""
    import importlib.util

    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.origin is not None
    return pd.read_csv(Path(spec.origin).parent / "datasets" / "donations.csv")


@pytest.fixture(autouse=True)
def _seed_global_numpy():
    """lifetimes draws its optimiser's starting point from numpy's global generator: seed it."""
    import numpy as np

    np.random.seed(0)  # noqa: NPY002  (lifetimes uses the global generator)


@pytest.fixture(scope="session")
def cdnow_sample_transactions() -> pd.DataFrame:
    """The 1/10 CDNOW sample as transactions (lifetimes/datasets/CDNOW_sample.txt: 6,919 rows, 2,357 ids).

    Columns ``customer`` (1..2357, the ID of cdnow_customers_summary.csv), ``date``, ``cds``, ``amount``.
    """
    import importlib.util

    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / "datasets" / "CDNOW_sample.txt"
    tx = pd.read_csv(
        path, sep=r"\s+", header=None, names=["cid", "customer", "date", "cds", "amount"], dtype={"date": str}
    )
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return tx
