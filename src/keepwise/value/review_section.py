"""Profitability as a document: the JSON of ``keepwise profit``, made in one place.

The document is built by :mod:`keepwise.value.profitability.document`; this module keeps the names the
review's profitability section, the web and older scripts import from here.

Money in these documents is a string with 2 decimal places (rounded half up from the exact 4-place amounts),
never a float; percentages are numbers.
"""

from __future__ import annotations

from keepwise.money import cents as money
from keepwise.value.profitability.document import customer_rows, profit_document

__all__ = ["customer_rows", "money", "profit_document"]
