"""keepwise: an open-source customer-retention system.

The Python API follows the loop (see ``docs/architecture.md``). Every stage has one front door, a plain
function that takes the store (and the month and settings) and returns a result whose ``to_json()`` is what
the matching command prints with ``--json``::

    import keepwise

    store = keepwise.connect("duckdb:///shop.duckdb")       # a keepwise.store.Store over DuckDB or Spark
    keepwise.load("orders", orders_frame, db=store)          # validated, all-or-nothing, idempotent
    model = keepwise.fit_model(store, "bgnbd").model          # BTYD fit on the store's orders
    values = keepwise.customer_value(store, save=False)       # CLV per customer
    review = keepwise.run_review(store, "2025-12")            # the monthly review

Names are imported when first used, so ``import keepwise`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: Public name -> (module, attribute): the loop's front doors, the store, the models and plotting helpers.
_EXPORTS: dict[str, tuple[str, str]] = {
    # store
    "connect": ("keepwise.store", "connect"),
    "Store": ("keepwise.store", "Store"),
    "load": ("keepwise.api", "load"),
    "load_config": ("keepwise.config", "load_config"),
    # models (store-free: arrays or DataFrames in, parameters out)
    "BetaGeoModel": ("keepwise.models", "BetaGeoModel"),
    "ModifiedBetaGeoModel": ("keepwise.models", "ModifiedBetaGeoModel"),
    "ParetoNBDModel": ("keepwise.models", "ParetoNBDModel"),
    "BetaGeoBetaBinomModel": ("keepwise.models", "BetaGeoBetaBinomModel"),
    "GammaGammaModel": ("keepwise.models", "GammaGammaModel"),
    "ShiftedBetaGeometricModel": ("keepwise.models", "ShiftedBetaGeometricModel"),
    "summary_from_transactions": ("keepwise.models", "summary_from_transactions"),
    # value
    "fit_model": ("keepwise.value.fitting", "fit_model"),
    "customer_value": ("keepwise.value.clv", "run"),
    "profit": ("keepwise.value.profit", "run"),
    # signals and the review
    "run_signals": ("keepwise.signals", "run"),
    "run_review": ("keepwise.review", "run_review"),
    # decisions
    "winback": ("keepwise.decisions.winback", "run"),
    "outreach": ("keepwise.decisions.outreach", "run"),
    "advise_concession": ("keepwise.decisions.concession", "advise"),
    # actions and measurement
    "run_flows": ("keepwise.messages.flows", "run"),
    "start_experiment": ("keepwise.experiments", "start"),
    "analyze_experiment": ("keepwise.experiments", "analyze"),
    # plotting helpers (matplotlib; each returns its Axes)
    "plot_frequency_recency_matrix": ("keepwise.models.plotting", "plot_frequency_recency_matrix"),
    "plot_probability_alive_matrix": ("keepwise.models.plotting", "plot_probability_alive_matrix"),
    "plot_calibration_purchases_vs_holdout_purchases": (
        "keepwise.models.plotting",
        "plot_calibration_purchases_vs_holdout_purchases",
    ),
    "plot_history_alive": ("keepwise.models.plotting", "plot_history_alive"),
    "plot_cumulative_transactions": ("keepwise.models.plotting", "plot_cumulative_transactions"),
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    # the store, the models and the stages import Ibis, DuckDB, pandas and SciPy: only when first used, so
    # that ``keepwise --help`` and light submodules start fast
    if name in _EXPORTS:
        module, attribute = _EXPORTS[name]
        value = getattr(importlib.import_module(module), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'keepwise' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
