"""The dashboard and the command line share one DuckDB file with a real second process (issue 21, item 6).

A second Python process holds the file open (for writing, as a load does, or read-only, as a dashboard
request does) until the test tells it to let go. Before the fix every request opened the store read-write: a
request during a load answered 400 "Conflicting lock", and a load during a request failed at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from keepwise.config import Config

from .conftest import TOKEN, api_token

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read")
print("holding", flush=True)
sys.stdin.readline()
con.close()
"""


class Holder:
    """A second process holding the DuckDB file open until :meth:`release`."""

    def __init__(self, path: str, mode: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", HOLDER, path, mode],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "holding"

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)


@pytest.fixture
def holder(store_url):
    held: list[Holder] = []

    def hold(mode: str) -> Holder:
        h = Holder(store_url.removeprefix("duckdb:///"), mode)
        held.append(h)
        return h

    yield hold
    for h in held:
        h.release()


@pytest.fixture
def app_client(store_url, reviews, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    with TestClient(create_app(store_url, Config()), base_url="http://127.0.0.1") as c:
        c.headers["Authorization"] = f"Bearer {api_token(store_url, 'admin')}"  # every route needs a login
        yield c


def test_reads_go_on_while_another_process_reads(app_client, holder):
    holder("read")  # e.g. a second dashboard worker in the middle of a slow page
    got = app_client.get("/api/status")
    assert got.status_code == 200, got.text
    assert app_client.get("/api/review").status_code == 200


def test_while_another_process_writes_the_api_answers_503_with_retry_after(app_client, holder, store_url):
    writer = holder("write")  # e.g. keepwise load
    for path in ("/api/status", "/api/profit", "/profit"):
        got = app_client.get(path)
        assert got.status_code == 503, (path, got.text)
        assert int(got.headers["retry-after"]) > 0
        if path.startswith("/api"):
            assert got.json() == {"error": "the store is busy (another keepwise process has it open); "
                                  "try again in a few seconds"}  # fmt: skip
    refused = app_client.post("/api/concession", json={"customer_id": "C0001", "cost": "1"})
    assert refused.status_code == 503
    writer.release()
    assert app_client.get("/api/status").status_code == 200


def _keepwise(*args: str, timeout: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "KEEPWISE_LOCK_TIMEOUT": timeout,
        "PYTHONPATH": str(Path(__file__).parents[2] / "src"),
    }
    return subprocess.Popen([sys.executable, "-m", "keepwise.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_a_command_on_a_busy_store_waits_then_gives_up_in_one_line(holder, store_url):
    holder("write")
    proc = _keepwise("status", "--db", store_url, timeout="1")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert lines[0].startswith("the store is busy (another process has it open); waiting up to 1 s")
    assert lines[-1] == (
        "error: the store is still busy after 1 s (another process has it open); try again when it has "
        "finished, or wait longer with KEEPWISE_LOCK_TIMEOUT=SECONDS"
    )
    assert "Traceback" not in err


def test_a_load_started_during_a_slow_request_waits_for_it_and_then_loads(tmp_path):
    import duckdb

    from keepwise.store import connect

    path = tmp_path / "own.duckdb"
    connect(f"duckdb:///{path}").disconnect()
    reader = Holder(str(path), "read")  # a dashboard request holding the store read-only
    try:
        (tmp_path / "late").mkdir()
        (tmp_path / "late" / "customers.csv").write_text("customer_id,name,currency\nLATE-1,Late Comer,USD\n")
        proc = _keepwise("load", str(tmp_path / "late"), "--db", f"duckdb:///{path}", timeout="60")
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith("the store is busy")  # it waits instead of failing
    finally:
        reader.release()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT name FROM customers").fetchall() == [("Late Comer",)]
    finally:
        con.close()


def test_with_a_token_the_busy_answer_still_needs_the_token(store_url, holder, monkeypatch):
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from keepwise.config import WebAssumptions
    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    holder("write")
    config = replace(Config(), web=replace(WebAssumptions(), token=TOKEN))
    with TestClient(create_app(store_url, config)) as c:
        assert c.get("/api/status").status_code == 401
        assert c.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 503
