"""Signals: early warnings per customer, the lost-customer ledger with reasons and cost, retention metrics.

The stage's front door is :func:`run` (store, month, assumptions -> :class:`SignalsResult`).
"""

from keepwise.signals.inputs import SignalInputs, prepare
from keepwise.signals.ledger import Ledger, build_ledger, lost_status
from keepwise.signals.metrics import compute_metrics
from keepwise.signals.period import ReviewPeriod, last_complete_month, parse_month
from keepwise.signals.stage import SignalsResult, run
from keepwise.signals.warnings import KINDS, RULES, detect_warnings

__all__ = [
    "KINDS",
    "RULES",
    "Ledger",
    "ReviewPeriod",
    "SignalInputs",
    "SignalsResult",
    "build_ledger",
    "compute_metrics",
    "detect_warnings",
    "last_complete_month",
    "lost_status",
    "parse_month",
    "prepare",
    "run",
]
