"""Features: Ibis expressions from the raw tables to one row per customer (or per customer and month).

Written once as Ibis expressions so that the same code runs on DuckDB and on Spark; the heavy group-bys stay
in the engine and only per-customer summaries come back to Python.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keepwise._lazy import exports

if TYPE_CHECKING:
    from keepwise.features.customer import (
        aov_means,
        aov_sums,
        aov_windows,
        cadence,
        category_cadence,
        category_mix,
        category_runs,
        monthly_aov,
        purchase_days,
        rfm,
    )
from keepwise.features.orders import order_lines, orders, priced_lines

__all__ = [
    "aov_means",
    "aov_sums",
    "aov_windows",
    "cadence",
    "category_cadence",
    "category_mix",
    "category_runs",
    "monthly_aov",
    "order_lines",
    "orders",
    "priced_lines",
    "purchase_days",
    "rfm",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "aov_means": "keepwise.features.customer",
        "aov_sums": "keepwise.features.customer",
        "aov_windows": "keepwise.features.customer",
        "cadence": "keepwise.features.customer",
        "category_cadence": "keepwise.features.customer",
        "category_mix": "keepwise.features.customer",
        "category_runs": "keepwise.features.customer",
        "monthly_aov": "keepwise.features.customer",
        "purchase_days": "keepwise.features.customer",
        "rfm": "keepwise.features.customer",
    },
)
