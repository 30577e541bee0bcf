"""Every dashboard page, opened by each role in a real Chromium, with a screenshot of each (issue 18).

Each role signs in through the form and opens every page of the dashboard: the pages its role reaches
answer 200, draw every chart they carry (each Plotly div rendered to SVG), log no console error and fetch
nothing from another host; the pages it does not reach answer 403. Screenshots of every page each role
opened are saved as test artefacts in ``$KEEPWISE_TEST_ARTIFACTS`` (default ``build/test-artifacts``)
under ``screenshots/ROLE/``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .conftest import PASSWORD, USERS
from .test_browser import server  # noqa: F401 (the fixture)

#: Every page of the dashboard and the lowest role that reaches it.
PAGES = {
    "/": "manager",
    "/profit": "manager",
    "/warnings": "manager",
    "/lost": "manager",
    "/customers": "rep",
    "/customers/C0001": "rep",
    "/concession": "rep",
    "/winback": "manager",
    "/outreach": "rep",
    "/wins": "manager",
    "/conjoint": "manager",
    "/experiments": "manager",
    "/outbox": "manager",
    "/activity": "manager",
    "/users": "admin",
    "/tokens": "admin",
    "/settings": "admin",
}
RANK = {"rep": 0, "manager": 1, "admin": 2}


def _artefacts() -> Path:
    root = Path(
        os.environ.get("KEEPWISE_TEST_ARTIFACTS", Path(__file__).parents[2] / "build" / "test-artifacts")
    )
    return root / "screenshots"


def _sign_in(page, base: str, name: str) -> None:
    page.goto(base + "/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("#login-form button[type=submit]")


def _name(path: str) -> str:
    return path.strip("/").replace("/", "_") or "overview"


@pytest.mark.browser
@pytest.mark.parametrize("name", sorted(USERS))
def test_each_role_opens_every_page_it_reaches_and_is_refused_the_rest(server, offline_page, name):  # noqa: F811
    role = USERS[name]
    folder = _artefacts() / role
    folder.mkdir(parents=True, exist_ok=True)
    opened = offline_page(allow=server)
    page = opened.page
    _sign_in(page, server, name)
    answers: dict[str, int | None] = {}
    charts: dict[str, tuple[int, int]] = {}
    for path, needs in PAGES.items():
        answer = page.goto(server + path)
        answers[path] = answer.status if answer else None
        if RANK[role] < RANK[needs]:
            continue
        page.wait_for_load_state("networkidle")
        charts[path] = (
            page.locator("div.plotly-graph-div").count(),
            page.locator("div.plotly-graph-div.js-plotly-plot:has(.main-svg)").count(),
        )
        page.screenshot(path=str(folder / f"{_name(path)}.png"), full_page=True)
    expected = {path: (200 if RANK[role] >= RANK[needs] else 403) for path, needs in PAGES.items()}
    assert answers == expected
    for path, (divs, drawn) in charts.items():
        assert drawn == divs, f"{path}: {divs} charts, {drawn} drawn"
    assert sum(divs for divs, _ in charts.values()) >= (5 if role != "rep" else 1)
    assert [e for e in opened.errors if "403" not in e] == [] and opened.external == []
    for path, needs in PAGES.items():
        if RANK[role] >= RANK[needs]:
            assert (folder / f"{_name(path)}.png").stat().st_size > 1000, path
