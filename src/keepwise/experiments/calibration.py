"""How far to trust predicted uplift: calibration by decile and a plan's incremental margin, on a holdout.

An uplift model's predictions are noisy, and a plan treats the customers with the *largest* predictions, so
the noise it selects is mostly upward: the sum of the treated customers' predicted effects overstates what the
plan will earn (the winner's curse; on a trial of 4,000 customers a DR-learner's plan predicted 2.6x the true
incremental margin). Both measures below use the part of the trial the learner did not see (a randomised
trial, so a difference of mean outcomes, treated minus control, is an unbiased uplift):

- :func:`calibrate`: per offer, the held-out customers of the offer and of the control in deciles of predicted
  uplift; per decile the mean prediction against the realised uplift. A calibrated learner's deciles lie on
  the diagonal; an overfitted one's spread wider than what they realise.
- :func:`plan_margin`: per offer ``a``, a calibration line fitted on all the held-out customers of ``a`` and
  of the control: the transformed outcome ``z = y (w / e - (1 - w) / (1 - e))`` (``w`` = had the offer, ``e``
  = the share who had it; ``E[z | x]`` is the true uplift; Athey and Imbens, "Recursive partitioning for
  heterogeneous causal effects", PNAS 113(27), 2016) regressed by least squares on the predicted uplift
  ``tau``: ``z ~ alpha + beta tau``. A slope ``beta`` below 1 is the overfitting the plan would otherwise pay
  for. The plan's incremental margin is ``sum_i v_i (alpha + beta tau_i)`` over the customers it gives ``a``
  (``v`` = margin if retained for a 0/1 outcome, 1 for a money outcome). Its interval is a nonparametric
  bootstrap of the held-out customers, resampled within each arm (Efron and Tibshirani, "An introduction to
  the bootstrap", Chapman & Hall, 1993, ch. 13: percentile interval), 400 resamples, seeded. On the
  simulated business (``experiments/simulate.py``) the 90% interval covered the true incremental margin in
  14 of 14 trials (4,000 and 16,000 customers, T and DR learners). The line is fitted on the retention
  scale, not on money: margins' long tail made a money-scale line too noisy to use on a holdout of 1,200.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

__all__ = ["Holdout", "PlanMargin", "calibrate", "plan_margin"]

#: Fewest held-out customers in an offer's arm and in the control to measure the offer.
MIN_ARM = 10

#: Coverage of the plan's interval.
LEVEL = 0.9


def calibrate(
    score: npt.ArrayLike, is_treated: npt.ArrayLike, outcome: npt.ArrayLike, *, bins: int = 10
) -> list[dict[str, Any]]:
    """Predicted against realised uplift of one offer by decile of predicted uplift (lowest first).

    ``score`` is each held-out customer's predicted uplift, ``is_treated`` whether they had the offer (the
    others are the control), ``outcome`` what was observed. Deciles are of the predictions (fewer when
    predictions tie; a prediction on an edge falls in the lower one); a decile without a treated or a
    control customer has no realised uplift (``None``).
    """
    s = np.asarray(score, dtype=float)
    w = np.asarray(is_treated).astype(bool)
    y = np.asarray(outcome, dtype=float)
    if not len(s):
        return []
    edges = np.unique(np.quantile(s, np.linspace(0, 1, bins + 1)[1:-1]))
    b = np.searchsorted(edges, s, side="left")
    rows: list[dict[str, Any]] = []
    for i in np.unique(b):
        t, c = (b == i) & w, (b == i) & ~w
        realised = float(y[t].mean() - y[c].mean()) if t.any() and c.any() else None
        rows.append(
            {
                "decile": len(rows) + 1,
                "treated": int(t.sum()),
                "control": int(c.sum()),
                "predicted_uplift": round(float(s[b == i].mean()), 4),
                "realised_uplift": None if realised is None else round(realised, 4),
            }
        )
    return rows


@dataclass
class Holdout:
    """The held-out part of a trial: features, arms, outcomes and (for a 0/1 outcome) margins if retained."""

    features: pd.DataFrame
    arm: np.ndarray
    outcome: np.ndarray
    value: np.ndarray | None
    control: str


@dataclass
class PlanMargin:
    """A plan's incremental margin measured on the holdout, with its interval."""

    estimate: float
    low: float
    high: float
    slope: dict[str, float | None]
    intercept: dict[str, float | None]
    held_out: dict[str, int]
    note: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The estimate, its 90% interval, each offer's calibration line and the held-out customers used."""
        return {
            "incremental_margin": round(self.estimate, 2),
            "interval": [round(self.low, 2), round(self.high, 2)],
            "level": LEVEL,
            "calibration_slope": {k: None if v is None else round(v, 4) for k, v in self.slope.items()},
            "calibration_intercept": {
                k: None if v is None else round(v, 4) for k, v in self.intercept.items()
            },
            "held_out_customers": self.held_out,
            "note": self.note,
        }


def plan_margin(
    learner: Any,
    holdout: Holdout,
    offers: npt.ArrayLike,
    effects: npt.ArrayLike,
    values: npt.ArrayLike | None = None,
    *,
    resamples: int = 400,
    seed: int = 0,
) -> PlanMargin:
    """The incremental margin of the customers a plan treats, measured on the holdout (module docstring).

    ``offers``, ``effects`` and ``values`` describe the treated customers only: the offer each is given, the
    learner's predicted effect of it and (for a 0/1 outcome) their margin if retained.
    """
    given = np.asarray(offers).astype(str)
    tau = np.asarray(effects, dtype=float)
    v = np.ones(len(given)) if values is None else np.asarray(values, dtype=float)
    predicted = learner.predict(holdout.features)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(holdout.arm == a) for a in np.unique(holdout.arm)]
    draws = [np.arange(len(holdout.arm))] + [
        np.concatenate([rng.choice(ix, size=len(ix)) for ix in groups]) for _ in range(resamples)
    ]
    totals = np.zeros(len(draws))
    slopes: dict[str, float | None] = {}
    intercepts: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    missing = []
    for name in sorted({str(g) for g in given}):
        mine = given == name
        counts[name] = int((holdout.arm == name).sum())
        if (
            name not in predicted.columns
            or min(counts[name], (holdout.arm == holdout.control).sum()) < MIN_ARM
        ):
            slopes[name] = intercepts[name] = None
            missing.append(name)
            continue
        pair = (holdout.arm == name) | (holdout.arm == holdout.control)
        score = predicted[name].to_numpy()
        for j, idx in enumerate(draws):
            i = idx[pair[idx]]
            w = (holdout.arm[i] == name).astype(float)
            e = w.mean()
            z = holdout.outcome[i] * (w / e - (1 - w) / (1 - e))
            slope, intercept = np.polyfit(score[i], z, 1)
            totals[j] += float(np.sum(v[mine] * (intercept + slope * tau[mine])))
            if j == 0:
                slopes[name], intercepts[name] = float(slope), float(intercept)
    tail = (1 - LEVEL) / 2 * 100
    low, high = np.percentile(totals[1:], [tail, 100 - tail]) if resamples else (totals[0], totals[0])
    note = None
    if missing:
        note = (
            f"too few held-out customers had {', '.join(missing)} to measure it (at least {MIN_ARM} in its "
            "arm and in the control): its customers count 0 in the plan's incremental margin"
        )
    return PlanMargin(float(totals[0]), float(low), float(high), slopes, intercepts, counts, note)
