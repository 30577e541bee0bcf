"""Assumptions a business may not know, in one place: ``keepwise.toml`` in the working directory.

Each section of the file is a frozen dataclass here; each field declares its default, what it means and where
the default comes from (a paper, a convention, or "conservative: counts nothing you have not valued"). A
report that uses a section lists the figures it used with :func:`used`, so the reader sees every assumption
and whether it came from the file or from the default.

Adding a section for another part of keepwise: write a dataclass whose fields use :func:`about` in a module of
this package, add it as a field of :class:`Config` and to ``_SECTIONS`` (:mod:`keepwise.config.loading`).
Nothing else changes. A figure has one home: a section that reads a figure of another section declares it with
:func:`keepwise.config.fields.shared` (``[review]`` and ``[decisions]`` read ``[clv] discount_rate``).

Example ``keepwise.toml``::

    [value]
    reporting_currency = "USD"             # unset: the one currency of your records (several need fx)
    default_margin_rate = "0.3"            # lines without a unit cost; unset: their margin shown is revenue
    referral_value = "first_year_margin"   # or a fixed amount, e.g. "150.00"
    case_study_value = "500.00"
    review_value = "20.00"
    platinum_share = 0.05
    gold_share = 0.15
    lead_below_profit = "0"

    [value.fx]          # 1 unit of the currency is worth this much of the reporting currency
    EUR = "1.08"
    PLN = "0.25"

    [clv]
    horizon_months = 12
    discount_rate = 0.1 # the one annual rate: CLV, the review's value lost, the decisions
"""

from keepwise.config.clv import ClvAssumptions
from keepwise.config.decisions import DecisionAssumptions
from keepwise.config.experiments import ExperimentAssumptions
from keepwise.config.fields import CONFIG_FILE, about
from keepwise.config.imports import ImportAssumptions
from keepwise.config.loading import Config, load_config, used
from keepwise.config.messages import MessagesAssumptions
from keepwise.config.review import ReviewAssumptions
from keepwise.config.value import ValueAssumptions
from keepwise.config.web import WebAssumptions

__all__ = [
    "CONFIG_FILE",
    "ClvAssumptions",
    "Config",
    "DecisionAssumptions",
    "ExperimentAssumptions",
    "ImportAssumptions",
    "MessagesAssumptions",
    "ReviewAssumptions",
    "ValueAssumptions",
    "WebAssumptions",
    "about",
    "load_config",
    "used",
]
