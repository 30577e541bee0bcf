"""Warning ``overdue``: a customer has not ordered for much longer than their own rhythm predicts.

The rule
--------
*Regular* customers are those with at least :data:`MIN_GAPS` gaps between distinct purchase days and a
steady rhythm: the standard deviation of their log gaps is at most :data:`MAX_LOG_SD` (about a 50% typical
spread). Their gaps are modelled as log-normal with the customer's own mean ``m`` and standard deviation ``s``
of the log gaps; allowing for the uncertainty of both, the next gap of an active customer has the predictive
distribution ``log G = m + s sqrt(1 + 1/n) T_(n-1)``. The probability that an active customer's current
gap is at least as long as it is now is::

    p = 1 - F_t(n-1)((log(current gap) - m) / (s sqrt(1 + 1/n)))

and the warning fires when ``p`` is below :data:`THRESHOLD` (0.01) and the gap is at least
:data:`MIN_EXCESS` times the mean gap, in words "if they were still buying as before, a gap this long would
happen less than once in a hundred times".

For customers without a regular rhythm the rule uses P(alive) from the purchase model (BG/NBD) when it is
available: it fires when P(alive) is below :data:`P_ALIVE_THRESHOLD`.

Customers already in the lost-customer ledger are not warned about (they are lost, not slipping).

False-alarm rate: the probability is evaluated at one moment (the end of the review month) on the customer's
*current* gap; for an active customer observed at a random moment that gap is shorter than a full gap, so the
rate of firing on active regular customers is at most ``THRESHOLD``. Measured on the simulator
(``tests/signals/test_accuracy.py``, 10,000 customers, seed 11) it fires on none of the untouched customers
who were still buying (0.09% of all untouched customers: those few had in fact dropped out), and the test
asserts the rate stays below 1%.

Value at risk: the margin the customer brings in a year (all of it is at stake if they have stopped),
multiplied by 1 - P(alive) when the model is available.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import stdtr

from keepwise.config import ReviewAssumptions
from keepwise.signals.inputs import SignalInputs, _records

__all__ = [
    "KIND",
    "MAX_LOG_SD",
    "MIN_EXCESS",
    "MIN_GAPS",
    "P_ALIVE_THRESHOLD",
    "THRESHOLD",
    "detect",
    "gap_test",
]

FloatArray = npt.NDArray[np.float64]

KIND = "overdue"
MIN_GAPS = 4
MAX_LOG_SD = 0.5
THRESHOLD = ReviewAssumptions.overdue_threshold  # defaults; keepwise.toml [review] overrides them
MIN_EXCESS = ReviewAssumptions.overdue_min_excess
P_ALIVE_THRESHOLD = 0.3


def predictive_tail(n_gaps: Any, mean_log: Any, var_log: Any, current: Any) -> FloatArray:
    """P(next gap >= current) under a log-normal rhythm with estimated mean and variance (predictive t).

    ``log G = m + s sqrt(1 + 1/n) T_(n-1)`` with ``m``, ``s`` the mean and standard deviation of the ``n``
    observed log gaps; the standard deviation is floored at 0.05 (a 5% spread) so that a perfectly regular
    history does not make any delay look impossible.
    """
    n = np.asarray(n_gaps, dtype=float)
    sd = np.sqrt(np.nan_to_num(np.asarray(var_log, dtype=float), nan=0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.maximum(sd, 0.05) * np.sqrt(1 + 1 / n)
        z = (
            np.log(np.maximum(np.asarray(current, dtype=float), 1e-9)) - np.asarray(mean_log, dtype=float)
        ) / scale
        return np.asarray(stdtr(np.maximum(n - 1, 1), -z), dtype=float)


def gap_test(
    summary: pd.DataFrame, threshold: float = THRESHOLD, min_excess: float = MIN_EXCESS
) -> pd.DataFrame:
    """Probability of the current gap under each customer's own log-normal rhythm.

    Parameters
    ----------
    summary:
        Per-customer cadence columns (``n_gaps``, ``mean_log_gap``, ``var_log_gap``, ``mean_gap_days``,
        ``current_gap_days``).
    threshold, min_excess:
        How unlikely the current gap must be, and how many usual gaps long, for the warning to fire.

    Returns
    -------
    pandas.DataFrame
        The input with ``regular`` (bool), ``p_gap`` (NaN when not regular) and ``fires``.
    """
    d = summary.copy()
    n = d["n_gaps"].fillna(0).astype(float).to_numpy()
    sd = np.sqrt(np.nan_to_num(d["var_log_gap"].astype(float).to_numpy(), nan=np.inf))
    regular = (n >= MIN_GAPS) & (sd <= MAX_LOG_SD)
    current = d["current_gap_days"].astype(float).to_numpy()
    p = predictive_tail(n, d["mean_log_gap"], d["var_log_gap"], current)
    d["regular"] = regular
    d["p_gap"] = np.where(regular, p, np.nan)
    long_enough = current >= min_excess * d["mean_gap_days"].astype(float).to_numpy()
    d["fires"] = regular & (d["p_gap"] < threshold) & long_enough
    return d


def detect(inputs: SignalInputs) -> pd.DataFrame:
    """Overdue customers, with evidence and value at risk.

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``kind``, ``evidence``, ``value_at_risk`` (float), ``p_value``.
    """
    # only the columns the rule reads (the test copies its input: a million customers' whole summary)
    read = ["customer_id", "n_gaps", "mean_log_gap", "var_log_gap", "mean_gap_days", "current_gap_days"]
    read += ["n_orders", "annual_margin", "lost"]
    d = gap_test(inputs.summary[read], inputs.rules.overdue_threshold, inputs.rules.overdue_min_excess)
    d = d[~d["lost"]]
    if inputs.p_alive is not None:
        d = d.merge(inputs.p_alive[["customer_id", "p_alive"]], on="customer_id", how="left")
    else:
        d["p_alive"] = np.nan
    rows = []
    # only the columns the evidence reads: a dict of every summary column per customer costs more
    cols = ["customer_id", "mean_gap_days", "n_gaps", "current_gap_days", "p_gap", "annual_margin", "p_alive"]
    for r in _records(d.loc[d["fires"].to_numpy(dtype=bool), cols]):
        pa = r["p_alive"]
        loss = 1.0 if not np.isfinite(pa) else 1.0 - float(pa)
        rows.append(
            (
                r["customer_id"],
                f"usually orders every {r['mean_gap_days']:.0f} days ({int(r['n_gaps'])} gaps seen) "
                f"but has not ordered for {r['current_gap_days']:.0f} days; if they still bought as before, "
                f"a gap this long would happen with probability {r['p_gap']:.2g}",
                r["annual_margin"] * loss,
                r["p_gap"],
            )
        )
    if inputs.p_alive is not None:
        irregular = d[(~d["regular"]) & (d["p_alive"] < P_ALIVE_THRESHOLD) & (d["n_orders"] >= 2)]
        for r in _records(
            irregular[["customer_id", "n_orders", "current_gap_days", "annual_margin", "p_alive"]]
        ):
            rows.append(
                (
                    r["customer_id"],
                    f"no regular rhythm; {int(r['n_orders'])} orders, "
                    f"last one {r['current_gap_days']:.0f} days ago; "
                    f"the purchase model gives a {100 * r['p_alive']:.0f}% chance they are still a customer",
                    r["annual_margin"] * (1.0 - r["p_alive"]),
                    r["p_alive"],
                )
            )
    out = pd.DataFrame(rows, columns=["customer_id", "evidence", "value_at_risk", "p_value"])
    out.insert(1, "kind", KIND)
    return out
