"""A copy of the web tests' reviewed store for the programs' tests, with a win-back ranking and experiments.

The programs' tests write (approvals queue messages, designs save experiments), so they work on their own
copy of the session's store and never change what the other web tests read.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import replace
from pathlib import Path

import duckdb

from keepwise.config import Config

from .conftest import MONTH, cli

#: The win-back flow's control group in these tests: half, so every test choice has some held out.
HOLDOUT_SHARE = 0.5

#: An experiment whose 12-month window has ended in the data, and one still measuring.
DONE, RUNNING = "vip-2024", "late-2025"


def programs_store(store_url: str, target: Path) -> str:
    """``store_url``'s store copied to ``target``, ranked (winback) and given two experiments, by the CLI."""
    source = Path(store_url.removeprefix("duckdb:///"))
    shutil.copyfile(source, target)
    url = f"duckdb:///{target}"
    for args in (
        ("winback", "--month", MONTH, "--top", "40", "--json"),
        (
            "experiment",
            "design",
            DONE,
            "--month",
            "2024-06",
            "--population",
            "top:200",
            "--seed",
            "3",
            "--json",
        ),
        ("experiment", "design", RUNNING, "--population", "top:100", "--json"),
    ):
        code, _, err = cli(*args, "--db", url)
        assert code == 0, err
    return url


def with_holdout(config: Config) -> Config:
    """``config`` with the win-back flow holding out :data:`HOLDOUT_SHARE` of its customers."""
    flows = {"winback": {"holdout_share": HOLDOUT_SHARE}}
    return replace(config, messages=replace(config.messages, flows=flows))


def draw(cause: str, customer_id: str) -> float:
    """The flows' keyed holdout draw, written out again: sha256 of ``flow:winback``, cause and customer."""
    digest = hashlib.sha256("\x1f".join(("flow:winback", cause, customer_id)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def query(url: str, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of ``sql`` on the store file, read-only (the test's own look at the tables)."""
    con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def cli_json(*args: str) -> dict:
    """``keepwise ARGS --json``'s document."""
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    return json.loads(out)
