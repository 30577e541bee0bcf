"""Bundled and simulated data: CDNOW (USD) and Online Retail (GBP), with sources; a simulated shop."""

from __future__ import annotations

from typing import TYPE_CHECKING

from keepwise._lazy import exports

if TYPE_CHECKING:
    from keepwise.datasets.cdnow import cdnow_tables, load_cdnow, load_cdnow_master, load_cdnow_summary
    from keepwise.datasets.online_retail import (
        load_online_retail,
        load_online_retail_lines,
        online_retail_tables,
    )
from keepwise.datasets.simulate import SimulatedBusiness, simulate

__all__ = [
    "SimulatedBusiness",
    "cdnow_tables",
    "load_cdnow",
    "load_cdnow_master",
    "load_cdnow_summary",
    "load_online_retail",
    "load_online_retail_lines",
    "online_retail_tables",
    "simulate",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "cdnow_tables": "keepwise.datasets.cdnow",
        "load_cdnow": "keepwise.datasets.cdnow",
        "load_cdnow_master": "keepwise.datasets.cdnow",
        "load_cdnow_summary": "keepwise.datasets.cdnow",
        "load_online_retail": "keepwise.datasets.online_retail",
        "load_online_retail_lines": "keepwise.datasets.online_retail",
        "online_retail_tables": "keepwise.datasets.online_retail",
    },
)
