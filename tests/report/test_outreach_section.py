"""The review's "Service and outreach" section: its figures are the saved ``outreach_actions`` rows."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from keepwise.datasets import simulate
from keepwise.decisions.service import mark, outreach, save_plan
from keepwise.report import write_report
from keepwise.report.sections.outreach import outreach_section
from keepwise.review import ReviewContext, run_review
from keepwise.signals import ReviewPeriod
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order

PREV, MONTH = "2025-10", "2025-11"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """600 customers over 24 months; plans saved for PREV and MONTH, a few of them marked done or skipped."""
    biz = simulate(customers=600, months=24, seed=5)
    backend = connect(f"duckdb:///{tmp_path_factory.mktemp('outreach_review')}/kw.duckdb")
    for name in load_order(set(biz.tables)):
        load_frame(backend, name, biz.tables[name], source=name)
    plans = {}
    for month in (PREV, MONTH):
        plans[month] = outreach(backend, month)
        save_plan(backend, plans[month])
    rows = backend.con.execute(
        "SELECT month, customer_id, action FROM outreach_actions ORDER BY month, customer_id, action"
    ).fetchall()
    prev = [r for r in rows if r[0] == PREV]
    for r in prev[:9]:
        mark(backend, *r, "done")
    for r in prev[20:24]:
        mark(backend, *r, "skipped")
    for r in [r for r in rows if r[0] == MONTH][:2]:  # already done: still part of MONTH's plan
        mark(backend, *r, "done")
    yield backend, plans
    backend.disconnect()


def _sql(backend, query: str, *params: str) -> list[tuple]:
    return backend.con.execute(query, list(params)).fetchall()


def test_section_figures_are_the_saved_rows(store, tmp_path: Path):
    backend, plans = store
    review = run_review(backend, MONTH, write=False)
    section = review.section("outreach")
    assert section is not None and section.title == "Service and outreach"
    data = section.data

    # this month's plan, by kind and tier: SQL on the table, and the plan keepwise computed before saving it
    grid = {(a, t): n for a, t, n in _sql(backend, "SELECT action, tier, count(*) FROM outreach_actions "
                                                   "WHERE month = ? GROUP BY ALL", MONTH)}  # fmt: skip
    assert grid == Counter((a.action, a.tier) for a in plans[MONTH].actions)
    got = data["planned"]
    assert {(r["action"], r["tier"]): r["count"] for r in got["by_action_tier"]} == grid
    assert got["total"] == sum(grid.values()) == len(plans[MONTH].actions)
    assert got["by_action"] == dict(Counter(a.action for a in plans[MONTH].actions))
    assert got["by_tier"] == dict(Counter(a.tier for a in plans[MONTH].actions))

    # last month's follow-through
    status = dict(
        _sql(backend, "SELECT status, count(*) FROM outreach_actions WHERE month = ? GROUP BY 1", PREV)
    )
    assert status["done"] == 9 and status["skipped"] == 4
    total = len(plans[PREV].actions)
    f = data["follow_through"]
    assert f["month"] == PREV
    assert (f["total"], f["done"], f["skipped"], f["planned"]) == (total, 9, 4, total - 13)
    assert f["share_done"] == pytest.approx(9 / total, abs=1e-4)
    per_kind = _sql(
        backend, "SELECT action, status, count(*) FROM outreach_actions WHERE month = ? GROUP BY ALL", PREV
    )
    for action, st, n in per_kind:
        assert f["by_action"][action][st] == n
    assert sum(x["total"] for x in f["by_action"].values()) == total

    expected = (
        f"Of {total:,} actions planned for {PREV}, 9 were done ({100 * 9 / total:.0f}%), 4 skipped and "
        f"{total - 13:,} not recorded; {len(plans[MONTH].actions):,} actions are planned for {MONTH}."
    )
    assert section.headline == expected
    assert review.to_json()["headlines"]["outreach"] == expected
    assert review.to_json()["outreach"]["follow_through"]["done"] == 9

    html = write_report(review, tmp_path / "review.html").read_text(encoding="utf-8")
    assert '<section id="outreach">' in html and "<h2>Service and outreach</h2>" in html
    assert expected in html
    assert f'<td class="num">{len(plans[MONTH].actions):,}</td>' in html


def test_month_after_the_last_plan_shows_only_follow_through(store):
    backend, plans = store
    section = outreach_section(ReviewContext(backend, ReviewPeriod.of("2025-12")))
    assert section is not None and section.data["planned"] is None
    n = len(plans[MONTH].actions)
    assert section.data["follow_through"]["total"] == n and section.data["follow_through"]["done"] == 2
    assert section.headline == (
        f"Of {n:,} actions planned for {MONTH}, 2 were done ({100 * 2 / n:.0f}%), 0 skipped and "
        f"{n - 2:,} not recorded; none are saved for 2025-12 yet."
    )


def test_no_saved_actions_no_section(store):
    backend, _ = store
    assert outreach_section(ReviewContext(backend, ReviewPeriod.of("2025-09"))) is None
    review = run_review(backend, "2025-08", write=False)
    assert review.section("outreach") is None and "outreach" not in review.to_json()
    assert not any("outreach" in n for n in review.notes)
