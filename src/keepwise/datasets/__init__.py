"""Bundled and simulated data: CDNOW with its source, and a synthetic business with known truth."""

from keepwise.datasets.cdnow import cdnow_tables, load_cdnow, load_cdnow_master, load_cdnow_summary
from keepwise.datasets.simulate import SimulatedBusiness, simulate

__all__ = [
    "SimulatedBusiness",
    "cdnow_tables",
    "load_cdnow",
    "load_cdnow_master",
    "load_cdnow_summary",
    "simulate",
]
