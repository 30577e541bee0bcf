"""This month's outreach and wins-vs-losses in the API and the dashboard, against the CLI on the same store.

The API's JSON must be the CLI's (``keepwise outreach --json --no-save``, ``keepwise wins --json``); a GET
must leave ``outreach_actions`` as it was (a planned row rewritten would get a new ``recorded_at``); Done
changes exactly one row, through the function ``keepwise outreach done`` uses, and the page then shows it.
"""

from __future__ import annotations

import json
import re

import pytest

from keepwise.store import connect
from keepwise.web.api import OUTREACH_LISTS

from .conftest import MONTH, TOKEN, all_pages, cli, keep_csrf, same_error
from .test_browser import server  # noqa: F401  (the uvicorn fixture)


def _table(store_url: str) -> dict[tuple[str, str, str], tuple]:
    """Every ``outreach_actions`` row by (month, customer, action): status, note, recorded_at, reasons."""
    backend = connect(store_url)
    try:
        rows = backend.con.execute(
            "SELECT month, customer_id, action, status, note, recorded_at, reasons FROM outreach_actions"
        ).fetchall()
    finally:
        backend.disconnect()
    return {(r[0], r[1], r[2]): tuple(r[3:]) for r in rows}


def _save_plan(store_url: str) -> dict:
    code, stdout, err = cli("outreach", "--month", MONTH, "--json", "--db", store_url)
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["saved"]["rows"] == len(doc["actions"]) > 0
    return doc


def _sign_in(client) -> None:
    client.headers.pop("Authorization")
    got = client.post("/login", data={"token": TOKEN, "next": "/outreach"}, follow_redirects=False)
    assert got.status_code == 303
    keep_csrf(client)  # the forms carry the session's CSRF token


def test_outreach_get_is_the_cli_json_and_writes_nothing(client, store_url):
    saved = _save_plan(store_url)
    before = _table(store_url)
    code, stdout, err = cli(
        "outreach", "--month", MONTH, "--top", "5", "--json", "--no-save", "--db", store_url
    )
    assert code == 0, err
    doc = all_pages(client, "/api/outreach", {"month": MONTH, "top": 5}, OUTREACH_LISTS)
    assert doc == json.loads(stdout)  # the plan the command stored, as --no-save prints it
    assert doc["saved"] is None
    assert doc["actions"] == saved["actions"]  # the plan the CLI stored, action for action
    assert sum(doc["counts"][k] for k in ("reprice_or_part_ways", "re_engage", "contact")) == len(
        doc["actions"]
    )
    assert all_pages(client, "/api/outreach", {"month": MONTH}, OUTREACH_LISTS) == doc  # --top never cuts it
    _sign_in(client)
    assert client.get("/outreach", params={"month": MONTH}).status_code == 200
    assert _table(store_url) == before  # no row rewritten (recorded_at would change), none added


def test_outreach_api_errors_are_the_cli_messages(client, store_url):
    bad = client.get("/api/outreach", params={"month": "2025-13"})
    code, _, err = cli("outreach", "--month", "2025-13", "--json", "--no-save", "--db", store_url)
    assert bad.status_code == 400 and code == 2
    assert same_error(bad.json(), err)
    _save_plan(store_url)
    before = _table(store_url)
    never = client.post("/api/outreach/NOBODY/done", json={"month": MONTH, "action": "re_engage"})
    code, _, err = cli(
        "outreach", "done", "NOBODY", "--month", MONTH, "--action", "re_engage", "--db", store_url
    )
    assert never.status_code == 400 and code == 2
    assert same_error(never.json(), err)
    assert "no re_engage action for customer 'NOBODY' in 2025-11" in never.json()["error"]
    assert "\n" not in never.json()["error"]
    assert client.post("/api/outreach/NOBODY/skip", json={}).json() == {
        "error": "month: is required, e.g. 2024-06",
        "field": "month",
    }
    assert _table(store_url) == before


def test_done_changes_exactly_one_row_and_the_page_shows_it(client, store_url):
    plan = _save_plan(store_url)
    first = next(
        a
        for a in plan["actions"]
        if _table(store_url)[(MONTH, a["customer_id"], a["action"])][0] == "planned"
    )
    cid, action = first["customer_id"], first["action"]
    before = _table(store_url)
    got = client.post(f"/api/outreach/{cid}/done", json={"month": MONTH, "action": action, "note": "called"})
    assert got.status_code == 200, got.text
    after = _table(store_url)
    changed = {k for k in after if after[k] != before.get(k)}
    assert changed == {(MONTH, cid, action)}
    assert set(after) == set(before)
    status, note, recorded_at, _ = after[(MONTH, cid, action)]
    assert (status, note) == ("done", "called")
    assert got.json() == {
        "month": MONTH,
        "customer_id": cid,
        "action": action,
        "recommendation": first["recommendation"],
        "status": "done",
        "note": "called",
        "recorded_at": recorded_at.isoformat(),
    }
    # the CLI reads back the same row: marking it skipped through the CLI, then done again through the API
    code, stdout, err = cli(
        "outreach", "skip", cid, "--month", MONTH, "--action", action, "--json", "--db", store_url
    )
    assert code == 0, err
    assert json.loads(stdout)["status"] == "skipped"
    again = client.post(f"/api/outreach/{cid}/skip", json={"month": MONTH, "action": action})
    assert again.json()["status"] == "skipped" and again.json()["note"] is None
    client.post(f"/api/outreach/{cid}/done", json={"month": MONTH, "action": action, "note": "called"})

    _sign_in(client)
    page = client.get("/outreach", params={"month": MONTH})
    assert page.status_code == 200
    row = re.search(rf'<tr id="a-{re.escape(cid)}-{action}">(.*?)</tr>', page.text, re.S)
    assert row is not None
    assert re.search(r'<td class="status">done<br><span class="notes">called</span>', row.group(1))
    n_done = sum(1 for v in _table(store_url).values() if v[0] == "done")
    assert f"Done {n_done}," in page.text


