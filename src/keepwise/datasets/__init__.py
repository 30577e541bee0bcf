"""Bundled and simulated data: CDNOW (USD) and Online Retail (GBP), with sources; a simulated shop."""

from keepwise.datasets.cdnow import cdnow_tables, load_cdnow, load_cdnow_master, load_cdnow_summary
from keepwise.datasets.online_retail import load_online_retail, load_online_retail_lines, online_retail_tables
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
