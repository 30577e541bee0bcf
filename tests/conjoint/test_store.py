"""Saving a fitted study in the store and loading it back gives the same numbers, to the last bit."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest

from keepwise.conjoint.results import importance, part_worths, wtp
from keepwise.conjoint.simulator import share_of_preference
from keepwise.conjoint.store import list_studies, load_result, save_result
from keepwise.exceptions import KeepwiseInputError
from keepwise.store import connect

from .conftest import winback_answers

MARKET = [
    {
        "name": "ours",
        "plan": "Standard",
        "free_months": "1",
        "support": "Phone",
        "contract": "Monthly",
        "price": 29,
    },
    {
        "name": "rival",
        "plan": "Premium",
        "free_months": "0",
        "support": "Email",
        "contract": "Annual",
        "price": 39,
    },
]


def assert_same(a, b):
    pd.testing.assert_frame_equal(part_worths(a), part_worths(b), check_exact=True)
    pd.testing.assert_frame_equal(importance(a), importance(b), check_exact=True)
    pd.testing.assert_frame_equal(wtp(a), wtp(b), check_exact=True)
    pd.testing.assert_series_equal(
        share_of_preference(a, MARKET), share_of_preference(b, MARKET), check_exact=True
    )
    assert a.coefficients == b.coefficients and a.std_errors == b.std_errors
    pd.testing.assert_frame_equal(a.model.summary, b.model.summary, check_exact=True)


@pytest.mark.parametrize("kind", ["winback_mnl", "winback_hb"])
def test_round_trip_through_a_duckdb_file(kind, request, tmp_path):
    fitted = request.getfixturevalue(kind)
    url = f"duckdb:///{tmp_path}/kw.duckdb"
    backend = connect(url)
    save_result(backend, fitted, "spring", source="answers.csv")
    backend.disconnect()
    loaded = load_result(connect(url))
    assert loaded is not None
    assert loaded.study == "spring" and loaded.currency == "USD"
    assert loaded.coding == fitted.coding
    assert_same(fitted, loaded)
    assert type(loaded.model) is type(fitted.model)
    np.testing.assert_array_equal(loaded.betas(), fitted.betas())


def test_estimates_table_is_readable_in_sql(winback_mnl):
    backend = connect("duckdb://:memory:")
    save_result(backend, winback_mnl, "spring")
    rows = backend.con.execute(
        "SELECT coefficient, estimate, std_error FROM conjoint_estimates "
        "WHERE study = 'spring' ORDER BY position"
    ).fetchall()
    assert [r[0] for r in rows] == winback_mnl.coding.names
    assert [r[1] for r in rows] == list(winback_mnl.model.coef_)
    assert [r[2] for r in rows] == list(winback_mnl.model.se_)


def test_latest_study_named_study_and_replacing(winback_mnl, winback_hb):
    backend = connect("duckdb://:memory:")
    assert load_result(backend) is None
    save_result(backend, winback_hb, "old", saved_at=datetime(2024, 1, 1, tzinfo=UTC))
    save_result(backend, winback_mnl, "new", saved_at=datetime(2024, 6, 1, tzinfo=UTC))
    assert load_result(backend).study == "new"
    assert type(load_result(backend, "old").model).__name__ == "HierarchicalBayesMNL"
    save_result(backend, winback_mnl, "old", saved_at=datetime(2024, 7, 1, tzinfo=UTC))  # replaces "old"
    assert list_studies(backend)["study"].tolist() == ["old", "new"]
    assert load_result(backend).model.__class__.__name__ == "ConditionalLogit"
    n = backend.con.execute("SELECT count(*) FROM conjoint_estimates WHERE study = 'old'").fetchone()[0]
    assert n == len(winback_mnl.coding.names)
    with pytest.raises(
        KeepwiseInputError, match="no conjoint study 'autumn' in the store \\(saved: old, new\\)"
    ):
        load_result(backend, "autumn")


def test_estimate_save_on_the_command_line(tmp_path, winback_mnl):
    answers = tmp_path / "answers.csv"
    winback_answers(300).to_csv(answers, index=False)
    url = f"duckdb:///{tmp_path}/kw.duckdb"
    result = subprocess.run(
        [
            sys.executable, "-m", "keepwise.cli", "conjoint", "estimate", "--file", str(answers),
            "--task-column", "task", "--alternative-column", "alternative", "--choice-column", "chosen",
            "--respondent-column", "respondent", "--attributes", "plan,free_months,support,contract,price",
            "--categorical", "free_months", "--none-column", "none", "--price-column", "price",
            "--currency", "usd", "--save", "spring", "--db", url, "--json",
        ],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["saved_as"] == "spring"
    loaded = load_result(connect(url), "spring")
    assert loaded.currency == "USD"
    assert loaded.coefficients == pytest.approx(doc["coefficients"], rel=1e-12)
    # the same answers fitted in Python give the same model as the stored one
    assert loaded.coefficients == pytest.approx(winback_mnl.coefficients, rel=1e-9)


def test_show_a_saved_study(tmp_path, winback_mnl):
    url = f"duckdb:///{tmp_path}/kw.duckdb"

    def show(*args):
        return subprocess.run(
            [sys.executable, "-m", "keepwise.cli", "conjoint", "show", "--db", url, *args],
            capture_output=True, text=True,
        )  # fmt: skip

    empty = show("--json")
    assert empty.returncode == 2
    assert empty.stderr == (
        "error: the store holds no conjoint study: fit one with keepwise conjoint estimate ... --save NAME\n"
    )
    backend = connect(url)
    save_result(backend, winback_mnl, "spring")
    backend.disconnect()
    page = tmp_path / "spring.html"
    result = show("--study", "spring", "--html", str(page), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["study"] == "spring" and doc["model"] == "ConditionalLogit"
    assert doc["importance"] == importance(winback_mnl).to_dict(orient="records")
    assert doc["wtp"] == wtp(winback_mnl).to_dict(orient="records")
    html = page.read_text(encoding="utf-8")
    assert "<script src=" not in html and 'id="conjoint-whatif"' in html
    missing = show("--study", "autumn")
    assert (
        missing.returncode == 2
        and "no conjoint study 'autumn' in the store (saved: spring)" in missing.stderr
    )


def test_prohibitions_round_trip(tmp_path, winback_mnl):
    from keepwise.conjoint.store import study_prohibitions
    from keepwise.conjoint.study import load_study

    from .conftest import EXAMPLE_STUDY

    rules = study_prohibitions(load_study(EXAMPLE_STUDY))
    # the example file's two rules, as labels (the price as a number)
    assert rules == [
        {"plan": "Basic", "support": "Dedicated manager"},
        {"plan": "Premium", "price": 19.0},
    ]
    url = f"duckdb:///{tmp_path}/kw.duckdb"
    backend = connect(url)
    saved = save_result(backend, winback_mnl, "spring", prohibitions=rules)
    save_result(backend, winback_mnl, "bare", saved_at=datetime(2000, 1, 1, tzinfo=UTC))
    save_result(backend, winback_mnl, "open", prohibitions=[], saved_at=datetime(2000, 1, 2, tzinfo=UTC))
    backend.disconnect()
    backend = connect(url)
    assert saved.prohibitions == tuple(rules)
    assert load_result(backend, "spring").prohibitions == tuple(rules)
    assert load_result(backend).prohibitions == tuple(rules)  # the latest
    assert load_result(backend, "bare").prohibitions is None  # not recorded
    assert load_result(backend, "open").prohibitions == ()  # recorded: none
    # the numbers are untouched by the extra key in the coding JSON
    assert_same(load_result(backend, "spring"), winback_mnl)
    # a rule that does not fit the fitted coding: one line naming where it came from and the level
    with pytest.raises(KeepwiseInputError) as bad:
        save_result(
            backend,
            winback_mnl,
            "x",
            prohibitions=[{"plan": "Gold", "price": 19}],
            prohibitions_from="s.yaml",
        )
    assert str(bad.value) == (
        "s.yaml: prohibitions[0]: 'Gold' is not a level of 'plan' in the fitted study "
        "(levels: ['Basic', 'Premium', 'Standard'])"
    )
    with pytest.raises(
        KeepwiseInputError, match=r"^s.yaml: prohibitions\[0\]: '25' is not a level of 'price'"
    ):
        save_result(backend, winback_mnl, "x", prohibitions=[{"price": 25}], prohibitions_from="s.yaml")
    with pytest.raises(KeepwiseInputError, match=r"attribute 'colour' is not in the fitted study"):
        save_result(backend, winback_mnl, "x", prohibitions=[{"colour": "red"}])
    assert "x" not in list_studies(backend)["study"].tolist()
    backend.disconnect()


def test_estimate_save_with_the_study_file(tmp_path):
    from .conftest import EXAMPLE_STUDY

    answers = tmp_path / "answers.csv"
    winback_answers(300).to_csv(answers, index=False)
    url = f"duckdb:///{tmp_path}/kw.duckdb"

    def run(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable, "-m", "keepwise.cli", "conjoint", "estimate", "--file", str(answers),
                "--task-column", "task", "--alternative-column", "alternative", "--choice-column", "chosen",
                "--respondent-column", "respondent",
                "--attributes", "plan,free_months,support,contract,price", "--categorical", "free_months",
                "--none-column", "none", "--price-column", "price",
                "--db", url, "--json", *extra,
            ],
            capture_output=True, text=True,
        )  # fmt: skip

    result = run("--save", "spring", "--study", str(EXAMPLE_STUDY))
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    rules = [{"plan": "Basic", "support": "Dedicated manager"}, {"plan": "Premium", "price": 19.0}]
    assert doc["prohibitions"] == rules
    assert load_result(connect(url), "spring").prohibitions == tuple(rules)
    alone = run("--study", str(EXAMPLE_STUDY))
    assert alone.returncode != 0
    assert f"{EXAMPLE_STUDY}: --study keeps the study's prohibitions with --save NAME only" in alone.stderr
    assert "Traceback" not in alone.stderr


def test_the_front_doors_return_what_the_commands_print(tmp_path):
    """keepwise.conjoint.estimate (saved) and .show: their to_json() is the commands' --json document."""
    from keepwise.conjoint import estimate, show
    from keepwise.conjoint.store import study_prohibitions
    from keepwise.conjoint.study import load_study

    from .conftest import EXAMPLE_STUDY

    answers = tmp_path / "answers.csv"
    winback_answers(200).to_csv(answers, index=False)
    url = f"duckdb:///{tmp_path}/kw.duckdb"

    def cli(*args: str) -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "keepwise.cli", "conjoint", *args, "--db", url, "--json"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    printed = cli(
        "estimate", "--file", str(answers), "--task-column", "task", "--alternative-column", "alternative",
        "--choice-column", "chosen", "--respondent-column", "respondent",
        "--attributes", "plan,free_months,support,contract,price", "--categorical", "free_months",
        "--none-column", "none", "--price-column", "price", "--currency", "usd",
        "--save", "spring", "--study", str(EXAMPLE_STUDY),
    )  # fmt: skip
    assert printed.pop("seconds") >= 0
    fitted = estimate(
        answers, ["plan", "free_months", "support", "contract", "price"], "task", "alternative", "chosen",
        respondent="respondent", categorical=["free_months"], none="none", price="price", currency="usd",
    )  # fmt: skip
    assert "saved_as" not in fitted.to_json()
    store = connect(url)
    try:
        saved = fitted.save(
            store, "spring", source=str(answers),
            prohibitions=study_prohibitions(load_study(EXAMPLE_STUDY)), prohibitions_from=str(EXAMPLE_STUDY),
            terms=load_study(EXAMPLE_STUDY).terms,  # --study keeps the levels' words and costs too
        )  # fmt: skip
    finally:
        store.disconnect()
    assert json.loads(json.dumps(saved.to_json())) == printed
    shown = cli("show", "--study", "spring")
    store = connect(url)
    try:
        assert json.loads(json.dumps(show(store, "spring").to_json())) == shown
    finally:
        store.disconnect()
    with pytest.raises(KeepwiseInputError, match="study: the store holds no conjoint study"):
        show(connect(f"duckdb:///{tmp_path}/empty.duckdb"))
