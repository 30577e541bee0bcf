"""``keepwise run``: the monthly loop equals the commands run in order, continues after a failure, locks."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from ops_kit import MONTH, RUN_RECORD, contents
from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.exceptions import BadInput
from keepwise.messages.outbox import LockBusy, StoreLock
from keepwise.operations import EXIT_BUSY, LOCK, RUN_STEPS, RUNS, STEPS, StepFailed, last_run, run
from keepwise.operations import steps as step_module
from keepwise.store import connect

#: Columns stamped with the wall clock or drawn at random when written: they differ between any two runs.
VOLATILE = (
    "written_at",
    "computed_at",
    "recorded_at",
    "created_at",
    "queued_at",
    "updated_at",
    "message_id",
    "token",
    "mime",
)


def _run(url: str, **kwargs: Any) -> Any:
    store = connect(url)
    try:
        return run(store, MONTH, **kwargs)
    finally:
        store.disconnect()


def test_run_stores_what_the_commands_store_in_order(store_copy: Callable[[str], str], tmp_path) -> None:
    by_run, by_hand = store_copy("run"), store_copy("hand")
    result = _run(by_run)
    assert [s.step for s in result.steps] == list(STEPS)
    assert {s.outcome for s in result.steps} == {"done"}
    cli = CliRunner()
    for args in (
        ["review", "--month", MONTH, "--html", str(tmp_path / "r.html")],
        ["clv", "--as-of", "2025-06-30"],
        ["profit", "--month", MONTH],
        ["profit", "--month", MONTH, "--view", "ttm"],
        ["winback", "--month", MONTH],
        ["outreach", "--month", MONTH],
    ):
        done = cli.invoke(app, [*args, "--db", by_hand])
        assert done.exit_code == 0, (args, done.output)
    # keepwise flows run also sends; the monthly run only queues (the daily keepwise messages send sends)
    from keepwise.messages import flows

    store = connect(by_hand)
    try:
        flows.run(store, as_of=flows.parse_as_of("2025-06-30"), send=False)
    finally:
        store.disconnect()
    ran = contents(by_run, skip=RUN_RECORD, volatile=VOLATILE)
    hand = contents(by_hand, skip=RUN_RECORD, volatile=VOLATILE)
    assert sorted(ran) == sorted(hand)
    written = [name for name in ran if name.startswith(("review_", "clv", "profit", "winback", "outreach"))]
    assert {"clv", "profit", "winback", "outreach_actions", "outbox", "stage_documents"} <= set(ran)
    assert written, "the run wrote the stages' tables"
    differ = {
        name: [c for c in ran[name].columns if not _same(ran[name][c], hand[name][c])]
        for name in ran
        if not ran[name].equals(hand[name])
    }
    assert {name: cols for name, cols in differ.items() if cols} == {}
    assert len(ran["outbox"]) > 0 and len(ran["clv"]) == 250


def test_a_failed_step_stops_the_run_and_the_rerun_does_each_step_once(
    store_copy: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = store_copy("fail")
    calls: Counter[str] = Counter()
    real = dict(step_module._FUNCTIONS)
    broken = {"profit": 1}

    def counted(name: str) -> Callable[..., Any]:
        def step(*args: Any) -> Any:
            calls[name] += 1
            if broken.get(name):
                broken[name] -= 1
                raise RuntimeError("disk full")
            return real[name](*args)

        return step

    for name in STEPS:
        monkeypatch.setitem(step_module._FUNCTIONS, name, counted(name))
    with pytest.raises(StepFailed, match=r"step profit failed: disk full; .*keepwise run --month 2025-06"):
        _run(url)
    assert calls == Counter(review=1, clv=1, profit=1)
    second = _run(url)
    assert [(s.step, s.outcome) for s in second.steps] == [
        ("review", "skipped"),
        ("clv", "skipped"),
        ("profit", "done"),
        ("winback", "done"),
        ("outreach", "done"),
        ("flows", "done"),
    ]
    # each step's work done once: profit's first call raised before its front door did anything
    assert calls == Counter(review=1, clv=1, profit=2, winback=1, outreach=1, flows=1)
    third = _run(url)
    assert {s.outcome for s in third.steps} == {"skipped"}
    assert sum(calls.values()) == 7
    store = connect(url, read_only=True)
    try:
        runs = store.read(RUNS).sort_values("started_at")
        assert list(runs.outcome) == ["failed", "done", "done"]
        assert "step profit failed" in runs.message.iloc[0]
        record = store.read(RUN_STEPS)
        assert sorted(record.step) == sorted(STEPS) and set(record.outcome) == {"done"}
        latest = last_run(store)
        assert latest is not None and latest["outcome"] == "done" and latest["month"] == MONTH
        assert store.read("locks", where={"name": LOCK}).empty, "the lock is given back"
    finally:
        store.disconnect()


def test_dry_run_writes_nothing(store_copy: Callable[[str], str]) -> None:
    url = store_copy("dry")
    before = contents(url)
    result = _run(url, dry_run=True)
    assert result.run_id is None and [s.outcome for s in result.steps] == ["done"] * len(STEPS)
    assert re.match(r"\d+ messages due", result.steps[-1].headline)
    after = contents(url)
    assert sorted(before) == sorted(after)
    for name in before:
        assert before[name].equals(after[name]), name


def test_a_second_run_while_one_holds_the_lock_is_refused(store_copy: Callable[[str], str]) -> None:
    url = store_copy("lock")
    store = connect(url)
    other = StoreLock(store, LOCK, timedelta(hours=1))  # another run (this process: alive) holds it
    other.acquire()
    try:
        with pytest.raises(LockBusy, match=r"another run .* holds the 'run' lock"):
            run(store, MONTH)
        assert not store.has_table(RUNS), "nothing was done"
    finally:
        store.disconnect()
    done = CliRunner().invoke(app, ["run", "--db", url])
    assert done.exit_code == EXIT_BUSY
    assert "busy: another run" in done.output and "nothing was done" in done.output


def test_the_command_exits_1_on_a_failed_step_and_2_on_a_bad_option(
    store_copy: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = store_copy("cli")

    def fails(*args: Any) -> Any:
        raise RuntimeError("engine gone")

    monkeypatch.setitem(step_module._FUNCTIONS, "review", fails)
    cli = CliRunner()
    done = cli.invoke(app, ["run", "--month", MONTH, "--steps", "review,clv", "--db", url])
    assert done.exit_code == 1
    assert "error: step review failed: engine gone" in done.output
    bad = cli.invoke(app, ["run", "--steps", "review,nope", "--db", url])
    # keepwise.cli.main turns a BadInput into one line and exit 2 (tests/test_cli.py); nothing ran before it
    assert isinstance(bad.exception, BadInput) and "'nope' is not a step" in str(bad.exception)


def test_the_flows_step_of_a_store_without_e_mail_addresses_says_so(store_copy: Callable[[str], str]) -> None:
    url = store_copy("no_email")
    store = connect(url)
    try:
        store.update("customers", {"email": None}, {})
        result = run(store, MONTH, steps="flows")
        assert [(s.step, s.outcome) for s in result.steps] == [("flows", "done")]
        assert result.steps[0].headline == "no messages: no customer has an e-mail address"
        assert result.steps[0].notes[0].startswith("customers.email: no customer has one")
        assert store.count("outbox") == 0
    finally:
        store.disconnect()


def _same(a: pd.Series, b: pd.Series) -> bool:
    """Equal, floats to 1e-6 relative: the purchase model's fit varies by ~1e-9 between two runs (DuckDB's
    GROUP BY order feeds the optimiser its histogram in a different order), as in tests/golden."""
    if a.equals(b):
        return True
    if pd.api.types.is_float_dtype(a) and pd.api.types.is_float_dtype(b):
        return bool(np.allclose(a.to_numpy(), b.to_numpy(), rtol=1e-6, atol=0, equal_nan=True))
    return False
