"""What every importer shares: the adapter's shape, the rows it maps, and the problems it reports.

An adapter reads one export (a :class:`pandas.DataFrame` of text, one row per line of the file, with ``_row``:
the row as a spreadsheet numbers it, header = row 1) and returns a :class:`Mapped`: frames in the contract's
columns plus, on each row, who the customer is in the export's own terms (``_email``, ``_ext`` for the
tool's customer id, ``_client`` for a client or organisation name, ``_name`` for a display name). The runner
(:mod:`keepwise.store.adapters.run`) matches those to customers and loads everything through
:mod:`keepwise.store.ingest`, exactly as ``keepwise load`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

__all__ = ["ROW", "WHO_COLUMNS", "Adapter", "Context", "Mapped", "Problem"]

#: The column holding a row's number in its file (spreadsheet numbering: the header is row 1).
ROW = "_row"
#: Columns an adapter fills to say who a row belongs to, in the export's own terms.
WHO_COLUMNS = ("_email", "_ext", "_client", "_name")


@dataclass(frozen=True)
class Problem:
    """Something found in an export that was not loaded, or not loaded as it stood, and why."""

    kind: str  # guest, ambiguous, unmatched, skipped
    message: str
    file: str
    rows: tuple[int, ...] = ()
    column: str | None = None
    count: int = 1

    def as_dict(self) -> dict[str, object]:
        """Plain data for JSON output (at most the first ten rows are listed)."""
        return {
            "kind": self.kind,
            "message": self.message,
            "file": self.file,
            "column": self.column,
            "count": self.count,
            "rows": list(self.rows[:10]),
        }

    def __str__(self) -> str:
        rows = ", ".join(str(r) for r in self.rows[:5]) + (", ..." if len(self.rows) > 5 else "")
        where = f"{self.file}, row{'s' if len(self.rows) > 1 else ''} {rows}" if self.rows else self.file
        column = f", column '{self.column}'" if self.column else ""
        times = f" ({self.count:,} rows)" if self.count > 1 else ""
        return f"{where}{column}: {self.message}{times}"


@dataclass(frozen=True)
class Context:
    """What an adapter may need besides the file: the store's time zone for local times, and options."""

    file: Path
    timezone: str | None = None
    date_format: str | None = None

    @property
    def name(self) -> str:
        """The file's name, as errors show it."""
        return self.file.name


@dataclass
class Mapped:
    """An export mapped onto the contract: one frame per table, each with ``_row`` and the who-columns.

    ``columns`` names, per table and contract column, the export's column it came from (errors found by the
    load are reported against the export's column). ``skipped`` counts rows left out on purpose (cancelled
    orders, failed charges, merged tickets) by reason; ``problems`` lists what could not be used.
    """

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    columns: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    charges: pd.DataFrame | None = None
    consent: pd.DataFrame | None = None

    def skip(self, reason: str, count: int) -> None:
        """Count ``count`` rows left out for ``reason``."""
        if count:
            self.skipped[reason] = self.skipped.get(reason, 0) + int(count)


@dataclass(frozen=True)
class Adapter:
    """One export format: its name, where to find it in the tool, its columns and how to map it.

    ``reads`` lists every column the adapter uses. ``required`` columns must all be in the header (a file
    without them is refused, naming them, and the adapter that fits is suggested). ``signature`` columns
    identify the format for ``keepwise import detect`` (the more a header has, the better the fit).
    ``creates_customers`` says whether rows whose customer is not known yet make new customers (orders,
    payments) or are reported (time, tickets).
    """

    name: str
    title: str
    where: str
    required: tuple[tuple[str, ...], ...]
    signature: tuple[str, ...]
    reads: tuple[str, ...]
    map: Callable[[pd.DataFrame, Context], Mapped]
    creates_customers: bool = True
    needs_timezone: bool = False
    source: str = ""

    @property
    def source_name(self) -> str:
        """The source's name in ids (``shopify`` in ``shopify:#1001``) and in ``import_ids``."""
        return self.source or self.name.split("-")[0]

    def missing(self, header: list[str]) -> list[str]:
        """Required columns absent from ``header`` (each requirement may have alternatives: a|b)."""
        present = {h.strip().lower() for h in header}
        return [" or ".join(alts) for alts in self.required if not any(a.lower() in present for a in alts)]

    def fit(self, header: list[str]) -> float:
        """How well ``header`` fits this format: the share of its signature columns present (0 to 1)."""
        present = {h.strip().lower() for h in header}
        if self.missing(header):
            return 0.0
        return sum(1 for s in self.signature if s.lower() in present) / len(self.signature)
