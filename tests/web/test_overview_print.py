"""The review as a printed report: ``keepwise review --pdf`` through a headless Chromium, and ``/?print=1``.

The PDF must exist, be a PDF (``%PDF``) of at least one A4 page and, read back with pypdf when it is
installed, carry the review's headline figures as the CLI printed them.
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

import pytest

from keepwise.money import shown

from .conftest import MONTH, TOKEN, cli


@pytest.mark.browser
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_review_pdf_has_the_charts_pages_and_headline_figures(store_url, reviews, tmp_path):
    pdf = tmp_path / "review.pdf"
    code, stdout, err = cli("review", "--month", MONTH, "--json", "--html", str(tmp_path / "review.html"),
                            "--pdf", str(pdf), "--db", store_url)  # fmt: skip
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["pdf"] == str(pdf.resolve())
    # the same review, printed; its outreach line says what other tests of this session's shared store
    # have saved since the review fixture ran, so it is left out of the comparison
    printed = {k: v for k, v in doc["headlines"].items() if k != "outreach"}
    assert printed == {k: v for k, v in reviews[MONTH]["headlines"].items() if k != "outreach"}
    data = pdf.read_bytes()
    assert data[:4] == b"%PDF"
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") >= 1
    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(str(pdf))
    assert len(reader.pages) >= 2
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    lost = doc["lost"]
    at_risk = sum(Decimal(w["value_at_risk"]) for w in doc["warnings"])
    for figure in (
        f"{lost['count']:,} customers were lost in the last 12 months",
        shown(Decimal(lost["annual_margin_lost"]), "USD", whole=True),
        shown(at_risk, "USD", whole=True),
    ):
        assert figure in text
    assert "Why customers left (Pareto)" in text  # the charts were drawn before printing
    assert "Retention by acquisition cohort" in text


def test_review_pdf_without_chromium_is_one_line_saying_how_to_print(
    store_url, reviews, tmp_path, monkeypatch
):
    import keepwise.report.pdf as printing

    monkeypatch.setattr(printing.shutil, "which", lambda name: None)
    code, stdout, err = cli("review", "--month", MONTH, "--pdf", str(tmp_path / "r.pdf"), "--db", store_url)
    assert code == 2 and stdout == ""
    assert err.count("\n") == 1
    assert err.startswith("error: --pdf: printing the report needs Chromium")
    assert "apt-get install chromium" in err and "/?print=1" in err
    assert not (tmp_path / "r.pdf").exists()


def test_the_overview_prints_as_a_report(client, reviews):
    client.headers.pop("Authorization")
    client.post("/login", data={"token": TOKEN, "next": "/"}, follow_redirects=False)
    page = client.get("/", params={"print": "1"})
    assert page.status_code == 200
    assert '<body class="printing">' in page.text
    assert 'href="/?month=2025-11&amp;print=1"' in client.get("/").text  # the link to it
    css = client.get("/static/keepwise.css").text
    printing = css.split("@media print")[1]
    for rule in ("header, footer, nav.pager", "section { break-before: page;", "break-inside: avoid"):
        assert rule in printing
    assert "@page { size: A4;" in css
