"""Warning ``dropped_category``: a customer stopped buying a product range they bought regularly.

The rule
--------
Number a customer's purchase orders ``1..N`` in time order. For a category ``c`` they bought, let
``L`` be the number of the last order containing ``c``, ``k = n_with`` how many orders contained it, and
``m = N - L`` the orders since then (all without ``c``: the customer kept buying other ranges). If the
customer still bought ``c`` as before, each order would contain it independently with probability
``q = k / L`` (its share of their orders up to the last one with it), so a run of ``m`` orders without it
has probability::

    p = (1 - q) ** m

The warning fires when the category was *regular* (at least :data:`MIN_ORDERS_WITH` orders and a share
``q >= MIN_SHARE``), ``p`` is below :data:`THRESHOLD` (0.01), and the customer has ordered in the last
:data:`RECENT_DAYS` days (otherwise they are slipping away altogether, which ``overdue`` and the ledger
cover).

False-alarm rate: for one category of an unchanged customer the run test fires with probability at most
``THRESHOLD`` (the run at a fixed moment is at most geometric); a customer is tested once per regular
category, so the per-customer rate is at most ``THRESHOLD x`` their number of regular categories (typically
1-3). Measured on the simulator (``tests/signals/test_accuracy.py``) it is below 2% of untouched customers,
which the test asserts.

Value at risk: the margin the category brought per year while the customer bought it (its margin over the
time from its first to its last purchase, at least 90 days).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from keepwise import features
from keepwise.signals.inputs import MIN_TENURE_DAYS, SignalInputs, _records

__all__ = ["KIND", "MIN_ORDERS_WITH", "MIN_SHARE", "RECENT_DAYS", "THRESHOLD", "detect", "run_test"]

KIND = "dropped_category"
MIN_ORDERS_WITH = 3
MIN_SHARE = 0.3
THRESHOLD = 0.01
RECENT_DAYS = 120


def run_test(runs: pd.DataFrame) -> pd.DataFrame:
    """The run-length test on :func:`keepwise.features.category_runs` rows.

    Returns
    -------
    pandas.DataFrame
        The input with ``share``, ``p_run`` and ``regular`` (the category qualified for the test).
    """
    d = runs.copy()
    k = d["n_with"].astype(float)
    last = d["last_idx"].astype(float)
    m = d["orders_after"].astype(float)
    d["share"] = k / last
    d["p_run"] = np.power(1 - d["share"], m)
    d["regular"] = (k >= MIN_ORDERS_WITH) & (d["share"] >= MIN_SHARE)
    return d


def detect(inputs: SignalInputs) -> pd.DataFrame:
    """Customers who dropped a regular product range, one row per customer (ranges combined).

    Returns
    -------
    pandas.DataFrame
        ``customer_id``, ``kind``, ``evidence``, ``value_at_risk`` (float), ``p_value``, ``categories``.
    """
    runs = features.category_runs(inputs.lines, inputs.orders)
    # only candidates come back: regular ranges followed by at least one order without them
    runs = runs.filter((runs.n_with >= MIN_ORDERS_WITH) & (runs.orders_after > 0)).to_pandas()
    d = run_test(runs)
    d = d[d["regular"] & (d["p_run"] < THRESHOLD)]
    s = inputs.summary[["customer_id", "recency_days", "lost"]]
    d = d.merge(s, on="customer_id")
    d = d[(~d["lost"]) & (d["recency_days"] <= RECENT_DAYS)]
    days = (pd.to_datetime(d["last_at"]) - pd.to_datetime(d["first_at"])).dt.total_seconds() / 86_400
    d = d.assign(cat_annual=d["margin"].astype(float) * 365.25 / np.maximum(days, MIN_TENURE_DAYS))
    rows = []
    for cid, g in d.groupby("customer_id", sort=False):
        parts = [
            f"bought {r['category']} in {int(r['n_with'])} of their first {int(r['last_idx'])} orders "
            f"but in none of the "
            f"{int(r['orders_after'])} since {pd.Timestamp(r['last_at']).date()} (chance if nothing changed: "
            f"{r['p_run']:.2g})"
            for r in _records(g)
        ]
        rows.append(
            (
                cid,
                "; ".join(parts) + "; still buying other ranges",
                float(g["cat_annual"].sum()),
                float(g["p_run"].min()),
                list(g["category"]),
            )
        )
    out = pd.DataFrame(rows, columns=["customer_id", "evidence", "value_at_risk", "p_value", "categories"])
    out.insert(1, "kind", KIND)
    return out
