"""Warning ``aov_decline``: the customer's order value has fallen over the last three months.

The rule
--------
For each customer, take the natural log of the value of every purchase order. Split them into the history
(before the three calendar months ending with the review month) and the recent window (those three months).
Under the null hypothesis "nothing changed", the log values are independent draws from one normal
distribution with the customer's own mean and variance. The one-sided two-sample t statistic with pooled
variance::

    t = (mean_r - mean_h) / (s_p * sqrt(1/n_r + 1/n_h)),
    s_p^2 = ((n_h - 1) s_h^2 + (n_r - 1) s_r^2) / (n_h + n_r - 2)

then follows Student's t with ``n_h + n_r - 2`` degrees of freedom, so ``P(T <= t)`` is an exact p-value.
The warning fires when

* the customer has at least :data:`MIN_HISTORY` past and :data:`MIN_RECENT` recent purchase orders,
* the p-value is below :data:`ALPHA` (0.01), and
* the recent geometric mean order value is at least :data:`MIN_DROP` (15%) below the historical one, so a
  statistically clear but commercially trivial dip is not reported.

False-alarm rate: under the null the test alone fires with probability exactly ``ALPHA`` = 1% per eligible
customer; the 15% floor lowers it further. Measured on the simulator (``tests/signals/test_accuracy.py``) the
rule fires on 0.2-0.5% of untouched eligible customers, and the test asserts it stays below 1%.

Value at risk: the margin lost in a year if the lower order value persists,
``orders per year x (historical AOV - recent AOV) x historical margin rate``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from keepwise import features
from keepwise.signals.inputs import SignalInputs

__all__ = ["ALPHA", "KIND", "MIN_DROP", "MIN_HISTORY", "MIN_RECENT", "detect"]

KIND = "aov_decline"
ALPHA = 0.01
MIN_DROP = 0.15
MIN_HISTORY = 4
MIN_RECENT = 2


def decline_test(stats_frame: pd.DataFrame) -> pd.DataFrame:
    """Run the one-sided pooled t-test on per-customer log-value statistics.

    Parameters
    ----------
    stats_frame:
        The columns of :func:`keepwise.features.aov_windows`.

    Returns
    -------
    pandas.DataFrame
        The input with ``t``, ``df``, ``p_value``, ``ratio`` (recent / historical geometric mean),
        ``fires``.
    """
    d = stats_frame.copy()
    n_h = d["n_h"].astype(float).to_numpy()
    n_r = d["n_r"].astype(float).to_numpy()
    ss_h = np.nan_to_num(d["var_log_h"].astype(float).to_numpy()) * np.maximum(n_h - 1, 0)
    ss_r = np.nan_to_num(d["var_log_r"].astype(float).to_numpy()) * np.maximum(n_r - 1, 0)
    dof = n_h + n_r - 2
    eligible = (n_h >= MIN_HISTORY) & (n_r >= MIN_RECENT)
    with np.errstate(divide="ignore", invalid="ignore"):
        sp = np.sqrt((ss_h + ss_r) / dof)
        diff = d["mean_log_r"].astype(float).to_numpy() - d["mean_log_h"].astype(float).to_numpy()
        t = diff / (sp * np.sqrt(1 / n_r + 1 / n_h))
        t = np.where(sp > 0, t, np.where(diff < 0, -np.inf, 0.0))
        p = np.where(eligible, stats.t.cdf(t, np.maximum(dof, 1)), np.nan)
    d["t"] = t
    d["df"] = dof
    d["p_value"] = p
    d["ratio"] = np.exp(diff)
    d["fires"] = eligible & (p < ALPHA) & (d["ratio"] <= 1 - MIN_DROP)
    return d


def detect(inputs: SignalInputs) -> pd.DataFrame:
    """Customers whose recent order values fell, with evidence and value at risk.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``kind``, ``evidence``, ``value_at_risk`` (float), ``p_value``.
    """
    win = features.aov_windows(inputs.orders, inputs.period.recent_start).to_pandas()
    d = decline_test(win)
    d = d[d["fires"]].merge(inputs.summary[["customer_id", "orders_per_year", "lost"]], on="customer_id")
    d = d[~d["lost"]]
    margin_rate = (d["margin_h"] / d["revenue_h"]).clip(lower=0, upper=1).fillna(0)
    var = d["orders_per_year"] * (d["aov_h"] - d["aov_r"]).clip(lower=0) * margin_rate
    evidence = [
        f"average order fell from ${h:,.2f} ({int(nh)} orders before) to ${r:,.2f} ({int(nr)} orders in the "
        f"last 3 months), {100 * (1 - q):.0f}% lower; a fall this large happens by chance with probability "
        f"{p:.2g}"
        for h, nh, r, nr, q, p in zip(
            d["aov_h"], d["n_h"], d["aov_r"], d["n_r"], d["ratio"], d["p_value"], strict=True
        )
    ]
    return pd.DataFrame(
        {
            "customer_id": d["customer_id"].to_numpy(),
            "kind": KIND,
            "evidence": evidence,
            "value_at_risk": var.to_numpy(dtype=float),
            "p_value": d["p_value"].to_numpy(dtype=float),
        }
    )
