"""Warning ``aov_decline``: the customer's order value has been falling over the last three months.

The rule
--------
For each customer, regress the natural log of every purchase order's value on a month number ``k``: 0 for
orders before the last three calendar months, and 1, 2, 3 for orders in the third-last, second-last and last
month. The slope ``b`` is the change in log order value per month of the recent window (``exp(b) - 1`` is the
monthly change), judged against the customer's own history, which fixes the intercept. Under the null
hypothesis "nothing changed" the log values scatter around one level with the customer's own variance.

The customer's residual variance ``s^2`` (``n - 2`` degrees of freedom) is moderated towards the variance
``s0^2`` pooled over all customers, with :data:`PRIOR_DF` prior degrees of freedom, as in the moderated
t-statistic of Smyth (2004)::

    s~^2 = ((n - 2) s^2 + d0 s0^2) / (n - 2 + d0),    t = b / (s~ / sqrt(S_kk)),    t ~ t(n - 2 + d0)

so a customer with few orders is judged with a sensible noise level. The warning fires when

* the customer has at least :data:`MIN_HISTORY` past and :data:`MIN_RECENT` recent purchase orders,
* the one-sided p-value ``P(T <= t)`` is below :data:`ALPHA` (0.03), and
* the recent geometric mean order value is at least :data:`MIN_DROP` (15%) below the historical one.

False-alarm rate: under the null the t-test fires on a fraction ``ALPHA`` (3%) of eligible customers (a
little more when order values are skewed on the log scale, as gamma spend is); measured on the simulator
(``tests/signals/test_accuracy.py``, 10,000 customers) the rule fires on 0.35% of the untouched customers
(seed 11; 0.43% and 0.55% with seeds 7 and 3), about 3% of those eligible for the test, and the test asserts
the rate stays below 1%. The level is chosen at the edge of what the data allow: with per-order noise of about
40% (gamma spend of shape 6) and 4-8 orders in three months, a 20%-a-month decline is detected about half the
time at this level; precision 0.87 and recall 0.81 on seed 11 (0.84/0.82 and 0.81/0.80 on seeds 7 and 3).

Value at risk: the margin lost in a year if the lower order value persists,
``orders per year x (historical AOV - recent AOV) x historical margin rate``.

References
----------
Smyth, G. K. (2004). Linear models and empirical Bayes methods for assessing differential expression in
microarray experiments. Statistical Applications in Genetics and Molecular Biology 3(1), article 3.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import stdtr

from keepwise import features
from keepwise.config import ReviewAssumptions
from keepwise.money import shown
from keepwise.signals.customers import aov_columns
from keepwise.signals.inputs import SignalInputs, to_frame

__all__ = ["ALPHA", "KIND", "MIN_DROP", "MIN_HISTORY", "MIN_RECENT", "PRIOR_DF", "decline_test", "detect"]

KIND = "aov_decline"
ALPHA = ReviewAssumptions.aov_alpha  # defaults; keepwise.toml [review] overrides them
PRIOR_DF = 10.0
MIN_DROP = ReviewAssumptions.aov_min_drop
MIN_HISTORY = 4
MIN_RECENT = 2


def decline_test(stats_frame: pd.DataFrame, alpha: float = ALPHA, min_drop: float = MIN_DROP) -> pd.DataFrame:
    """Run the moderated one-sided trend test on per-customer sufficient statistics.

    Parameters
    ----------
    stats_frame:
        The columns of :func:`keepwise.features.aov_windows`.
    alpha, min_drop:
        The p-value the trend test must beat and the least relative fall of the average order.

    Returns
    -------
    pandas.DataFrame
        The input with ``slope`` (per month, log scale), ``t``, ``p_value``, ``ratio`` (recent / historical
        geometric mean order value) and ``fires``.
    """
    d = stats_frame.copy()
    n = d["n"].astype(float).to_numpy()
    sk, skk = d["sk"].astype(float).to_numpy(), d["skk"].astype(float).to_numpy()
    sy, syy, sky = (d[c].astype(float).to_numpy() for c in ("sy", "syy", "sky"))
    with np.errstate(divide="ignore", invalid="ignore"):
        s_kk = skk - sk**2 / n
        s_ky = sky - sk * sy / n
        s_yy = syy - sy**2 / n
        slope = s_ky / s_kk
        dof = n - 2
        s2 = np.maximum(s_yy - slope * s_ky, 0.0) / dof
        usable = (dof >= 1) & (s_kk > 0) & np.isfinite(s2)
        s0 = float(np.average(s2[usable], weights=dof[usable])) if usable.any() else 1.0
        s2m = (np.where(usable, s2 * dof, 0.0) + PRIOR_DF * s0) / (np.maximum(dof, 0) + PRIOR_DF)
        t = slope / np.sqrt(s2m / s_kk)
        eligible = (d["n_h"].to_numpy() >= MIN_HISTORY) & (d["n_r"].to_numpy() >= MIN_RECENT) & usable
        p = np.where(eligible, stdtr(np.maximum(dof, 0) + PRIOR_DF, t), np.nan)
        ratio = np.exp(d["mean_log_r"].astype(float).to_numpy() - d["mean_log_h"].astype(float).to_numpy())
    d["slope"] = slope
    d["t"] = t
    d["p_value"] = p
    d["ratio"] = ratio
    d["fires"] = eligible & (p < alpha) & (ratio <= 1 - min_drop)
    return d


def detect(inputs: SignalInputs) -> pd.DataFrame:
    """Customers whose recent order values fell, with evidence and value at risk.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``kind``, ``evidence``, ``value_at_risk`` (float), ``p_value``.
    """
    if inputs.customer_rows is not None:  # the review's customer table holds the same sums
        win = aov_columns(inputs.customer_rows)
    else:
        win = to_frame(features.aov_windows(inputs.orders, inputs.period.recent_start))
    d = decline_test(win, inputs.rules.aov_alpha, inputs.rules.aov_min_drop)
    d = d[d["fires"]].merge(inputs.summary[["customer_id", "orders_per_year", "lost"]], on="customer_id")
    d = d[~d["lost"]]
    margin_rate = (d["margin_h"] / d["revenue_h"]).clip(lower=0, upper=1).fillna(0)
    var = d["orders_per_year"] * (d["aov_h"] - d["aov_r"]).clip(lower=0) * margin_rate
    cur = inputs.currency
    evidence = [
        f"average order fell from {shown(h, cur)} ({int(nh)} orders before) to {shown(r, cur)} ({int(nr)} "
        "orders in the "
        f"last 3 months), {100 * (1 - q):.0f}% lower and falling month by month; a fall like this happens by "
        f"chance with probability {p:.2g}"
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
