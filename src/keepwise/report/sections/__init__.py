"""The review's sections, one module each, in the order of the report.

Each module has ``KEY`` (the section's name in the JSON document and the report), ``READS`` (the stage result
it reads, an attribute of :class:`keepwise.review.ReviewContext`) and ``section(ctx)``, which turns that
result into a :class:`~keepwise.report.section.Section` (or ``None`` when its input is absent: no outreach
saved, no conjoint study, nobody won or lost). The sections compute nothing: the review runs the stages.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from keepwise.report.section import Section
from keepwise.report.sections import conjoint, lost, metrics, outreach, profitability, warnings, wins

if TYPE_CHECKING:
    from keepwise.review import ReviewContext

__all__ = ["READS", "SECTIONS", "SectionProvider"]

SectionProvider = Callable[["ReviewContext"], Section | None]

_MODULES = (warnings, lost, metrics, profitability, wins, outreach, conjoint)

#: The report's sections in order: (key, section function).
SECTIONS: tuple[tuple[str, SectionProvider], ...] = tuple((m.KEY, m.section) for m in _MODULES)

#: The stage result each section reads (an attribute of :class:`keepwise.review.ReviewContext`).
READS: dict[str, str] = {m.KEY: m.READS for m in _MODULES}
