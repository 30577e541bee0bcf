"""kill -9 in the middle of a batch, restart: the SMTP server receives every queued message exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pandas as pd

from keepwise.messages.prepare import prepare, queue
from keepwise.store import connect
from keepwise.store.connection import duckdb_connection
from keepwise.store.ingest import load_frame

from .conftest import NOW, SECRET

N = 12


def _queue_batch(url: str, cfg) -> list[str]:
    store = connect(url)
    ids = [f"K{i:02d}" for i in range(N)]
    load_frame(
        store,
        "customers",
        pd.DataFrame(
            {
                "customer_id": ids,
                "name": ids,
                "email": [f"{c.lower()}@example.com" for c in ids],
                "language": ["en", "pl"] * (N // 2),
            }
        ),
    )
    load_frame(
        store,
        "consent",
        pd.DataFrame(
            {"customer_id": ids, "channel": "email", "purpose": "marketing", "granted_at": "2023-01-01"}
        ),
    )
    expected = []
    for c in ids:
        message, link = prepare(
            store, cfg, "winback", c, "lapse-2024-05", {"reason": None, "offer": None}, secret=SECRET, at=NOW
        )
        queue(store, cfg, message, link, at=NOW)
        expected.append(f"<{message.message_id}@kawa.example>")
    store.disconnect()
    return expected


def _start(tmp_path: Path, url: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "KEEPWISE_SECRET": SECRET}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "keepwise.cli",
            "messages",
            "send",
            "--smtp",
            f"127.0.0.1:{port}",
            "--db",
            url,
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _kill_after(proc: subprocess.Popen, handler, count: int) -> None:
    deadline = time.monotonic() + 60
    while len(handler.ids()) < count:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the sender made no progress"
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


def test_sigkill_mid_batch_then_restart_sends_each_message_exactly_once(tmp_path, cfg, smtp):
    handler, port = smtp
    (tmp_path / "keepwise.toml").write_text(
        '[messages]\nbusiness_name = "Kawa & Co"\nfrom_address = "hello@kawa.example"\n'
        'send_interval_seconds = "0.15"\nbackoff_seconds = "0.01"\n'
    )
    url = f"duckdb:///{tmp_path}/store.duckdb"
    expected = _queue_batch(url, cfg)

    _kill_after(_start(tmp_path, url, port), handler, 3)  # killed mid-batch
    first = len(handler.ids())
    assert 3 <= first < N
    _kill_after(_start(tmp_path, url, port), handler, first + 3)  # killed again after a restart
    assert len(handler.ids()) < N
    final = _start(tmp_path, url, port)
    _out, errors = final.communicate(timeout=120)
    assert final.returncode == 0, errors.decode()

    received = Counter(handler.ids())
    assert sorted(received) == sorted(expected)  # none lost
    assert set(received.values()) == {1}  # none twice
    store = connect(url)
    try:
        rows = (
            duckdb_connection(store).execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall()
        )
        locks = duckdb_connection(store).execute("SELECT count(*) FROM locks").fetchone()
    finally:
        store.disconnect()
    assert dict(rows) == {"sent": N}
    assert locks == (0,)
