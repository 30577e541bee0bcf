"""``keepwise run``: the whole monthly loop for one month, in order, once.

The run calls each step's front door (:mod:`keepwise.operations.steps`), which stores its own tables and
documents as the individual command does. Two tables of the store keep the run's own record:

``run_steps``
    One row per month and step (key ``month, step``): ``done`` or ``failed``, when, by which run, and the
    step's headline. A step's row is written right after the front door returns (the front doors commit
    their own transactions, and the flows step must commit its outbox before anything else happens). A
    crash between the two leaves the step undone; the rerun does it again, which writes the same rows: every
    step replaces its month's rows, and the flows' idempotency keys queue nothing twice.
``runs``
    One row per run: ``run_id``, ``month``, ``started_at``, ``ended_at``, ``steps``, ``outcome``
    (``running``, ``done`` or ``failed``) and ``message``; :func:`last_run` reads the latest for the
    dashboard.

A rerun of a month skips the steps already done for it (``again=True`` does them again), so a run that
stopped at a failed step continues from that step. The whole run holds the store lock ``run``
(:class:`keepwise.messages.outbox.StoreLock`): a second run while one is going on stops at once with
:class:`~keepwise.messages.outbox.LockBusy`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from keepwise.config import Config, load_config
from keepwise.exceptions import BadInput, KeepwiseError, KeepwiseInputError
from keepwise.messages.outbox import StoreLock
from keepwise.operations.steps import STEPS, step_function
from keepwise.store.store import Store, as_store

__all__ = [
    "EXIT_BUSY",
    "EXIT_FAILED",
    "EXIT_USER",
    "LOCK",
    "RUNS",
    "RUN_STEPS",
    "STEPS",
    "MonthlyRun",
    "StepFailed",
    "StepOutcome",
    "last_run",
    "parse_steps",
    "run",
]

#: The store lock a run holds (table ``locks``).
LOCK = "run"
#: How long the lease lasts without renewal; it is renewed after every step.
LOCK_TTL = timedelta(hours=6)
#: The table of runs, and the table of each month's steps.
RUNS = "runs"
RUN_STEPS = "run_steps"

#: Exit codes of ``keepwise run`` (and every keepwise command) for schedulers: a step failed (a fault) ...
EXIT_FAILED = 1
#: ... a user mistake (a bad option, an input the data lack, a missing setting): fix and rerun ...
EXIT_USER = 2
#: ... another run holds the lock, or the store is busy: nothing was done; try again later (EX_TEMPFAIL).
EXIT_BUSY = 75


class StepFailed(KeepwiseError):
    """A step of the run raised; the run stopped there and recorded it. ``user`` tells a user mistake."""

    def __init__(self, step: str, month: str, error: BaseException):
        self.step = step
        self.month = month
        self.error = error
        self.user = isinstance(error, KeepwiseInputError)
        first = (str(error).splitlines() or [""])[0] or type(error).__name__
        super().__init__(
            f"step {step} failed: {first}; the steps before it are stored, and "
            f"`keepwise run --month {month}` continues from it"
        )


@dataclass
class StepOutcome:
    """One step of a run: ``done``, ``skipped`` (already done for the month) or ``failed``."""

    step: str
    outcome: str
    headline: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "step": self.step,
            "outcome": self.outcome,
            "headline": self.headline,
            "seconds": round(self.seconds, 1),
            "notes": self.notes,
        }


@dataclass
class MonthlyRun:
    """What a run did: the month, each step's outcome, and the run's id and times (``None`` in a dry run)."""

    month: str
    steps: list[StepOutcome]
    dry_run: bool
    run_id: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def outcome(self) -> str:
        """``failed`` if a step failed, else ``done``."""
        return "failed" if any(s.outcome == "failed" for s in self.steps) else "done"

    def to_json(self) -> dict[str, Any]:
        """What ``keepwise run --json`` prints."""
        return {
            "month": self.month,
            "run_id": self.run_id,
            "dry_run": self.dry_run,
            "outcome": self.outcome,
            "started_at": None if self.started_at is None else self.started_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "steps": [s.to_json() for s in self.steps],
            "notes": self.notes,
        }


def parse_steps(text: str | Sequence[str] | None) -> list[str]:
    """The steps asked for (``"review,clv"`` or a list), in the loop's order; ``None``: all of them."""
    if text is None:
        return list(STEPS)
    names = [p.strip() for p in (text.split(",") if isinstance(text, str) else text) if p.strip()]
    unknown = [n for n in names if n not in STEPS]
    if unknown or not names:
        raise BadInput("steps", f"'{','.join(unknown)}' is not a step; the steps are {','.join(STEPS)}")
    return [s for s in STEPS if s in names]


