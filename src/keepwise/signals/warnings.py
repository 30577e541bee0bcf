"""All warning signs of a review month, one entry per customer and kind, ranked by value at risk."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from keepwise.signals import aov_decline, dropped_category, overdue, p_alive
from keepwise.signals.inputs import SignalInputs, money

__all__ = ["KINDS", "RULES", "detect_warnings"]

#: Each warning kind and the function that detects it; a rule returns ``customer_id``, ``kind``,
#: ``evidence``, ``value_at_risk`` (float) and ``p_value``.
RULES: dict[str, Callable[[SignalInputs], pd.DataFrame]] = {
    aov_decline.KIND: aov_decline.detect,
    overdue.KIND: overdue.detect,
    dropped_category.KIND: dropped_category.detect,
    p_alive.KIND: p_alive.detect,
}
KINDS: tuple[str, ...] = tuple(RULES)


def detect_warnings(inputs: SignalInputs, kinds: tuple[str, ...] = KINDS) -> pd.DataFrame:
    """Run every rule and rank the warnings by value at risk (largest first).

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``customer_id``, ``kind``, ``evidence``, ``value_at_risk`` (``Decimal``, cents),
        ``p_value``, ``annual_margin`` (``Decimal``: the margin the customer brings in a year).
    """
    frames = [RULES[k](inputs) for k in kinds]
    frames = [f[["customer_id", "kind", "evidence", "value_at_risk", "p_value"]] for f in frames if len(f)]
    cols = ["rank", "customer_id", "kind", "evidence", "value_at_risk", "p_value", "annual_margin"]
    if not frames:
        return pd.DataFrame(columns=cols)
    w = pd.concat(frames, ignore_index=True)
    w = w.merge(inputs.summary[["customer_id", "annual_margin"]], on="customer_id", how="left")
    w = w.sort_values(["value_at_risk", "customer_id", "kind"], ascending=[False, True, True]).reset_index(
        drop=True
    )
    w["rank"] = range(1, len(w) + 1)
    w["value_at_risk"] = pd.Series([money(v) for v in w["value_at_risk"]], index=w.index, dtype=object)
    w["annual_margin"] = pd.Series([money(v) for v in w["annual_margin"]], index=w.index, dtype=object)
    return w[cols]
