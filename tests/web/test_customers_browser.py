"""The customers list and a customer's page in Debian's Chromium (Playwright), on a desktop and a phone.

Signs in on the way to ``/customers``, searches, opens the first customer found, and checks that both charts
drew, that the page shows the API's figures, that nothing left the machine and that the console stayed
clean; screenshots go to the test's temporary folder.
"""

from __future__ import annotations

import pytest

from .conftest import TOKEN
from .test_browser import server  # noqa: F401  (the fixture: a real uvicorn on a loopback port)


@pytest.mark.browser
def test_search_open_a_customer_and_see_the_charts(server, offline_page, tmp_path):  # noqa: F811
    import httpx2 as httpx

    opened = offline_page(allow=server)
    page = opened.page
    page.goto(server + "/customers")
    assert page.url.startswith(server + "/login")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector("#customers")
    page.fill("#q", "c000")
    page.click("form.search button[type=submit]")
    page.wait_for_selector("#customers tbody tr")
    found = page.locator("#customers tbody tr").all()
    ids = [row.get_attribute("data-id") for row in found]
    page.screenshot(path=str(tmp_path / "customers.png"), full_page=True)
    page.locator("#customers tbody tr td.who a").first.click()
    page.wait_for_selector("#fig-timeline .main-svg", timeout=30_000)
    page.wait_for_selector("#fig-p-alive .main-svg", timeout=30_000)
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
    orders = page.locator("#orders").inner_text()
    rows = page.locator("#orders-table tbody tr").count()
    page.screenshot(path=str(tmp_path / "customer.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(server + "/customers?q=c00")
    page.wait_for_selector("#customers tbody tr")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    page.screenshot(path=str(tmp_path / "customers-phone.png"), full_page=True)

    errors, external = opened.errors, opened.external
    assert errors == []
    assert external == []
    api = httpx.get(
        server + "/api/v1/customers",
        params={"q": "c000"},
        headers={"Authorization": f"Bearer {TOKEN}"},
        timeout=60,
    ).json()
    assert ids == [c["customer_id"] for c in api["customers"]]
    assert ids and "C0001" in ids
    profile = httpx.get(
        server + f"/api/v1/customers/{ids[0]}", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ).json()
    assert orders == str(profile["orders"]["orders"])
    assert rows == min(len(profile["timeline"]["orders"]), 50)
    assert "Purchases and returns by month" in titles
    assert "Chance still a customer, P(alive)" in titles
    assert overflow <= 0
    assert (tmp_path / "customer.png").stat().st_size > 0
