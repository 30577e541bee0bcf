"""Experiments, outbox and win-back approval in the dashboard and the API (issue 18).

Figures are checked against the CLI's JSON on the same store (``keepwise experiment analyze --details
--json``, ``keepwise messages report --json``); the approval against the outbox's own rows, the consent table
read directly and the flows' keyed holdout draw written out again (:func:`programs_kit.draw`).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from keepwise.web.access import Role, User

from .conftest import MONTH, SECRET, TOKEN
from .programs_kit import DONE, RUNNING, cli_json, draw, programs_store, query, with_holdout


@pytest.fixture(scope="module")
def url(store_url: str, reviews, tmp_path_factory: pytest.TempPathFactory) -> str:
    return programs_store(store_url, tmp_path_factory.mktemp("programs") / "store.duckdb")


@pytest.fixture
def app_client(url: str, config, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    with TestClient(create_app(url, with_holdout(config))) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        yield c


def _values(html: str, attribute: str = "data-value") -> list[float]:
    return [float(v) for v in re.findall(rf'{attribute}="([^"]+)"', html)]


# ------------------------------------------------------------------------------------------- experiments


def test_experiment_page_and_api_show_the_clis_analysis(app_client, url):
    expected = cli_json("experiment", "analyze", DONE, "--details", "--db", url)
    doc = app_client.get(f"/api/v1/experiments/{DONE}").json()
    assert doc["status"] == "complete"
    assert doc["results"] == expected  # the same function, the same document
    assert doc["design"]["control"] == "control" and doc["design"]["control_share"] == 0.5
    assert doc["design"]["unit"] == "customer" and doc["customers"] == 200
    assert doc["arms"] == expected["srm"]["observed"]
    assert doc["window"]["first_month"] == expected["window"]["first_month"] == "2024-07"
    assert doc["window"]["ends_on"] == expected["window"]["ends_on"]

    page = app_client.get(f"/experiments/{DONE}")
    assert page.status_code == 200
    html = page.text
    assert 'id="fig-effects"' in html  # the chart of the effects with their intervals
    rows = re.findall(r'<tr data-arm="([^"]+)" data-metric="([^"]+)">(.*?)</tr>', html, re.S)
    assert [(a, m) for a, m, _ in rows] == [(c["arm"], c["metric"]) for c in expected["comparisons"]]
    for (_, _, cells), c in zip(rows, expected["comparisons"], strict=True):
        n, mean, mean_c, diff, p, p_holm, lift = _values(cells)
        assert (n, mean, mean_c, diff) == (c["n"], c["mean"], c["mean_control"], c["difference"])
        assert (p, p_holm, lift) == (c["p_value"], c["p_value_holm"], c["relative_lift"])
        assert _values(cells, "data-low") == [c["ci_low"]] and _values(cells, "data-high") == [c["ci_high"]]
    assert _values(html, "data-p") == [expected["srm"]["p_value"]]
    assert ("mismatch" in html) is expected["srm"]["mismatch"] or "fine: the arms" in html


def test_experiments_list_shows_design_status_and_results(app_client, url):
    body = app_client.get("/api/v1/experiments").json()
    by_id = {e["experiment"]: e for e in body["experiments"]}
    assert {DONE, RUNNING} <= set(by_id)
    assert body["pagination"]["total"] == len(body["experiments"])
    assert by_id[DONE]["status"] == "complete" and by_id[RUNNING]["status"] == "measuring"
    assert by_id[RUNNING].get("results") is None
    # still measuring: the analysis refuses too, naming the same last day
    from .conftest import cli

    code, _, err = cli("experiment", "analyze", RUNNING, "--json", "--db", url)
    assert code == 2 and f"the window ends on {by_id[RUNNING]['window']['ends_on']}" in err
    html = app_client.get("/experiments").text
    assert html.count('class="experiment"') == len(by_id)
    assert f"results once the data reach {by_id[RUNNING]['window']['ends_on']}" in html
    expected = cli_json("experiment", "analyze", DONE, "--details", "--db", url)
    assert _values(html, "data-p") == [expected["srm"]["p_value"]]  # only the complete one has results


def test_design_an_experiment_from_the_page_and_the_api(app_client, url):
    got = app_client.post(
        "/experiments",
        data={"name": "form-test", "population": "top:120", "arms": "control:1,call:1", "seed": "4",
              "month": "2024-09", "stratify_by": "profit_decile"},
        follow_redirects=False,
    )  # fmt: skip
    assert got.status_code == 303 and got.headers["location"] == "/experiments/form-test"
    assert app_client.get("/experiments/form-test").status_code == 200
    stored = query(
        url, "SELECT arm, count(*) FROM assignments WHERE experiment_id = 'form-test' GROUP BY arm"
    )
    assert dict(stored) == {"control": 60, "call": 60}
    # the API designs the same way; the same design again is "unchanged", another under the name refused
    body = {"name": "api-test", "population": "top:100", "month": "2024-09", "seed": 1}
    first = app_client.post("/api/v1/experiments", json=body)
    assert first.status_code == 201 and first.json()["arms"] == {"control": 50, "treatment": 50}
    again = app_client.post("/api/v1/experiments", json=body)
    assert again.status_code == 200 and again.json()["status"] == "unchanged"
    refused = app_client.post("/api/v1/experiments", json={**body, "seed": 2})
    assert refused.status_code == 400 and "never re-assigns" in refused.json()["error"]
    on_server = app_client.post("/api/v1/experiments", json={"name": "x", "population": "list:/etc/passwd"})
    assert on_server.status_code == 400 and "list:FILE" in on_server.json()["error"]
    form_error = app_client.post("/experiments", data={"name": "", "population": "top:10"})
    assert form_error.status_code == 400 and 'id="design-error"' in form_error.text


def test_an_experiment_too_small_to_compare_says_why_instead_of_failing(app_client, url):
    import duckdb

    con = duckdb.connect(url.removeprefix("duckdb:///"))
    try:  # one customer in the control arm, recorded long enough ago for its window to have ended
        con.execute(
            "INSERT INTO assignments VALUES ('tiny', 'C0001', 'control', '2024-07-01 00:00:00+00'), "
            "('tiny', 'C0002', 'treatment', '2024-07-01 00:00:00+00'), "
            "('tiny', 'C0003', 'treatment', '2024-07-01 00:00:00+00')"
        )
    finally:
        con.close()
    doc = app_client.get("/api/v1/experiments/tiny").json()
    assert doc["status"] == "complete" and doc["results"] is None
    assert doc["problem"] == "experiment 'tiny': arm(s) control have fewer than 2 rows"
    from .conftest import cli

    code, _, err = cli("experiment", "analyze", "tiny", "--json", "--db", url)
    assert code == 2 and "arm(s) control have fewer than 2 rows" in err  # the CLI refuses alike
    for path in ("/experiments", "/experiments/tiny"):
        page = app_client.get(path)
        assert (
            page.status_code == 200 and "No results: experiment &#39;tiny&#39;: arm(s) control" in page.text
        )


def test_unknown_experiment_is_404(app_client):
    assert app_client.get("/api/v1/experiments/no-such").status_code == 404
    assert app_client.get("/experiments/no-such").status_code == 404


# --------------------------------------------------------------------------------------- approval, outbox


def _consenting(url: str, ids: list[str], at: datetime) -> set[str]:
    rows = query(
        url,
        "SELECT DISTINCT customer_id FROM consent WHERE channel = 'email' AND purpose = 'marketing' "
        "AND granted_at <= ? AND (revoked_at IS NULL OR revoked_at > ?)",
        [at, at],
    )
    return {r[0] for r in rows} & set(ids)


def _last_orders(url: str, ids: list[str]) -> dict[str, str]:
    rows = query(
        url,
        "SELECT customer_id, strftime(max(ordered_at), '%Y-%m-%d') FROM orders WHERE quantity > 0 "
        "GROUP BY customer_id",
    )
    return {c: d for c, d in rows if c in set(ids)}


def test_approval_queues_the_chosen_consenting_customers_once_and_holds_out_the_control_group(
    app_client, url
):
    page = app_client.get("/winback", params={"month": MONTH})
    assert page.status_code == 200 and 'id="approve-form"' in page.text
    ranked = re.findall(r'name="customer_id" value="([^"]+)"', page.text)
    chosen = ranked[:16]
    before = query(url, "SELECT count(*) FROM outbox")[0][0]
    got = app_client.post(
        "/winback/approve", data={"month": MONTH, "customer_id": chosen}, follow_redirects=False
    )
    assert got.status_code == 303 and got.headers["location"].startswith("/outbox?state=queued&approval=wb-")
    now = datetime.now(UTC)
    consenting = _consenting(url, chosen, now)
    lapse = {c: f"lapse-{d}" for c, d in _last_orders(url, chosen).items()}
    control = {c for c in consenting if draw(lapse[c], c) < 0.5}
    assert consenting and control and consenting - control and set(chosen) - consenting  # a real test

    rows = query(url, "SELECT customer_id, status, kind, cause FROM outbox WHERE customer_id IN "
                      f"({', '.join('?' for _ in chosen)})", chosen)  # fmt: skip
    queued = {c for c, s, _, _ in rows if s == "queued"}
    held = {c for c, s, _, _ in rows if s == "held_out"}
    assert queued == consenting - control
    assert held == control
    assert all(k == "winback" and cause == lapse[c] for c, _, k, cause in rows)  # the flow's own key
    arms = dict(query(url, "SELECT customer_id, arm FROM assignments WHERE experiment_id = 'flow:winback'"))
    assert {c for c in control if arms.get(c) == "holdout"} == control
    assert query(url, "SELECT count(*) FROM outbox")[0][0] == before + len(consenting)

    # the approval is recorded, with who approved, and the outbox page says what it did
    approval_id = got.headers["location"].rsplit("=", 1)[1]
    sql = "SELECT customer_id, outcome, approved_by FROM winback_approvals WHERE approval_id = ?"
    recorded = query(url, sql, [approval_id])
    assert {c for c, o, _ in recorded if o == "queued"} == queued and {who for *_, who in recorded} == {
        "token"
    }
    outbox = app_client.get(got.headers["location"]).text
    assert f'id="approval-queued" data-value="{len(queued)}"' in outbox
    row = r'<tr data-message="[^"]+" data-status="queued">\s*<td><a href="/customers/([^"]+)"'
    listed = set(re.findall(row, outbox))
    assert queued <= listed

    # a second approval of the same customers (page or API) queues nothing new
    again = app_client.post("/api/v1/winback/approve", json={"month": MONTH, "customer_ids": chosen})
    assert again.status_code == 201
    counts = again.json()["counts"]
    assert counts["queued"] == counts["held_out"] == 0 and counts["already_queued"] == len(consenting)
    assert query(url, "SELECT count(*) FROM outbox")[0][0] == before + len(consenting)


def test_outbox_counts_and_pages_equal_the_clis_report(app_client, url):
    sql = "SELECT customer_id FROM winback WHERE month = ? AND status = 'contact' ORDER BY rank"
    ranked = [c for (c,) in query(url, sql, [MONTH])]
    assert (
        app_client.post("/api/v1/winback/approve", json={"month": MONTH, "customer_ids": ranked}).status_code
        == 201
    )
    report = cli_json("messages", "report", "--db", url)
    by = report["by_status"]
    api = app_client.get("/api/v1/outbox", params={"per_page": 3}).json()
    assert api["counts"] == {
        "all": sum(by.values()), "queued": by["queued"] + by["sending"], "sent": by["sent"],
        "unconfirmed": report["sent_unconfirmed"], "failed": by["failed"], "suppressed": by["suppressed"],
        "held_out": by["held_out"],
    }  # fmt: skip
    assert api["counts"]["queued"] > 3  # more than one page
    html = app_client.get("/outbox").text
    tabs = dict(re.findall(r'data-state="([^"]+)" data-count="(\d+)"', html))
    assert {k: int(v) for k, v in tabs.items()} == api["counts"]
    # every page of queued messages, put together: each queued message once, newest first
    seen, link = [], "/api/v1/outbox?state=queued&per_page=3"
    while link:
        body = app_client.get(link).json()
        seen += body["messages"]
        link = body["pagination"]["next"]
    assert len(seen) == len({m["message_id"] for m in seen}) == api["counts"]["queued"]
    assert all(m["status"] == "queued" and m["flow"] == "winback" and m["subject"] for m in seen)
    assert [m["queued_at"] for m in seen] == sorted((m["queued_at"] for m in seen), reverse=True)
    held = app_client.get("/api/v1/outbox", params={"state": "held_out"}).json()
    assert len(held["messages"]) == by["held_out"] and all(m["approval"] for m in held["messages"])
    bad = app_client.get("/api/v1/outbox", params={"state": "lost"})
    assert bad.status_code == 400 and bad.json()["field"] == "state"


def test_approval_refuses_what_it_cannot_do(app_client):
    cases = [
        ({"month": MONTH, "customer_ids": []}, "customer_ids"),
        ({"month": MONTH}, "customer_ids"),
        ({"customer_ids": ["C0001"]}, "month"),
        ({"month": "2019-01", "customer_ids": ["C0001"]}, "month"),  # no ranking stored for it
        ({"month": MONTH, "customer_ids": ["no-such-customer"]}, "customer_ids"),
    ]
    for body, field in cases:
        got = app_client.post("/api/v1/winback/approve", json=body)
        assert got.status_code == 400, (body, got.text)
        assert got.json()["field"] == field
    form = app_client.post("/winback/approve", data={"month": MONTH})
    assert form.status_code == 400


def test_a_rep_is_refused_the_programs_and_approval(app_client, url, monkeypatch):
    import keepwise.web.access as access

    rep = User("rita", Role.REP)
    if hasattr(access, "_resolve"):  # the guards of real users and sessions ask this (no session: no CSRF)
        monkeypatch.setattr(access, "_resolve", lambda request: (rep, None))
    monkeypatch.setattr(access, "current_user", lambda request: rep)
    before = query(url, "SELECT count(*) FROM outbox")[0][0]
    page = app_client.get(
        "/winback", params={"month": MONTH}
    )  # the page is h-pages'; the form is not for reps
    assert page.status_code == 403 or 'id="approve-form"' not in page.text
    form = app_client.post("/winback/approve", data={"month": MONTH, "customer_id": ["C0001"]})
    assert form.status_code == 403
    api = app_client.post("/api/v1/winback/approve", json={"month": MONTH, "customer_ids": ["C0001"]})
    assert api.status_code == 403 and "error" in api.json()
    for path in ("/experiments", f"/experiments/{DONE}", "/outbox"):
        assert app_client.get(path).status_code == 403, path
    for path in ("/api/v1/experiments", f"/api/v1/experiments/{DONE}", "/api/v1/outbox"):
        assert app_client.get(path).status_code == 403, path
    assert app_client.post("/api/v1/experiments", json={"name": "rep-try"}).status_code == 403
    assert query(url, "SELECT count(*) FROM outbox")[0][0] == before


def test_a_later_flow_run_never_writes_again_to_approved_customers(app_client, url, config, monkeypatch):
    from keepwise.messages import flows
    from keepwise.store import connect

    sql = "SELECT customer_id FROM winback WHERE month = ? AND status = 'contact' ORDER BY rank"
    ranked = [c for (c,) in query(url, sql, [MONTH])]
    approved = app_client.post(
        "/api/v1/winback/approve", json={"month": MONTH, "customer_ids": ranked}
    ).json()
    written = {c["customer_id"] for c in approved["customers"] if c["message_id"]}
    assert written
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    store = connect(url)
    try:
        run = flows.run(store, config=with_holdout(config), send=False)
    finally:
        store.disconnect()
    assert run.queued > 0  # the flow wrote to others
    assert run.already_known > 0  # ... and found the approved letters of those it had due already there
    marks = ", ".join("?" for _ in written)
    rows = query(
        url,
        f"SELECT customer_id, count(*) FROM outbox WHERE kind = 'winback' AND customer_id IN ({marks}) "
        "GROUP BY customer_id",
        sorted(written),
    )
    assert dict(rows) == {c: 1 for c in written}  # one win-back letter (or holdout row) each, not two


def test_a_flows_holdout_is_an_experiment_at_the_flows_share(app_client, url, config, monkeypatch):
    from keepwise.messages import flows
    from keepwise.store import connect

    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    store = connect(url)
    try:  # a run back then: its holdouts' window has ended in the data
        flows.run(store, as_of=datetime(2024, 6, 30, 12, tzinfo=UTC), config=with_holdout(config), send=False)
    finally:
        store.disconnect()
    doc = app_client.get("/api/v1/experiments/flow:winback").json()
    assert doc["origin"] == "flow holdout" and doc["status"] == "complete"
    assert doc["design"]["arms"] == {"holdout": 0.5, "treatment": 0.5}  # the flow's holdout_share
    assert doc["design"]["control"] == "holdout" and doc["design"]["control_share"] == 0.5
    assert doc["command"].endswith("--ratios holdout:0.5,treatment:0.5")
    expected = cli_json(*doc["command"].split()[1:-3], "--ratios", "holdout:0.5,treatment:0.5", "--db", url)
    assert doc["results"] == expected
    assert doc["results"]["srm"]["expected"]["holdout"] == pytest.approx(0.5 * doc["customers"])
    assert f"<code>{doc['command']}</code>" in app_client.get("/experiments/flow:winback").text


# ------------------------------------------------------------------------------------------------ CDNOW


@pytest.fixture(scope="module")
def cdnow_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    import keepwise
    from keepwise.datasets import cdnow_tables

    path: Path = tmp_path_factory.mktemp("cdnow") / "cdnow.duckdb"
    url = f"duckdb:///{path}"
    tables = cdnow_tables()
    keepwise.load("customers", tables["customers"], db=url)
    keepwise.load("orders", tables["orders"], db=url)
    return url


def test_pages_render_on_cdnow_with_an_empty_state(cdnow_url, config, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    with TestClient(create_app(cdnow_url, config)) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        experiments = c.get("/experiments")
        assert experiments.status_code == 200
        assert (
            'id="no-experiments"' in experiments.text
            and "keepwise experiment design NAME" in experiments.text
        )
        assert c.get("/api/v1/experiments").json()["experiments"] == []
        outbox = c.get("/outbox")
        assert outbox.status_code == 200 and "The outbox is empty" in outbox.text
        assert c.get("/api/v1/outbox").json()["counts"]["all"] == 0
        refused = c.post("/api/v1/winback/approve", json={"month": "1998-05", "customer_ids": ["1"]})
        assert refused.status_code == 400 and "keepwise winback --month 1998-05" in refused.json()["error"]
        # an experiment designed on CDNOW's history shows its results (1997-06: window to 1998-06)
        designed = c.post("/api/v1/experiments", json={"name": "cd", "population": "top:400",
                                                      "month": "1997-05"})  # fmt: skip
        assert designed.status_code == 201, designed.text
        doc = c.get("/api/v1/experiments/cd").json()
        assert doc["status"] == "complete"
        assert doc["results"]["srm"]["observed"] == {"control": 200, "treatment": 200}
        assert c.get("/experiments/cd").status_code == 200
