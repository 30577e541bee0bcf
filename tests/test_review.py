"""The monthly review end to end on a simulated business: JSON shape, store write-back, sections, CLI."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from keepwise.datasets.simulate import simulate
from keepwise.exceptions import KeepwiseInputError
from keepwise.report import render_html
from keepwise.review import SECTIONS, Section, run_review
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order

MONEY = re.compile(r"^-?\d+\.\d{2}$")


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("review") / "kw.duckdb"
    url = f"duckdb:///{path}"
    biz = simulate(customers=1500, months=24, seed=3)
    b = connect(url)
    for name in load_order(list(biz.tables)):
        load_frame(b, name, biz.tables[name])
    b.disconnect()
    return url


@pytest.fixture(scope="module")
def review(db):
    b = connect(db)
    try:
        return run_review(b, "2025-12")
    finally:
        b.disconnect()


def test_json_document(review):
    doc = json.loads(json.dumps(review.to_json(), allow_nan=False))
    assert doc["month"] == "2025-12"
    assert {"warnings", "lost", "metrics"} <= set(doc)
    kinds = {"aov_decline", "overdue", "dropped_category", "p_alive_drop"}
    assert doc["warnings"], "the simulated business has planted warning patterns"
    for w in doc["warnings"]:
        assert set(w) == {"customer_id", "kind", "evidence", "value_at_risk"}
        assert w["kind"] in kinds and MONEY.match(w["value_at_risk"]) and w["evidence"]
    values = [float(w["value_at_risk"]) for w in doc["warnings"]]
    assert values == sorted(values, reverse=True)
    pairs = [(w["customer_id"], w["kind"]) for w in doc["warnings"]]
    assert len(pairs) == len(set(pairs))  # one entry per customer and kind
    lost = doc["lost"]
    assert {"count", "by_reason", "lifetime_value_lost", "customers"} <= set(lost)
    assert lost["count"] == len(lost["customers"]) == sum(lost["by_reason"].values())
    assert all(c["competitor"] is None or isinstance(c["competitor"], str) for c in lost["customers"])
    assert lost["lifetime_value_lost"]["discounted_method"] == "purchase-model lifetime value"
    assert float(lost["lifetime_value_lost"]["discounted"]) < float(lost["lifetime_value_lost"]["simple"])
    assert MONEY.match(lost["lifetime_value_lost"]["simple"]) and MONEY.match(
        lost["lifetime_value_lost"]["discounted"]
    )
    names = {"cohorts", "monthly", "revenue_retention", "reactivations", "no_purchase_rate"}
    assert names <= set(doc["metrics"])


def test_headline_in_plain_words(review):
    assert re.match(
        r"^[\d,]+ customers worth \$[\d,]+ a year in margin show warning signs", review.headlines[0]
    )


def test_results_are_written_back_and_rerun_replaces_them(db, review):
    b = connect(db)
    try:
        n = b.table("review_warnings").count().execute()
        assert n == len(review.to_json()["warnings"])
        run_review(b, "2025-12")
        assert b.table("review_warnings").count().execute() == n
        assert b.table("review_lost").count().execute() == review.to_json()["lost"]["count"]
        assert set(b.table("review_metrics").columns) >= {"review_month", "month", "no_purchase_rate"}
    finally:
        b.disconnect()


def test_a_section_of_ones_own_joins_the_review(db):
    def extra(ctx):
        return Section(
            key="extra",
            title="Extra",
            headline="An extra finding",
            data={"n": len(ctx.sections)},
            html="<p id='extra-p'>hello</p>",
        )

    b = connect(db)
    try:
        r = run_review(b, "2025-12", write=False, sections=[*SECTIONS, ("extra", extra)])
    finally:
        b.disconnect()
    # the provider sees the sections that ran before it
    keys = [s.key for s in r.sections]
    assert r.to_json()["extra"] == {"n": keys.index("extra")} and keys.index("extra") >= 3
    assert "id='extra-p'" in render_html(r)


def test_month_before_the_data_is_a_user_error(db):
    b = connect(db)
    try:
        with pytest.raises(KeepwiseInputError, match="before the first order"):
            run_review(b, "2020-01")
    finally:
        b.disconnect()


def _cli(*args):
    code = "from keepwise.cli import main; main()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, check=False)


def test_cli_json(db, tmp_path):
    html = tmp_path / "r.html"
    res = _cli("review", "--db", db, "--month", "2025-12", "--json", "--html", str(html))
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["report"] == str(html) and html.exists()
    assert {"warnings", "lost", "metrics"} <= set(doc)


def test_cli_headlines(db, tmp_path):
    res = _cli("review", "--db", db, "--html", str(tmp_path / "r.html"))
    assert res.returncode == 0, res.stderr
    assert "show warning signs" in res.stdout and "Report:" in res.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--month", "2025-13"], "write it as YYYY-MM"),
        (["--month", "2025-12", "--html", "/no/such/folder/r.html"], "does not exist"),
    ],
)
def test_cli_user_mistakes_exit_2_with_one_line(db, args, message):
    res = _cli("review", "--db", db, *args)
    assert res.returncode == 2
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert "Traceback" not in res.stderr


def test_cli_empty_store(tmp_path):
    res = _cli("review", "--db", f"duckdb:///{tmp_path / 'empty.duckdb'}")
    assert res.returncode == 2
    assert "no orders" in res.stderr


def test_review_rules_come_from_keepwise_toml_and_are_shown(db, review):
    from keepwise.config import Config, ReviewAssumptions

    shown = {a["name"]: a for a in review.to_json()["assumptions"]}
    assert shown["review.inactivity_days"]["value"] == 180
    assert shown["review.inactivity_days"]["from"] == "default"
    assert "Assumptions used" in render_html(review) and "review.aov_alpha" in render_html(review)
    strict = Config(review=ReviewAssumptions(aov_alpha=1e-9, overdue_min_excess=100.0))
    patient = Config(review=ReviewAssumptions(inactivity_days=1000))
    b = connect(db)
    try:
        warnings_only = [s for s in SECTIONS if s[0] == "warnings"]
        lost_only = [s for s in SECTIONS if s[0] == "lost"]
        stricter = run_review(b, "2025-12", write=False, config=strict, sections=warnings_only)
        longer = run_review(b, "2025-12", write=False, config=patient, sections=lost_only)
    finally:
        b.disconnect()

    def count(r, kind):
        return sum(w["kind"] == kind for w in r.to_json()["warnings"])

    assert count(review, "aov_decline") > 0 and count(stricter, "aov_decline") == 0
    assert count(review, "overdue") > count(stricter, "overdue")
    assert count(review, "dropped_category") == count(stricter, "dropped_category")  # untouched rule
    # a longer inactivity rule judges fewer customers lost
    assert longer.to_json()["lost"]["count"] < review.to_json()["lost"]["count"]
    assert "max(1000 days" in longer.to_json()["lost"]["rule"]
    assert {a["name"]: a["value"] for a in longer.assumptions}["review.inactivity_days"] == 1000


def test_a_review_of_another_month_keeps_the_first_months_rows(db, review, tmp_path):
    """On a copy of the store: reviewing 2025-11 adds its rows and leaves 2025-12's as they were."""
    import shutil

    copy = tmp_path / "copy.duckdb"
    shutil.copy(db.removeprefix("duckdb:///"), copy)
    b = connect(f"duckdb:///{copy}")
    try:
        t = b.table("review_warnings")
        december = t.filter(t.review_month == "2025-12").order_by(["customer_id", "kind"]).to_pyarrow()
        november = run_review(b, "2025-11").to_json()
        t = b.table("review_warnings")
        counts = t.group_by("review_month").aggregate(n=t.count()).to_pandas().set_index("review_month")["n"]
        assert counts.to_dict() == {"2025-11": len(november["warnings"]), "2025-12": december.num_rows}
        kept = t.filter(t.review_month == "2025-12").order_by(["customer_id", "kind"]).to_pyarrow()
        assert kept.equals(december) and december.num_rows == len(review.to_json()["warnings"])
        docs = b.table("review_document").review_month.to_pyarrow().to_pylist()
        assert sorted(docs) == ["2025-11", "2025-12"]
    finally:
        b.disconnect()
