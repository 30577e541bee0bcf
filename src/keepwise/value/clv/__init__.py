"""Customer lifetime value: the formulas (:mod:`.lifetime`) and the stage that values the store.

:func:`run` is the stage's front door: it fits the models on the store, values every customer and writes the
``clv`` table; :func:`customer_lifetime_value` and :func:`discounted_expected_purchases` are the formulas,
for fitted models and arrays.
"""

from keepwise.value.clv.lifetime import (
    DAYS_PER_MONTH,
    customer_lifetime_value,
    discounted_expected_purchases,
    monthly_rate,
    uses_dert,
)
from keepwise.value.clv.stage import TABLE, ClvResult, margin_rate, model_label, run, save_clv

__all__ = [
    "DAYS_PER_MONTH",
    "TABLE",
    "ClvResult",
    "customer_lifetime_value",
    "discounted_expected_purchases",
    "margin_rate",
    "model_label",
    "monthly_rate",
    "run",
    "save_clv",
    "uses_dert",
]
