"""A manager approves a win-back campaign in a real browser and finds the letters queued in the outbox.

Debian's Chromium through Playwright against a real uvicorn on loopback, on a copy of the web tests' store
(:mod:`tests.web.programs_kit`); the screenshots are saved under the test's temporary directory.
"""

from __future__ import annotations

import threading
import time

import pytest

from .conftest import MONTH, SECRET, TOKEN
from .programs_kit import programs_store, query, with_holdout
from .test_browser import _free_port


@pytest.fixture
def server(store_url, reviews, config, monkeypatch, tmp_path):
    import uvicorn

    from keepwise.web import create_app

    url = programs_store(store_url, tmp_path / "store.duckdb")
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    port = _free_port()
    app = create_app(url, with_holdout(config))
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", url
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.mark.browser
def test_a_manager_approves_a_campaign_and_sees_it_queued(server, offline_page, tmp_path):
    base, url = server
    opened = offline_page(allow=base)
    page = opened.page
    page.goto(f"{base}/winback?month={MONTH}")
    assert page.url.startswith(base + "/login")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector("#approve-form", timeout=30_000)
    boxes = page.locator("#approve-form input[type=checkbox][name=customer_id]")
    chosen = [boxes.nth(i).get_attribute("value") for i in range(8)]
    for i in range(8):
        boxes.nth(i).check()
    page.screenshot(path=str(tmp_path / "winback-approve.png"), full_page=True)
    page.click("#approve-campaign")
    page.wait_for_selector("#approval", timeout=30_000)
    assert page.url.startswith(base + "/outbox?state=queued&approval=wb-")
    page.screenshot(path=str(tmp_path / "outbox-after-approval.png"), full_page=True)
    shown_queued = int(page.locator("#approval-queued").get_attribute("data-value") or "-1")
    listed = set(
        page.locator("#outbox-table tbody tr[data-status=queued] td:first-child a").all_inner_texts()
    )
    tab = page.locator("#states a[data-state=queued]").get_attribute("data-count")

    marks = ", ".join("?" for _ in chosen)
    rows = query(url, f"SELECT customer_id, status FROM outbox WHERE customer_id IN ({marks})", chosen)
    queued = {c for c, s in rows if s == "queued"}
    assert queued and shown_queued == len(queued)
    assert listed == queued  # the outbox page shows exactly the letters the approval queued
    assert tab == str(len(queued))
    assert {c for c, _ in rows} <= set(chosen)

    page.goto(f"{base}/experiments")
    page.wait_for_selector("section.experiment", timeout=30_000)
    page.screenshot(path=str(tmp_path / "experiments.png"), full_page=True)
    page.click("section.experiment h2 a >> nth=0")
    page.wait_for_selector("#fig-effects .main-svg", timeout=30_000)
    page.screenshot(path=str(tmp_path / "experiment.png"), full_page=True)
    assert opened.errors == []
    assert opened.external == []
    assert all(
        (tmp_path / f).stat().st_size > 0 for f in ("winback-approve.png", "outbox-after-approval.png")
    )