def test_the_done_form_records_and_returns_to_the_month(client, store_url):
    plan = _save_plan(store_url)
    table = _table(store_url)
    a = next(a for a in plan["actions"] if table[(MONTH, a["customer_id"], a["action"])][0] == "planned")
    _sign_in(client)
    foreign = client.post(
        f"/outreach/{a['customer_id']}/skip",
        data={"month": MONTH, "action": a["action"]},
        headers={"Origin": "https://elsewhere.example"},
        follow_redirects=False,
    )
    assert foreign.status_code == 403  # another site's page cannot tick actions off
    assert _table(store_url) == table
    got = client.post(
        f"/outreach/{a['customer_id']}/skip",
        data={"month": MONTH, "action": a["action"]},
        follow_redirects=False,
    )
    assert got.status_code == 303
    assert got.headers["location"] == f"/outreach?month={MONTH}#a-{a['customer_id']}-{a['action']}"
    assert _table(store_url)[(MONTH, a["customer_id"], a["action"])][0] == "skipped"


def test_outreach_and_wins_refuse_the_unauthenticated(client, store_url):
    _save_plan(store_url)
    before = _table(store_url)
    client.headers.pop("Authorization")
    for method, path, kw in (
        ("get", "/api/outreach", {}),
        ("get", "/api/wins", {}),
        ("post", "/api/outreach/C0001/done", {"json": {"month": MONTH}}),
        ("post", "/api/outreach/C0001/skip", {"json": {"month": MONTH}}),
    ):
        got = getattr(client, method)(path, **kw)
        assert got.status_code == 401, path
        assert set(got.json()) == {"error"}
    for method, path in (("get", "/outreach"), ("get", "/wins"), ("post", "/outreach/C0001/done")):
        got = getattr(client, method)(path, follow_redirects=False)
        assert got.status_code == 303, path
        assert got.headers["location"].startswith("/login?next=")
    assert _table(store_url) == before


def test_wins_is_the_cli_json_and_the_page_is_its_html_report(client, store_url, tmp_path):
    report = tmp_path / "wins.html"
    code, stdout, err = cli("wins", "--month", MONTH, "--months", "12", "--json", "--html", str(report),
                            "--db", store_url)  # fmt: skip
    assert code == 0, err
    got = client.get("/api/wins", params={"month": MONTH, "months": 12})
    assert got.text == stdout
    doc = got.json()
    assert doc["won"]["total"] + doc["lost"]["total"] > 0
    bad = client.get("/api/wins", params={"months": 0})
    code, _, err = cli("wins", "--months", "0", "--json", "--db", store_url)
    assert bad.status_code == 400 and code == 2
    assert same_error(bad.json(), err)

    _sign_in(client)
    page = client.get("/wins", params={"month": MONTH, "months": 12})
    assert page.status_code == 200
    html = report.read_text(encoding="utf-8")
    table = re.search(r"<table.*?</table>", html, re.S)
    assert table is not None and table.group(0) in page.text  # the --html report's table, row for row
    assert 'id="fig-wins"' in page.text or "id='fig-wins'" in page.text
    for finding in doc["findings"]:
        assert finding.split("'")[0][:40] in page.text.replace("&#39;", "'").replace("&#34;", '"')


@pytest.mark.browser
def test_clicking_done_on_the_outreach_page(server, store_url, offline_page):  # noqa: F811
    plan = _save_plan(store_url)
    table = _table(store_url)
    a = next(a for a in plan["actions"] if table[(MONTH, a["customer_id"], a["action"])][0] == "planned")
    row_id = f"a-{a['customer_id']}-{a['action']}"
    opened = offline_page(allow=server)
    page = opened.page
    page.goto(f"{server}/outreach?month={MONTH}")
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_selector(f"[id='{row_id}']", timeout=60_000)
    status_before = page.locator(f"[id='{row_id}'] td.status").inner_text()
    with page.expect_navigation():
        page.click("header a[href='/outreach']")
    page.goto(f"{server}/outreach?month={MONTH}")
    with page.expect_navigation():
        page.click(f"[id='{row_id}'] button.done")
    status_after = page.locator(f"[id='{row_id}'] td.status").inner_text()
    done_disabled = page.locator(f"[id='{row_id}'] button.done").is_disabled()
    url = page.url
    errors = opened.errors + opened.external
    assert errors == []
    assert status_before == "planned"
    assert status_after == "done"
    assert done_disabled
    assert url.endswith(f"/outreach?month={MONTH}#{row_id}")
    assert _table(store_url)[(MONTH, a["customer_id"], a["action"])][0] == "done"
