"""Signing in as each role in a real Chromium (issue 18): what each sees, what each is refused, signing out.

The server is the app of ``test_browser.py`` (a real uvicorn on a free loopback port); screenshots of each
role's first page are saved under the test's tmp path.
"""

from __future__ import annotations

import pytest

from .conftest import PASSWORD, USERS
from .test_browser import server  # noqa: F401 (the fixture)


def _sign_in(page, base: str, name: str, password: str, path: str) -> None:
    page.goto(base + path)
    assert "/login?next=" in page.url
    page.fill("#name", name)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("#login-form button[type=submit]")


@pytest.mark.browser
def test_each_role_signs_in_sees_its_pages_and_is_refused_the_others(server, offline_page, tmp_path):  # noqa: F811
    seen: dict[str, dict] = {}
    for name, role in USERS.items():
        opened = offline_page(allow=server)
        page = opened.page
        _sign_in(page, server, name, PASSWORD, "/customers/C0001")
        landed = page.url
        page.screenshot(path=str(tmp_path / f"{role}.png"), full_page=True)
        links = page.locator("header a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
        who = page.locator("#who").inner_text()
        refused = {}
        for path in ("/activity", "/users"):
            answer = page.goto(server + path)
            refused[path] = answer.status if answer else None
        page.goto(server + "/customers/C0001")
        with page.expect_navigation():
            page.click("header form[action='/logout'] button")
        after = page.url
        answer = page.goto(server + "/customers/C0001")
        seen[role] = {
            "landed": landed, "links": links, "who": who, "refused": refused, "after": after,
            "again": page.url, "external": opened.external,
            "errors": [e for e in opened.errors if "403" not in e],
        }  # fmt: skip
    for name, role in USERS.items():
        s = seen[role]
        assert s["landed"] == server + "/customers/C0001", role
        assert s["who"] == f"{name} ({role})"
        assert ("/activity" in s["links"]) is (role != "rep"), role
        assert ("/users" in s["links"]) is (role == "admin"), role
        assert s["refused"]["/activity"] == (403 if role == "rep" else 200), role
        assert s["refused"]["/users"] == (200 if role == "admin" else 403), role
        assert s["after"] == server + "/login"
        assert "/login?next=" in s["again"]  # signed out
        assert s["errors"] == [] and s["external"] == []
    assert all((tmp_path / f"{role}.png").stat().st_size > 1000 for role in USERS.values())


@pytest.mark.browser
def test_an_admin_adds_a_user_who_signs_in_with_the_password_shown_once(server, offline_page, tmp_path):  # noqa: F811
    admin = offline_page(allow=server).page
    _sign_in(admin, server, "ada", PASSWORD, "/users")
    admin.fill("#new-name", "browser-rep")
    admin.select_option("#new-role", "rep")
    with admin.expect_navigation():
        admin.click("#add-user button[type=submit]")
    password = admin.locator("#shown-password").inner_text()
    admin.screenshot(path=str(tmp_path / "users.png"), full_page=True)
    row = admin.locator("[id='user-browser-rep']").inner_text()
    newcomer = offline_page(allow=server).page
    _sign_in(newcomer, server, "browser-rep", password, "/outreach")
    assert newcomer.url == server + "/outreach"
    assert newcomer.locator("#who").inner_text() == "browser-rep (rep)"
    assert "rep" in row and "active" in row
    admin.goto(server + "/users")  # the password is shown once: not on the page any more
    assert admin.locator("#shown-password").count() == 0
