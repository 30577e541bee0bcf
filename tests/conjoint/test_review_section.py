"""The monthly review shows the latest saved conjoint study, and leaves the section out without one."""

from __future__ import annotations

import pytest

from keepwise.conjoint.report import headline
from keepwise.conjoint.results import importance, wtp
from keepwise.conjoint.store import save_result
from keepwise.datasets.simulate import simulate
from keepwise.report import write_report
from keepwise.review import run_review
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    biz = simulate(customers=300, months=18, seed=11)
    url = f"duckdb:///{tmp_path_factory.mktemp('review')}/kw.duckdb"
    backend = connect(url)
    for name in load_order(list(biz.tables)):
        load_frame(backend, name, biz.tables[name])
    return backend


def test_no_study_no_section(store):
    review = run_review(store, "2025-05", write=False)
    assert review.section("conjoint") is None
    assert not any("conjoint" in n for n in review.notes)


def test_latest_study_in_the_review_and_its_report(store, winback_mnl, tmp_path, offline_page):
    save_result(store, winback_mnl, "spring-2025")
    review = run_review(store, "2025-05", write=False)
    section = review.section("conjoint")
    assert section is not None
    loaded_headline = headline(winback_mnl).replace("The conjoint study", "Conjoint study 'spring-2025'")
    assert section.headline == loaded_headline
    assert section.data["study"] == "spring-2025" and section.data["model"] == "mnl"
    top = importance(winback_mnl).iloc[0]
    assert section.data["importance"][0] == {
        "attribute": top["attribute"],
        "importance": round(top["importance"], 2),
    }
    premium = wtp(winback_mnl).iloc[0]
    assert section.data["wtp"][0]["level"] == "Premium vs Basic"
    assert float(section.data["wtp"][0]["wtp"]) == pytest.approx(premium["wtp"], abs=0.005)
    assert review.to_json()["conjoint"]["study"] == "spring-2025"

    path = write_report(review, tmp_path / "review.html")
    html = path.read_text(encoding="utf-8")
    assert html.count("Plotly.newPlot") >= 6 and "<script src=" not in html
    opened = offline_page()
    page = opened.page
    page.goto(path.as_uri())
    page.wait_for_selector("#conjoint-wtp .main-svg")
    before = page.locator("#conjoint-share-0").text_content()
    page.fill("#conjoint-o0-price", "19")
    after = page.locator("#conjoint-share-0").text_content()
    errors = opened.errors + opened.external
    assert errors == []
    assert float(after.rstrip("%")) > float(before.rstrip("%"))  # a lower price wins more of them back
