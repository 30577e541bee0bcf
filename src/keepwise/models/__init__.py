"""Buy-till-you-die, spend and retention models, fitted on compressed sufficient statistics.

Every model follows one shape: parameters named as in its paper, ``fit(...)`` returns the model, fitted values
end in ``_`` (``params_``, ``log_likelihood_``), ``summary`` gives estimates, standard errors and 95%
intervals, and ``save``/``load`` round-trip through JSON. See :mod:`keepwise.models.base`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from keepwise._lazy import exports

if TYPE_CHECKING:
    from keepwise.models.base import BaseModel
    from keepwise.models.bgbb import BetaGeoBetaBinomModel
    from keepwise.models.bgnbd import BetaGeoModel
    from keepwise.models.data import calibration_and_holdout, compress_rft, summary_from_transactions
    from keepwise.models.gamma_gamma import GammaGammaModel
    from keepwise.models.kaplan_meier import KaplanMeier
    from keepwise.models.mbgnbd import ModifiedBetaGeoModel
    from keepwise.models.pareto_nbd import ParetoNBDModel
    from keepwise.models.sbg import ShiftedBetaGeometricModel, survivors_to_durations

    #: CLI names of the models
    MODELS: dict[str, type[BaseModel]]

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

_export, __dir__ = exports(
    __name__,
    {
        "BaseModel": "keepwise.models.base",
        "BetaGeoBetaBinomModel": "keepwise.models.bgbb",
        "BetaGeoModel": "keepwise.models.bgnbd",
        "calibration_and_holdout": "keepwise.models.data",
        "compress_rft": "keepwise.models.data",
        "summary_from_transactions": "keepwise.models.data",
        "GammaGammaModel": "keepwise.models.gamma_gamma",
        "KaplanMeier": "keepwise.models.kaplan_meier",
        "ModifiedBetaGeoModel": "keepwise.models.mbgnbd",
        "ParetoNBDModel": "keepwise.models.pareto_nbd",
        "ShiftedBetaGeometricModel": "keepwise.models.sbg",
        "survivors_to_durations": "keepwise.models.sbg",
    },
)


def __getattr__(name: str) -> Any:
    if name != "MODELS":
        return _export(name)
    from keepwise.models.bgbb import BetaGeoBetaBinomModel
    from keepwise.models.bgnbd import BetaGeoModel
    from keepwise.models.gamma_gamma import GammaGammaModel
    from keepwise.models.mbgnbd import ModifiedBetaGeoModel
    from keepwise.models.pareto_nbd import ParetoNBDModel
    from keepwise.models.sbg import ShiftedBetaGeometricModel

    models: dict[str, type[BaseModel]] = {  # CLI names of the models
        "bgnbd": BetaGeoModel,
        "mbgnbd": ModifiedBetaGeoModel,
        "pareto-nbd": ParetoNBDModel,
        "bgbb": BetaGeoBetaBinomModel,
        "gamma-gamma": GammaGammaModel,
        "sbg": ShiftedBetaGeometricModel,
    }
    globals()["MODELS"] = models
    return models
