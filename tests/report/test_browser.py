"""The HTML report in a real browser: Debian's Chromium driven by Playwright, offline.

Checks that the page loads with no console errors, that plotly.js is embedded (no network request is made;
every request other than the file itself is blocked and recorded) and that every chart rendered its SVG.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from keepwise.datasets.simulate import simulate
from keepwise.report import write_report
from keepwise.review import run_review
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    biz = simulate(customers=800, months=24, seed=5)
    b = connect("duckdb://:memory:")
    for name in load_order(list(biz.tables)):
        load_frame(b, name, biz.tables[name])
    review = run_review(b, "2025-12", write=False)
    return write_report(review, tmp_path_factory.mktemp("report") / "review.html")


def test_report_is_self_contained(report):
    html = report.read_text(encoding="utf-8")
    assert "<script src=" not in html  # plotly.js is inline, not fetched
    assert "Plotly.newPlot" in html
    assert "customers worth $" in html


@pytest.mark.browser
def test_charts_render_in_chromium(report, offline_page):
    opened = offline_page()
    page = opened.page
    page.goto(report.as_uri())
    page.wait_for_selector(".js-plotly-plot .main-svg")
    plots = page.locator(".js-plotly-plot")
    n_plots = plots.count()
    rendered = page.locator(".js-plotly-plot .main-svg").count()
    titles = page.locator(".js-plotly-plot .gtitle").all_text_contents()
    heatmap_cells = page.locator("#fig-cohorts .heatmaplayer image, #fig-cohorts .hm").count()
    errors, external = opened.errors, opened.external
    assert errors == []
    assert external == []
    assert n_plots >= 4  # warnings by kind, reasons Pareto, cohort heat map, churn trend
    assert rendered >= n_plots
    assert "Why customers left (Pareto)" in titles
    assert any(t.startswith("Retention by acquisition cohort") for t in titles)
    assert heatmap_cells >= 1
