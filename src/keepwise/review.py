"""The monthly retention review: the loop's stages for one month, turned into a report and written back.

:func:`run_review` runs the stages of the loop for the month, in the loop's order (DESIGN.md): value
(profitability), signals (warnings, the lost-customer ledger, retention metrics), decisions (wins against
losses, the saved outreach plan) and the conjoint study saved last. Each section of the report
(:mod:`keepwise.report.sections`, one module per section) then turns one stage's result into a
:class:`~keepwise.report.section.Section`: a headline, JSON-able ``data`` (under the section's key in
``keepwise review --json``), an HTML fragment, and ``tables`` written back to the store as ``review_<name>``
with a ``review_month`` column, replacing that month's earlier rows, so the dashboard reads them. The review's
whole JSON document (what ``keepwise review --json`` prints, less the report file) is stored as
``review_document`` and each customer's P(alive) as ``review_p_alive``, for the dashboard and the API.

A section whose input is absent (no outreach saved, no conjoint study, nobody won or lost) is left out; any
other failure stops the review. The document's ``notes`` say what the review did without
(:class:`~keepwise.store.inventory.Note` objects): the optional inputs the store lacks, the month chosen when
none was given, and what a stage could not compute.

The review of a month reads nothing after the month's end and nothing of the wall clock: run on a store
whose history goes on for years, it gives the same document as on a copy of the store cut at the month's
end (``tests/realdata/test_as_of.py`` holds it to that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from keepwise import signals
from keepwise.config import Config, load_config, used
from keepwise.exceptions import KeepwiseInputError
from keepwise.jsonio import dumps, utf8
from keepwise.report.section import Section
from keepwise.report.sections import READS, SECTIONS, SectionProvider
from keepwise.report.sections import conjoint as conjoint_section
from keepwise.report.sections import outreach as outreach_section
from keepwise.report.sections import profitability as profitability_section
from keepwise.report.sections import wins as wins_section
from keepwise.signals import ReviewPeriod, SignalsResult
from keepwise.signals.period import resolve_period
from keepwise.store import Store, as_store
from keepwise.store.inventory import INPUTS, Note, inventory
from keepwise.store.memo import one_run
from keepwise.store.settings import quiet

if TYPE_CHECKING:
    from keepwise.decisions.wins import WinsLosses
    from keepwise.report.sections.conjoint import SavedStudy

__all__ = [
    "LOOP",
    "REVIEW_INPUTS",
    "SECTIONS",
    "Review",
    "ReviewContext",
    "Section",
    "SectionProvider",
    "run_review",
]

#: The stage results the review reads, in the loop's order: value, signals, decisions, conjoint.
LOOP: tuple[str, ...] = ("profit", "signals", "wins", "outreach", "conjoint")

#: The optional inputs (:data:`keepwise.store.inventory.INPUTS`) the review uses; each one missing is a note.
REVIEW_INPUTS: tuple[str, ...] = tuple(i.name for i in INPUTS if "review" in i.used_by)


class ReviewContext:
    """The review month, its store and the results of the loop's stages, each computed once when first read.

    Parameters
    ----------
    store:
        The store (a :class:`~keepwise.store.Store` or an Ibis backend).
    period:
        The review month.
    config:
        The assumptions (``keepwise.toml``); ``config.review`` holds the review's own rules.

    Attributes
    ----------
    sections:
        The sections produced so far, by key.
    """

    def __init__(self, store: Store, period: ReviewPeriod, config: Config | None = None):
        self.store: Store = as_store(store)
        self.period = period
        self.config = config or Config()
        self.sections: dict[str, Section] = {}

    def ran(self, stage: str) -> bool:
        """Whether the stage result ``stage`` (one of :data:`LOOP`) has been computed."""
        return stage in self.__dict__

    @cached_property
    def profit(self) -> dict[str, Any]:
        """Value: the month's and the twelve months' profitability (``report.sections.profitability``)."""
        return profitability_section.read(self)

    @cached_property
    def signals(self) -> SignalsResult:
        """Signals: warnings, the lost-customer ledger, retention metrics (:func:`keepwise.signals.run`)."""
        return signals.run(self.store, self.period, self.config)

    @cached_property
    def wins(self) -> WinsLosses | None:
        """Decisions: wins against losses over the twelve months (``None`` without the tables)."""
        return wins_section.read(self)

    @cached_property
    def outreach(self) -> dict[str, Any] | None:
        """Decisions: the saved outreach actions of the month and the month before (``None``: none saved)."""
        return outreach_section.read(self)

    @cached_property
    def conjoint(self) -> SavedStudy | None:
        """Conjoint: the study saved last (``None``: none saved)."""
        return conjoint_section.read(self)


@dataclass
class Review:
    """The result of :func:`run_review`.

    Attributes
    ----------
    period:
        The month reviewed.
    sections:
        The sections made, in order.
    notes:
        What a stage could not compute, in words (e.g. P(alive) when the purchase model failed).
    assumptions:
        The settings the review used (``[review]`` of ``keepwise.toml``).
    input_notes:
        The optional inputs the store lacks and what the review did instead, and the month chosen when none
        was given (:class:`~keepwise.store.inventory.Note`).
    """

    period: ReviewPeriod
    sections: list[Section]
    notes: list[str]
    assumptions: list[dict[str, Any]] = field(default_factory=list)
    input_notes: list[Note] = field(default_factory=list)

    @property
    def all_notes(self) -> list[Note]:
        """Every note as a :class:`~keepwise.store.inventory.Note`: the inputs' first, then the stages'."""
        instead = "left out of the review; the rest is computed"
        stages = [Note("signals", text, instead) for text in self.notes]
        return [*self.input_notes, *stages]

    @property
    def note_lines(self) -> list[str]:
        """Every note as one line for people (the report and the command's output)."""
        return [*(str(n) for n in self.input_notes), *self.notes]

    def section(self, key: str) -> Section | None:
        """The section called ``key``, if the review has it."""
        return next((s for s in self.sections if s.key == key), None)

    @property
    def headlines(self) -> list[str]:
        """Every section's headline, in order."""
        return [s.headline for s in self.sections]

    def to_json(self) -> dict[str, Any]:
        """The review as one JSON-able document: month, headlines, notes and each section's data by key."""
        doc: dict[str, Any] = {
            "month": self.period.month,
            "headlines": {s.key: s.headline for s in self.sections},
            "notes": [n.to_json() for n in self.all_notes],
            "assumptions": self.assumptions,
        }
        for s in self.sections:
            doc[s.key] = s.data
        return doc


def _period(store: Store, month: str | None) -> tuple[ReviewPeriod, Note | None]:
    """The review month: ``month``, or the data's last complete month (said in a note).

    A month before the first order is an error.
    """
    period, note = resolve_period(store, month)
    first = store.table("orders").ordered_at.min().to_pyarrow().as_py()
    if first is None:
        raise KeepwiseInputError("the store holds no orders; load some first (keepwise load DIR)")
    if pd.Timestamp(period.end) <= pd.Timestamp(first):
        raise KeepwiseInputError(
            f"month {period.month} is before the first order ({first:%Y-%m-%d}); pick a later one"
        )
    return period, note


def run_review(
    backend: Store,
    month: str | None = None,
    *,
    write: bool = True,
    sections: list[tuple[str, SectionProvider]] | None = None,
    config: Config | None = None,
) -> Review:
    """Run the review of one month.

    Parameters
    ----------
    backend:
        The store (:func:`keepwise.store.connect`).
    month:
        ``YYYY-MM``; default: the last complete calendar month in the orders (never the wall clock's), said
        in the notes.
    write:
        Write each section's tables back to the store as ``review_<name>``, and the review's document.
    sections:
        Sections to make instead of :data:`SECTIONS` (``(key, section function)`` pairs, in order).
    config:
        Assumptions (default: ``keepwise.toml`` in the working directory, else the documented defaults);
        the review's own rules are ``[review]``, and the report lists them.

    Returns
    -------
    Review
        The sections in order, and notes on what the store lacks and what could not be computed.
    """
    store = as_store(backend)
    with one_run(store):  # each figure computed once for the whole review (keepwise.store.memo)
        return _run_review(store, month, write=write, sections=sections, config=config)


def _run_review(
    store: Store,
    month: str | None,
    *,
    write: bool,
    sections: list[tuple[str, SectionProvider]] | None,
    config: Config | None,
) -> Review:
    """:func:`run_review` inside one run of the store."""
    cfg = config or load_config()
    period, month_note = _period(store, month)
    quiet(store)  # stdout belongs to --json
    chosen = list(SECTIONS) if sections is None else sections
    ctx = ReviewContext(store, period, cfg)
    needed = {READS.get(key) for key, _ in chosen}
    for stage in LOOP:  # the loop, in its order; a stage no chosen section reads is not run
        if stage in needed:
            getattr(ctx, stage)
    done: list[Section] = []
    for _, make in chosen:
        section = make(ctx)
        if section is not None:
            ctx.sections[section.key] = section
            done.append(section)
    notes = list(ctx.signals.notes) if ctx.ran("signals") else []
    missing = _missing_inputs(store, period)
    review = Review(
        period=period,
        sections=done,
        notes=notes,
        assumptions=used(cfg, "review"),
        input_notes=[n for n in (month_note, *missing) if n is not None],
    )
    p_alive = ctx.signals.p_alive if write and ctx.ran("signals") else None
    del ctx  # the stages' frames (every customer's summary, the ledger's Decimals) freed before writing
    if write:
        _write(store, review, p_alive)
    return review


#: The time stamp of each optional input whose rows are events: only those before the month's end count.
_STAMPED: dict[str, str] = {
    "time_logs": "started_at",
    "incidents": "opened_at",
    "exits": "lost_at",
    "advocacy": "at",
}


def _missing_inputs(store: Store, period: ReviewPeriod) -> list[Note]:
    """The notes of the inputs the review uses that the store lacks, as of the month's end.

    A table of events recorded only after the month (exits that all came later) is missing for this month's
    review as it would be on a store cut at the month's end.
    """
    inv = inventory(store)
    notes = inv.notes(*(name for name in REVIEW_INPUTS if name not in _STAMPED))
    for name, column in _STAMPED.items():
        if name not in REVIEW_INPUTS:
            continue
        n = 0
        if inv.has(name):
            t = store.table(name)
            before = t.filter(t[column] < period.end).aggregate(n=lambda x: x.count())
            n = int(store.to_pandas(before).iloc[0]["n"])
        if n == 0:
            spec = next(i for i in INPUTS if i.name == name)
            notes.append(Note(name, f"no rows before {period.end:%Y-%m-%d}", spec.without))
    order = {name: i for i, name in enumerate(REVIEW_INPUTS)}
    return sorted(notes, key=lambda n: order[n.input])


def _as_stored(frame: pd.DataFrame, *, arrow: bool = False) -> pd.DataFrame:
    """``frame`` with its object columns as text (``None`` kept): money reads the same on every engine.

    With ``arrow`` (DuckDB) the text columns are Arrow-backed: the engine reads them in one pass (a million
    customers' ids as Python objects cost seconds to hand over, and were copied value by value on the way);
    a column of nothing but text and ``None`` goes to Arrow as it is, without a ``str`` per value.
    """
    df = frame.copy()
    for col in df.columns:
        if df[col].dtype == object:
            if arrow and set(map(type, df[col])) <= _TEXT:  # already text: Arrow reads it in one call
                text = pd.arrays.ArrowExtensionArray(pa.array(df[col], type=pa.large_string()))
                df[col] = pd.Series(text, index=df.index)
                continue
            values = [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in df[col]]
            if arrow:  # straight to Arrow: numpy cannot hold the document of ten million customers as text
                text = pd.arrays.ArrowExtensionArray(pa.array(values, type=pa.large_string()))
                df[col] = pd.Series(text, index=df.index)
            else:
                df[col] = pd.Series(values, index=df.index, dtype=object)
    return df


#: The types a text column holds that :func:`_as_stored` hands to Arrow as they are (``str(v)`` is ``v``).
_TEXT = frozenset({str, type(None)})


def _write(store: Store, review: Review, p_alive: pd.DataFrame | None) -> None:
    """Write the sections' tables, the review's JSON document and P(alive) as ``review_<name>`` for the month.

    The dashboard and the API (the web app) read these instead of running the review again. All of them are
    written in one transaction (one commit). On DuckDB each table goes to the engine as an Arrow table (its
    text never turned into a Python object per value on the way) and the document as UTF-8 bytes written piece
    by piece (:func:`keepwise.jsonio.utf8`), never as one Python string; a section may hand its tables as
    pandas frames or as Arrow tables.
    """
    tables: dict[str, pd.DataFrame | pa.Table] = {
        name: frame for s in review.sections for name, frame in s.tables.items()
    }
    written_at = pd.Timestamp.now(tz="UTC").isoformat()
    if p_alive is not None:
        tables["p_alive"] = p_alive[["customer_id", "p_alive", "p_alive_prev"]]
    month = review.period.month
    with store.transaction():
        if store.is_duckdb:
            document = pa.table({"written_at": [written_at], "document": _text_array(utf8(review.to_json()))})
            store.replace_month("review_document", month, document)
            del document  # its bytes, before the tables are turned into Arrow
            for name, frame in tables.items():
                store.replace_month(f"review_{name}", month, _to_arrow(frame))
            return
        text = dumps(review.to_json(), indent=None)
        tables["document"] = pd.DataFrame({"written_at": [written_at], "document": [text]}, dtype=object)
        for name, frame in tables.items():
            rows = frame.to_pandas() if isinstance(frame, pa.Table) else frame
            store.replace_month(f"review_{name}", month, _as_stored(rows))


def _to_arrow(frame: pd.DataFrame | pa.Table) -> pa.Table:
    """A section's table as Arrow, the stored column types those of the frame (text for object columns)."""
    if isinstance(frame, pa.Table):
        return frame
    return pa.Table.from_pandas(_as_stored(frame, arrow=True), preserve_index=False)


def _text_array(data: bytearray) -> pa.Array:
    """One Arrow ``large_string`` value over the UTF-8 bytes ``data``, without copying them."""
    offsets = pa.array([0, len(data)], type=pa.int64()).buffers()[1]
    return pa.LargeStringArray.from_buffers(1, offsets, pa.py_buffer(data))
