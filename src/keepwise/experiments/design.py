"""Experiment design: arms and ratios, stratified permuted-block assignment with a seed, the balance table.

Assignment is stratified permuted-block randomisation (Friedman, Furberg and DeMets, "Fundamentals of Clinical
Trials", 5th ed., 2015, chapter 6): the arms' ratios are reduced to the smallest whole numbers (1:1 gives a
block of 2, 1:2 a block of 3), each stratum's customers are put in a random order, and they are dealt out in
consecutive blocks, each block a fresh random permutation of the arms in their ratio. Every stratum (a tier, a
profit decile, any column) is therefore split in the designed ratio to within one block, and so is the whole
population. The random order depends only on the seed and on the sorted customer ids, so the same population
and seed always give the same assignment.

Balance is checked with standardised mean differences of pre-period figures,
``SMD = (mean_t - mean_c) / sqrt((s_t^2 + s_c^2) / 2)``; ``|SMD| > 0.1`` is the usual sign of imbalance
(Austin, "Balance diagnostics for comparing the distribution of baseline covariates between treatment groups
in propensity-score matched samples", Statistics in Medicine 28, 2009).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from keepwise.exceptions import KeepwiseInputError

__all__ = ["SMD_LIMIT", "Design", "assign", "balance_table", "parse_arms"]

#: Absolute standardised mean difference above which a covariate is flagged as imbalanced (Austin 2009).
SMD_LIMIT = 0.1


@dataclass(frozen=True)
class Design:
    """An experiment's design: its name, arms with ratios, seed, strata and the population rule in words."""

    name: str
    arms: dict[str, float]
    seed: int
    control: str = "control"
    strata: tuple[str, ...] = ()
    population: str = ""
    block_multiple: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Validate the design at the door."""
        if not self.name.strip():
            raise KeepwiseInputError("an experiment needs a name")
        if len(self.arms) < 2:
            raise KeepwiseInputError("an experiment needs at least two arms, e.g. control:1,treatment:1")
        if self.control not in self.arms:
            raise KeepwiseInputError(
                f"control arm '{self.control}' is not one of the arms ({', '.join(self.arms)})"
            )
        if any(r <= 0 for r in self.arms.values()):
            raise KeepwiseInputError("every arm's ratio must be positive")
        if self.block_multiple < 1:
            raise KeepwiseInputError("the block multiple must be at least 1")

    @property
    def block(self) -> list[str]:
        """One block of arms in their ratio (smallest whole numbers), times ``block_multiple``."""
        weights = _whole_ratios(self.arms)
        return [a for a, w in weights.items() for _ in range(w * self.block_multiple)]


def parse_arms(spec: str) -> dict[str, float]:
    """Arms from ``"control:1,treatment:1"`` (a name alone means ratio 1).

    Examples
    --------
    >>> parse_arms("control:2, call:1, visit")
    {'control': 2.0, 'call': 1.0, 'visit': 1.0}
    """
    arms: dict[str, float] = {}
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        name, _, ratio = part.partition(":")
        name = name.strip()
        try:
            value = float(ratio) if ratio.strip() else 1.0
        except ValueError:
            raise KeepwiseInputError(f"arm '{part}': the ratio after ':' must be a number") from None
        if not name or name in arms:
            raise KeepwiseInputError(f"arm '{part}': every arm needs its own name")
        arms[name] = value
    return arms


def _whole_ratios(arms: Mapping[str, float]) -> dict[str, int]:
    fractions = {a: Fraction(r).limit_denominator(100) for a, r in arms.items()}
    lcm = math.lcm(*(f.denominator for f in fractions.values()))
    whole = {a: int(f * lcm) for a, f in fractions.items()}
    g = math.gcd(*whole.values())
    out = {a: w // g for a, w in whole.items()}
    if sum(out.values()) > 1000:
        raise KeepwiseInputError(
            "arm ratios are too fine-grained; use small whole numbers such as 1:1 or 1:2"
        )
    return out


def assign(
    population: pd.DataFrame,
    design: Design,
    *,
    id_column: str = "customer_id",
) -> pd.DataFrame:
    """Assign every customer of ``population`` to an arm.

    Parameters
    ----------
    population:
        One row per customer; must hold ``id_column`` and the design's strata columns.
    design:
        Arms, ratios, seed and strata.
    id_column:
        The customer id column.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``arm`` and ``stratum`` (the strata values joined with ``|``; empty without strata),
        in customer-id order.
    """
    missing = [c for c in (id_column, *design.strata) if c not in population.columns]
    if missing:
        raise KeepwiseInputError(
            f"the population has no column(s) {', '.join(missing)}; "
            f"its columns are: {', '.join(map(str, population.columns))}"
        )
    ids = population[id_column].astype(str)
    if ids.duplicated().any():
        raise KeepwiseInputError(f"customer '{ids[ids.duplicated()].iloc[0]}' is in the population twice")
    if len(ids) == 0:
        raise KeepwiseInputError("the population is empty; nobody to assign")
    frame = pd.DataFrame({"customer_id": ids.to_numpy()})
    if design.strata:
        frame["stratum"] = (
            population[list(design.strata)].astype(str).agg("|".join, axis=1).to_numpy()
            if len(design.strata) > 1
            else population[design.strata[0]].astype(str).to_numpy()
        )
    else:
        frame["stratum"] = ""
    frame = frame.sort_values(["stratum", "customer_id"], kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(design.seed)
    block = np.array(design.block)
    arms = np.empty(len(frame), dtype=object)
    for _, idx in frame.groupby("stratum", sort=True).indices.items():
        order = idx[rng.permutation(len(idx))]
        blocks = -(-len(idx) // len(block))
        seq = np.concatenate([block[rng.permutation(len(block))] for _ in range(blocks)])[: len(idx)]
        arms[order] = seq
    frame["arm"] = arms
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)[
        ["customer_id", "arm", "stratum"]
    ]


def balance_table(
    frame: pd.DataFrame, arm_column: str, control: str, covariates: Sequence[str]
) -> pd.DataFrame:
    """Standardised mean differences of pre-period figures, each arm against the control.

    Returns
    -------
    pandas.DataFrame
        One row per covariate and arm: ``covariate``, ``arm``, ``mean``, ``mean_control``, ``smd`` and
        ``imbalanced`` (``|smd| > SMD_LIMIT``).
    """
    rows: list[dict[str, Any]] = []
    arms = frame[arm_column].astype(str)
    for cov in covariates:
        if cov not in frame.columns:
            raise KeepwiseInputError(f"no column '{cov}' to check balance on")
        x = pd.to_numeric(frame[cov], errors="coerce").astype(float)
        c = x[arms == control]
        for arm in sorted(set(arms) - {control}):
            t = x[arms == arm]
            pooled = math.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2)
            smd = (t.mean() - c.mean()) / pooled if pooled > 0 else 0.0
            rows.append(
                {
                    "covariate": cov,
                    "arm": arm,
                    "mean": float(t.mean()),
                    "mean_control": float(c.mean()),
                    "smd": float(smd),
                    "imbalanced": bool(abs(smd) > SMD_LIMIT),
                }
            )
    return pd.DataFrame(rows, columns=["covariate", "arm", "mean", "mean_control", "smd", "imbalanced"])
