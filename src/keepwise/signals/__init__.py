"""Signals: early warnings per customer, the lost-customer ledger with reasons and cost, retention metrics."""

from keepwise.signals.inputs import SignalInputs, prepare
from keepwise.signals.ledger import Ledger, build_ledger, lost_status
from keepwise.signals.metrics import compute_metrics
from keepwise.signals.period import ReviewPeriod, last_complete_month, parse_month
from keepwise.signals.warnings import KINDS, RULES, detect_warnings

__all__ = [
    "KINDS",
    "RULES",
    "Ledger",
    "ReviewPeriod",
    "SignalInputs",
    "build_ledger",
    "compute_metrics",
    "detect_warnings",
    "last_complete_month",
    "lost_status",
    "parse_month",
    "prepare",
]
