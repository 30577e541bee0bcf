"""Buy-till-you-die, spend and retention models, fitted on compressed sufficient statistics.

Every model follows one shape: parameters named as in its paper, ``fit(...)`` returns the model, fitted values
end in ``_`` (``params_``, ``log_likelihood_``), ``summary`` gives estimates, standard errors and 95%
intervals, and ``save``/``load`` round-trip through JSON. See :mod:`keepwise.models.base`.
"""

from keepwise.models.base import BaseModel
from keepwise.models.bgbb import BetaGeoBetaBinomModel
from keepwise.models.bgnbd import BetaGeoModel
from keepwise.models.data import calibration_and_holdout, compress_rft, summary_from_transactions
from keepwise.models.gamma_gamma import GammaGammaModel
from keepwise.models.kaplan_meier import KaplanMeier
from keepwise.models.mbgnbd import ModifiedBetaGeoModel
from keepwise.models.pareto_nbd import ParetoNBDModel
from keepwise.models.sbg import ShiftedBetaGeometricModel, survivors_to_durations

__all__ = [
    "MODELS",
    "BaseModel",
    "BetaGeoBetaBinomModel",
    "BetaGeoModel",
    "GammaGammaModel",
    "KaplanMeier",
    "ModifiedBetaGeoModel",
    "ParetoNBDModel",
    "ShiftedBetaGeometricModel",
    "calibration_and_holdout",
    "compress_rft",
    "summary_from_transactions",
    "survivors_to_durations",
]

#: CLI names of the models
MODELS: dict[str, type[BaseModel]] = {
    "bgnbd": BetaGeoModel,
    "mbgnbd": ModifiedBetaGeoModel,
    "pareto-nbd": ParetoNBDModel,
    "bgbb": BetaGeoBetaBinomModel,
    "gamma-gamma": GammaGammaModel,
    "sbg": ShiftedBetaGeometricModel,
}
