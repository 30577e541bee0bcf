"""The overview says when the monthly loop (``keepwise run``) last ran, and how it ended (issue 19)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime

import pandas as pd
from fastapi.testclient import TestClient

from keepwise.operations import RUNS, last_run
from keepwise.store import connect
from keepwise.web import create_app

from .conftest import SECRET, TOKEN


def _copy(store_url: str, tmp_path) -> str:
    target = tmp_path / "store.duckdb"
    shutil.copyfile(store_url.removeprefix("duckdb:///"), target)
    return f"duckdb:///{target}"


def _overview(url: str, config) -> str:
    """The overview page as a signed-in browser gets it."""
    with TestClient(create_app(url, config)) as c:
        signed = c.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False)
        assert signed.status_code == 303
        got = c.get("/", follow_redirects=False)
        assert got.status_code == 200 and "Retention review: 2025-11" in got.text
        return got.text


def test_the_overview_shows_the_last_run_and_says_nothing_when_there_was_none(
    store_url, reviews, config, tmp_path, monkeypatch
):
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    url = _copy(store_url, tmp_path)
    assert 'id="last-run"' not in _overview(url, config)
    store = connect(url)
    try:
        assert last_run(store) is None
        rows = pd.DataFrame(
            {
                "run_id": ["r1", "r2"],
                "month": ["2025-10", "2025-11"],
                "started_at": [datetime(2025, 11, 2, 6, tzinfo=UTC), datetime(2025, 12, 2, 6, tzinfo=UTC)],
                "ended_at": [
                    datetime(2025, 11, 2, 6, 9, tzinfo=UTC),
                    datetime(2025, 12, 2, 6, 4, tzinfo=UTC),
                ],
                "steps": ["review,clv,profit,winback,outreach,flows"] * 2,
                "outcome": ["done", "failed"],
                "message": ["", "step profit failed: disk full"],
            }
        )
        store.upsert(RUNS, rows, key=["run_id"])
    finally:
        store.disconnect()
    page = _overview(url, config)
    line = page.split('id="last-run">', 1)[1].split("</p>", 1)[0]
    assert line == (
        "Monthly run (<code>keepwise run</code>) for 2025-11: failed, finished 2025-12-02 06:04 UTC: "
        "step profit failed: disk full."
    )
