"""The review's pages in Debian's Chromium (Playwright), served by a real uvicorn: drawn, offline, no errors.

Signs in, opens the overview, warnings, lost and settings pages, checks that each chart drew its SVG with no
console error and no request leaving the machine, that the figures shown are the CLI's, that the rep's
concession page fits a phone's width, and saves a screenshot of each page under the test's folder.
"""

from __future__ import annotations

import socket
import threading
import time
from decimal import Decimal

import pytest

from keepwise.money import shown

from .conftest import MONTH, TOKEN, cli


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served(store_url, reviews, config, monkeypatch):
    import uvicorn

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    code, _, err = cli(
        "profit", "--month", MONTH, "--view", "ttm", "--db", store_url
    )  # the whale curve's rows
    assert code == 0, err
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


#: Each page, the charts it must draw, and a selector that holds one of its figures.
PAGES = {
    "/": ("fig-whale", "fig-warnings", "fig-lost-months", "fig-reasons", "fig-cohorts", "fig-trend"),
    "/warnings": (),
    "/lost": ("fig-lost-months", "fig-reasons"),
    "/settings": (),
}


@pytest.mark.browser
def test_review_pages_draw_offline_without_errors(served, offline_page, reviews, tmp_path):
    opened = offline_page(allow=served)
    page = opened.page
    page.goto(served + "/")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_url(served + "/")
    drawn: dict[str, list[str]] = {}
    for path, charts in PAGES.items():
        page.goto(served + path)
        for chart in charts:
            page.wait_for_selector(f"#{chart} .main-svg", timeout=30_000)
        drawn[path] = page.locator(".js-plotly-plot .gtitle").all_text_contents()
        assert page.locator(".js-plotly-plot").count() == len(charts), path
        page.screenshot(path=str(tmp_path / f"{path.strip('/') or 'overview'}.png"), full_page=True)
    doc = reviews[MONTH]
    page.goto(served + "/")
    lost_card = page.locator("#card-lost .big").inner_text()
    margin_card = page.locator("#card-lost-margin .big").inner_text()
    page.goto(served + "/warnings")
    first = page.locator("#warnings-table tbody tr").first.locator("td")
    first_customer, first_value = first.nth(1).inner_text(), first.nth(4).inner_text()
    page.click("#warnings-table tbody tr >> nth=0 >> a")
    customer_url = page.url
    page.goto(served + "/lost")
    reasons = page.locator("#by-reason tbody tr td:first-child").all_inner_texts()
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: the rep's concession page
    page.goto(served + "/concession")
    page.screenshot(path=str(tmp_path / "concession-phone.png"), full_page=True)
    too_wide = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
    errors, external = opened.errors, opened.external
    assert errors == [] and external == []
    assert any(t.startswith("Customers lost each month") for t in drawn["/"])
    assert any(t.startswith("Retention by acquisition cohort") for t in drawn["/"])
    assert any(t.startswith("Whale curve") for t in drawn["/"])
    assert lost_card == f"{doc['lost']['count']:,}"
    assert margin_card == shown(Decimal(doc["lost"]["annual_margin_lost"]), "USD", whole=True)
    top = sorted(doc["warnings"], key=lambda w: (-Decimal(w["value_at_risk"]), w["customer_id"]))[0]
    assert (first_customer, first_value) == (top["customer_id"], shown(Decimal(top["value_at_risk"]), "USD"))
    assert customer_url == f"{served}/customers/{top['customer_id']}"
    assert reasons == list(doc["lost"]["by_reason"])
    assert not too_wide
    for name in ("overview", "warnings", "lost", "settings", "concession-phone"):
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
