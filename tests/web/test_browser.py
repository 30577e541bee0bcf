"""The dashboard served by a real uvicorn on a free loopback port, driven by Debian's Chromium (Playwright).

Signs in through the form, opens the overview and checks that every chart drew its SVG with no console
error and no request leaving the machine (plotly.js comes from the server), then asks the concession form
and reads the recommendation, which must be the API's.
"""

from __future__ import annotations

import socket
import threading
import time
from decimal import Decimal

import pytest

from .conftest import TOKEN


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(store_url, reviews, config, monkeypatch):
    import uvicorn

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(store_url, config), host="127.0.0.1", port=port,
                                        log_level="warning"))  # fmt: skip
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.mark.browser
def test_sign_in_overview_charts_and_concession_form(server, offline_page, store_url):
    import httpx2 as httpx

    opened = offline_page(allow=server)
    page = opened.page
    page.goto(server + "/")
    assert page.url.startswith(server + "/login")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=30_000)
    heading = page.locator("h1").inner_text()
    n_plots = page.locator(".js-plotly-plot").count()
    rendered = page.locator(".js-plotly-plot .main-svg").count()
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
    heatmap = page.locator("#fig-cohorts .heatmaplayer image, #fig-cohorts .hm").count()
    first_warning = page.locator("#warnings-table tbody tr").first.locator("td").nth(1).inner_text()

    page.click("header a[href='/concession']")
    page.fill("#customer_id", "C0001")
    page.fill("#cost", "120")
    page.click("#concession-form button[type=submit]")
    page.wait_for_selector("#decision", timeout=60_000)
    decision = page.locator("#decision").inner_text()
    recommended = page.locator("#recommended").inner_text()
    reasons = page.locator("#reasons li").all_inner_texts()
    # ask -> decision -> record what was done (the same log as `keepwise concessions record`)
    decision_id = page.locator("#record-form input[name=decision_id]").get_attribute("value")
    amount = page.locator("#amount").input_value()
    did = "granted" if Decimal(amount) > 0 else "refused"
    page.select_option("#action", did)
    with page.expect_navigation():
        page.click("#record-form button[type=submit]")
    recorded = page.locator("#recorded").inner_text()
    errors, external = opened.errors, opened.external
    assert errors == []
    assert external == []
    assert heading.startswith("Retention review: ")
    assert n_plots >= 4 and rendered >= n_plots
    assert "Why customers left (Pareto)" in titles
    assert any(t.startswith("Retention by acquisition cohort") for t in titles)
    assert heatmap >= 1
    assert first_warning
    advice = httpx.post(
        server + "/api/concession",
        json={"customer_id": "C0001", "cost": "120"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    ).json()
    assert decision == advice["decision"].upper()
    assert recommended.replace("$", "").replace(",", "") == advice["recommended"]
    assert reasons == advice["reasons"]
    from keepwise.decisions.concession_log import logged
    from keepwise.store import connect

    store = connect(store_url, read_only=True)
    try:
        row = logged(store, decision_id)
    finally:
        store.disconnect()
    assert row["customer_id"] == "C0001" and row["action"] == did
    assert (row["granted"] == Decimal(amount)) if did == "granted" else row["granted"] in (None, 0)
    followed = (did == "granted") is (row["recommendation"] != "refuse")
    assert decision_id in recorded and ("following the advice" in recorded) is followed, recorded
