"""The Kaplan-Meier estimate of the survival (retention) curve, with weights and Greenwood intervals.

``S(t) = prod_{t_i <= t} (1 - d_i / n_i)`` with ``d_i`` cancellations at ``t_i`` and ``n_i`` at risk just
before; the 95% interval uses the log(-log) transform of Greenwood's variance (Kalbfleisch and Prentice
2002, section 1.4).
A non-parametric view next to the sBG model for subscriptions.

References
----------
Kaplan, E. L. and Meier, P. (1958). Nonparametric Estimation from Incomplete Observations. JASA 53, 457-481.
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import pandas as pd

from keepwise.exceptions import KeepwiseInputError
from keepwise.models.base import Z95, as_array


class KaplanMeier:
    """Kaplan-Meier estimator; ``survival_function_`` has columns survival, lower, upper, at_risk, events."""

    survival_function_: pd.DataFrame

    def fit(self, durations: Any, event_observed: Any, weights: Any = None) -> Self:
        """Estimate S(t) from durations and whether each ended in the event (1) or was censored (0)."""
        t, e = as_array(durations, "durations"), as_array(event_observed, "event_observed")
        if len(t) != len(e):
            raise KeepwiseInputError("durations and event_observed must have the same length")
        w = np.ones(len(t)) if weights is None else as_array(weights, "weights")
        times = np.unique(t)
        d = np.array([w[(t == u) & (e > 0)].sum() for u in times])
        leaving = np.array([w[t == u].sum() for u in times])
        at_risk = w.sum() - np.concatenate([[0.0], np.cumsum(leaving)[:-1]])
        frac = np.where(at_risk > 0, d / np.where(at_risk > 0, at_risk, 1), 0.0)
        surv = np.cumprod(1 - frac)
        with np.errstate(divide="ignore", invalid="ignore"):
            green = np.cumsum(np.where(at_risk > d, d / (at_risk * (at_risk - d)), 0.0))
            log_s = np.log(surv)
            se = np.sqrt(green) / np.abs(log_s)
            lower = np.exp(-np.exp(np.log(-log_s) + Z95 * se))
            upper = np.exp(-np.exp(np.log(-log_s) - Z95 * se))
        ok = (surv > 0) & (surv < 1)
        self.survival_function_ = pd.DataFrame(
            {
                "survival": surv,
                "lower": np.where(ok, lower, surv),
                "upper": np.where(ok, upper, surv),
                "at_risk": at_risk,
                "events": d,
            },
            index=pd.Index(times, name="timeline"),
        )
        return self

    def survival_at(self, t: Any) -> np.ndarray:
        """S(t) as a step function (1 before the first event time)."""
        sf = self.survival_function_
        idx = np.searchsorted(sf.index.to_numpy(), np.asarray(t, dtype=float), side="right") - 1
        return np.where(idx >= 0, sf["survival"].to_numpy()[np.maximum(idx, 0)], 1.0)
