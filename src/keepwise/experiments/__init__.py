"""Measurement: randomised experiments with control groups, and uplift targeting.

The stage's front doors take the store and the settings and return objects whose ``to_json()`` is what the
matching command prints with ``--json``:

- :func:`start` designs an experiment from the store (population, stratified seeded assignment, power) and
  saves it (``keepwise experiment design``);
- :func:`analyze` measures a stored experiment over the window after assignment: Welch differences with
  intervals, lift, CUPED, the sample-ratio check, Holm and the money (``keepwise experiment analyze``);
- :func:`fit_uplift`, :func:`score_uplift` and :func:`plan_uplift` learn from a randomised trial who an offer
  changes and give each customer the offer that pays (``keepwise uplift fit|score|plan``).

The statistics themselves are in :mod:`~keepwise.experiments.analysis` (with
:mod:`~keepwise.experiments.stats`), :mod:`~keepwise.experiments.design`, :mod:`~keepwise.experiments.power`
and :mod:`~keepwise.experiments.uplift`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keepwise._lazy import exports

if TYPE_CHECKING:
    from keepwise.experiments.run import Analysis, Started, analyze, read_results, start
    from keepwise.experiments.targeting import (
        UpliftFit,
        UpliftPlan,
        UpliftScores,
        fit_uplift,
        load_uplift,
        plan_uplift,
        score_uplift,
    )

__all__ = [
    "Analysis",
    "Started",
    "UpliftFit",
    "UpliftPlan",
    "UpliftScores",
    "analyze",
    "fit_uplift",
    "load_uplift",
    "plan_uplift",
    "read_results",
    "score_uplift",
    "start",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "Analysis": "keepwise.experiments.run",
        "Started": "keepwise.experiments.run",
        "analyze": "keepwise.experiments.run",
        "read_results": "keepwise.experiments.run",
        "start": "keepwise.experiments.run",
        "UpliftFit": "keepwise.experiments.targeting",
        "UpliftPlan": "keepwise.experiments.targeting",
        "UpliftScores": "keepwise.experiments.targeting",
        "fit_uplift": "keepwise.experiments.targeting",
        "load_uplift": "keepwise.experiments.targeting",
        "plan_uplift": "keepwise.experiments.targeting",
        "score_uplift": "keepwise.experiments.targeting",
    },
)
