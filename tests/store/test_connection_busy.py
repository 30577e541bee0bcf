"""Opening a DuckDB store another process holds (issue 21, item 6): wait with a message, or refuse at once.

A real second process holds the file (no mocks). ``connect(wait=0)``, as the dashboard opens the store,
raises :class:`StoreBusy` at once; a command's ``connect()`` waits ``KEEPWISE_LOCK_TIMEOUT`` seconds, says so
once on stderr, then raises it with one line; readers share the file with readers.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from keepwise.exceptions import KeepwiseInputError
from keepwise.store import connect
from keepwise.store.connection import StoreBusy

HOLDER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=sys.argv[2] == "read")
print("holding", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def held(tmp_path):
    path = tmp_path / "held.duckdb"
    connect(f"duckdb:///{path}").disconnect()
    procs: list[subprocess.Popen[str]] = []

    def hold(mode: str) -> str:
        proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), mode], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "holding"
        return f"duckdb:///{path}"

    yield hold
    for proc in procs:
        proc.communicate("\n", timeout=30)


def test_a_store_another_process_writes_is_refused_at_once_with_wait_0(held, capsys):
    url = held("write")
    for read_only in (False, True):
        with pytest.raises(StoreBusy, match=r"is busy \(another process has it open\)$"):
            connect(url, read_only=read_only, wait=0)
    assert capsys.readouterr().err == ""  # the dashboard's refusal is silent: it answers 503


def test_a_command_waits_says_so_once_and_gives_up_in_one_line(held, capsys, monkeypatch):
    url = held("write")
    monkeypatch.setenv("KEEPWISE_LOCK_TIMEOUT", "0.5")
    with pytest.raises(StoreBusy) as caught:
        connect(url)
    assert isinstance(caught.value, KeepwiseInputError)  # the CLI's exit 2
    assert "\n" not in str(caught.value) and "still busy after 0.5 s" in str(caught.value)
    err = capsys.readouterr().err
    assert (
        err
        == "the store is busy (another process has it open); waiting up to 0.5 s (KEEPWISE_LOCK_TIMEOUT)\n"
    )


def test_readers_share_the_store_with_another_reader(held):
    url = held("read")
    store = connect(url, read_only=True, wait=0)
    try:
        assert store.count("customers") == 0
    finally:
        store.disconnect()
    with pytest.raises(StoreBusy):  # but a writer must wait for the reader
        connect(url, wait=0)
