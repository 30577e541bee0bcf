"""Several processes on one PostgreSQL store at once: the dashboard serves while a load writes, two loads of
the same files do not duplicate a row, and a lock lease has one holder however many processes ask."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from keepwise.config import Config, WebAssumptions
from keepwise.datasets import simulate
from keepwise.store import connect
from keepwise.store.schema import load_order

SRC = Path(__file__).resolve().parents[2] / "src"
TOKEN = "pg-web-token-0123456789abcdef"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated business as Parquet files, ready for ``keepwise load DIR``."""
    biz = simulate(customers=600, months=24, seed=11)
    out = tmp_path_factory.mktemp("business")
    for name in load_order(set(biz.tables)):
        biz.tables[name].to_parquet(out / f"{name}.parquet", index=False)
    return out


def _load(folder: Path, url: str) -> subprocess.Popen[str]:
    """``keepwise load FOLDER --db URL --json`` in a process of its own."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    command = [sys.executable, "-m", "keepwise", "load", str(folder), "--db", url, "--json"]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _finish(proc: subprocess.Popen[str]) -> list[dict]:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    return list(json.loads(out))


def test_the_dashboard_answers_while_a_load_writes_and_sees_all_of_it_or_none(
    folder: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", "pg-secret-0123456789abcdef")
    config = replace(Config(), web=replace(WebAssumptions(), token=TOKEN))
    seen: list[tuple[int, int | None, bool]] = []  # status code, orders seen, whether the load still ran
    with TestClient(create_app(pg_url, config)) as client:
        client.headers["Authorization"] = f"Bearer {TOKEN}"
        proc = _load(folder, pg_url)
        while True:
            running = proc.poll() is None
            got = client.get("/api/status")
            rows = got.json()["tables"]["orders"]["rows"] if got.status_code == 200 else None
            seen.append((got.status_code, rows, running))
            if not running:
                break
        results = _finish(proc)
    orders = next(r for r in results if r["table"] == "orders")["rows"]
    assert {code for code, _, _ in seen} == {200}, seen
    assert sum(running for _, _, running in seen) >= 2, "no request was served while the load ran"
    assert {rows for _, rows, _ in seen} <= {0, orders}, "a reader saw part of a load"
    assert seen[-1][1] == orders > 0


def test_two_loads_of_the_same_files_at_once_store_each_row_once(folder: Path, pg_url: str):
    first, second = _load(folder, pg_url), _load(folder, pg_url)
    results = [_finish(first), _finish(second)]
    for table in ("customers", "orders", "consent"):  # one load wrote every row, the other found them
        counts = [next(r for r in done if r["table"] == table) for done in results]
        assert sorted(c["new"] for c in counts) == [0, counts[0]["rows"]], (table, counts)
    lines = next(r for r in results[0] if r["table"] == "orders")["rows"]
    store = connect(pg_url)
    try:
        keys = store.sql("SELECT count(*), count(DISTINCT (order_id, line_no)) FROM orders")
    finally:
        store.disconnect()
    assert keys == [(lines, lines)]


def test_a_lock_lease_has_one_holder_however_many_sessions_ask_at_once(pg_url: str):
    from keepwise.messages.outbox import LockBusy, StoreLock

    sessions = [connect(pg_url) for _ in range(4)]
    try:
        for round_ in range(3):
            gate = threading.Barrier(len(sessions))
            won: list[StoreLock] = []
            busy: list[str] = []

            def ask(store, name=f"job-{round_}", gate=gate, won=won, busy=busy) -> None:
                lock = StoreLock(store, name, timedelta(minutes=5))
                gate.wait()
                try:
                    lock.acquire()
                    won.append(lock)
                except LockBusy as exc:
                    busy.append(str(exc))

            threads = [threading.Thread(target=ask, args=(s,)) for s in sessions]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert len(won) == 1 and len(busy) == len(sessions) - 1, (won, busy)
            assert sessions[0].sql("SELECT count(*) FROM locks WHERE name = ?", [f"job-{round_}"]) == [(1,)]
            won[0].release()
    finally:
        for s in sessions:
            s.disconnect()


def test_sessions_asking_for_the_link_secret_at_once_agree_on_one(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
):
    from keepwise.store.secret import signing_secret

    monkeypatch.delenv("KEEPWISE_SECRET", raising=False)
    sessions = [connect(pg_url) for _ in range(4)]
    gate = threading.Barrier(len(sessions))
    found: list[str] = []

    def ask(store) -> None:
        gate.wait()
        found.append(signing_secret(store))

    try:
        threads = [threading.Thread(target=ask, args=(s,)) for s in sessions]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(found) == len(sessions) and len(set(found)) == 1 and len(found[0]) >= 32
        assert sessions[0].sql("SELECT count(*) FROM kw_secret") == [(1,)]
    finally:
        for s in sessions:
            s.disconnect()
