"""Section ``[import]``: how ``keepwise import`` reads the exports of other tools."""

from __future__ import annotations

from dataclasses import dataclass, field

from keepwise.config.fields import about

__all__ = ["ImportAssumptions"]


@dataclass(frozen=True)
class ImportAssumptions:
    """Reading exports (section ``[import]``; ``Config.imports`` in Python, ``import`` being a keyword)."""

    timezone: str = field(
        default="",
        metadata=about(
            "Time zone of exports that write local times without a zone (Toggl, Harvest, Clockify, ...), "
            'e.g. "Europe/Warsaw"; empty: such an export needs --timezone. --timezone overrides it.',
            "no default on purpose: guessing UTC would shift every entry by the business's offset",
        ),
    )