def run(
    store: Store,
    month: str | None = None,
    *,
    steps: str | Sequence[str] | None = None,
    dry_run: bool = False,
    again: bool = False,
    config: Config | None = None,
    on_step: Callable[[str, int, int], None] | None = None,
) -> MonthlyRun:
    """Run the monthly loop for ``month``: each step's front door in order, each step once.

    Parameters
    ----------
    store:
        The store (DuckDB or PostgreSQL: the lock and the flows need transactions).
    month:
        ``YYYY-MM``; ``None``: the data's last complete month (as ``keepwise review``), said in the notes.
    steps:
        The steps to run (names of :data:`STEPS`, comma-separated or a list); default: all.
    dry_run:
        Compute every step without writing anything (no results, no record of the run, no lock).
    again:
        Do the steps already done for the month again.
    config:
        Settings; ``None`` reads ``keepwise.toml``.
    on_step:
        Called with ``(step, index, total)`` before each step (progress).

    Returns
    -------
    MonthlyRun
        Each step's outcome and headline.

    Raises
    ------
    LockBusy
        Another run holds the lock; nothing was done.
    StepFailed
        A step raised; the steps before it are stored and the failure is recorded.
    """
    from keepwise.signals.period import resolve_period

    store = as_store(store)
    chosen = parse_steps(steps)
    period, month_note = resolve_period(store, month)
    config = config or load_config()
    result = MonthlyRun(period.month, [], dry_run, notes=[str(month_note)] if month_note else [])
    if dry_run:
        _steps(store, result, chosen, config, again=again, on_step=on_step, lock=None)
        return result
    lock = StoreLock(store, LOCK, LOCK_TTL)
    lock.acquire()
    try:
        result.run_id = secrets.token_hex(6)
        result.started_at = datetime.now(UTC)
        _record_run(store, result, chosen, "running", "")
        try:
            _steps(store, result, chosen, config, again=again, on_step=on_step, lock=lock)
        except StepFailed as exc:
            result.ended_at = datetime.now(UTC)
            _record_run(store, result, chosen, "failed", str(exc))
            raise
        except BaseException as exc:  # interrupted, or the lock lost: the run is recorded as stopped
            result.ended_at = datetime.now(UTC)
            _record_run(store, result, chosen, "failed", f"stopped: {type(exc).__name__}: {exc}"[:500])
            raise
        result.ended_at = datetime.now(UTC)
        _record_run(store, result, chosen, "done", "")
    finally:
        lock.release()
    return result


def _steps(
    store: Store,
    result: MonthlyRun,
    chosen: list[str],
    config: Config,
    *,
    again: bool,
    on_step: Callable[[str, int, int], None] | None,
    lock: StoreLock | None,
) -> None:
    """Run (or skip) each chosen step in order, recording each completion right after its result."""
    done = {} if again else _done_steps(store, result.month)
    for i, name in enumerate(chosen):
        if name in done:
            result.steps.append(StepOutcome(name, "skipped", done[name]))
            continue
        if on_step is not None:
            on_step(name, i, len(chosen))
        started = datetime.now(UTC)
        clock = time.perf_counter()
        try:
            did = step_function(name)(store, result.month, config, result.dry_run)
        except Exception as exc:
            seconds = time.perf_counter() - clock
            failed = StepFailed(name, result.month, exc)
            result.steps.append(StepOutcome(name, "failed", str(failed), seconds))
            if not result.dry_run:
                _record_step(store, result, name, "failed", str(failed), started)
            raise failed from exc
        outcome = StepOutcome(name, "done", did.headline, time.perf_counter() - clock, did.notes)
        result.steps.append(outcome)
        if not result.dry_run:
            _record_step(store, result, name, "done", did.headline, started)
        if lock is not None:
            lock.renew()


def _done_steps(store: Store, month: str) -> dict[str, str]:
    """The steps done for ``month`` and their headlines."""
    if not store.has_table(RUN_STEPS):
        return {}
    rows = store.read(RUN_STEPS, where={"month": month, "outcome": "done"}, columns=["step", "headline"])
    return dict(zip(rows["step"].astype(str), rows["headline"].astype(str), strict=True))


def _record_step(
    store: Store, result: MonthlyRun, step: str, outcome: str, headline: str, at: datetime
) -> None:
    row = pd.DataFrame(
        {
            "month": [result.month],
            "step": [step],
            "outcome": [outcome],
            "run_id": [result.run_id or ""],
            "started_at": [at],
            "ended_at": [datetime.now(UTC)],
            "headline": [headline],
        }
    )
    store.upsert(RUN_STEPS, row, key=["month", "step"])


def _record_run(store: Store, result: MonthlyRun, chosen: list[str], outcome: str, message: str) -> None:
    started = result.started_at or datetime.now(UTC)
    row = pd.DataFrame(
        {
            "run_id": [result.run_id or ""],
            "month": [result.month],
            "started_at": [started],
            "ended_at": pd.Series([result.ended_at or pd.NaT], dtype="datetime64[us, UTC]"),
            "steps": [",".join(chosen)],
            "outcome": [outcome],
            "message": [message],
        }
    )
    store.upsert(RUNS, row, key=["run_id"])


def last_run(store: Store) -> dict[str, Any] | None:
    """The latest run recorded in the store (for the dashboard), or ``None`` when keepwise never ran."""
    store = as_store(store)
    if not store.has_table(RUNS):
        return None
    rows = store.read(RUNS)
    if rows.empty:
        return None
    row = rows.sort_values("started_at").iloc[-1]
    out = {k: row[k] for k in ("run_id", "month", "steps", "outcome", "message")}
    for k in ("started_at", "ended_at"):
        out[k] = None if pd.isna(row[k]) else pd.Timestamp(row[k]).isoformat()
    return out
