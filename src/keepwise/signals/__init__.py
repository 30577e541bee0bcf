"""Signals: early warnings per customer, the lost-customer ledger with reasons and cost, retention metrics.

The stage's front door is :func:`run` (store, month, assumptions -> :class:`SignalsResult`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keepwise._lazy import exports

if TYPE_CHECKING:
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

__getattr__, __dir__ = exports(
    __name__,
    {
        "SignalInputs": "keepwise.signals.inputs",
        "prepare": "keepwise.signals.inputs",
        "Ledger": "keepwise.signals.ledger",
        "build_ledger": "keepwise.signals.ledger",
        "lost_status": "keepwise.signals.ledger",
        "compute_metrics": "keepwise.signals.metrics",
        "ReviewPeriod": "keepwise.signals.period",
        "last_complete_month": "keepwise.signals.period",
        "parse_month": "keepwise.signals.period",
        "SignalsResult": "keepwise.signals.stage",
        "run": "keepwise.signals.stage",
        "KINDS": "keepwise.signals.warnings",
        "RULES": "keepwise.signals.warnings",
        "detect_warnings": "keepwise.signals.warnings",
    },
)
