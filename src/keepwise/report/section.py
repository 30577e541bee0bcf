"""One part of the review: what a section of :mod:`keepwise.report.sections` makes of a stage's results."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["Section"]


@dataclass
class Section:
    """One part of the review.

    Attributes
    ----------
    key:
        Name in the JSON document and in the report's anchors (``warnings``, ``lost``, ...).
    title:
        Heading in the report.
    headline:
        One sentence a manager reads first, with the money figure.
    data:
        JSON-able content (money as strings with two decimals).
    html:
        Fragment for the report (tables, figure ``div`` elements); may be empty.
    tables:
        DataFrames to write back to the store as ``review_<name>`` (a ``review_month`` column is added).
    """

    key: str
    title: str
    headline: str
    data: Any
    html: str = ""
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
