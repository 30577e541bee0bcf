"""Designs: level balance, no prohibited offer, D-error below a random design's, files and questionnaire."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keepwise.conjoint.design import Design, balanced_overlap, d_efficient, random_design
from keepwise.conjoint.study import load_study, study_from_dict
from keepwise.exceptions import KeepwiseInputError

EXAMPLE = Path(__file__).parents[2] / "examples" / "conjoint" / "winback_study.yaml"


@pytest.fixture(scope="module")
def study():
    return load_study(EXAMPLE)


@pytest.fixture(scope="module")
def efficient(study):
    return d_efficient(study, tasks=12, versions=3, seed=5)


def test_example_study_reads_as_written(study):
    assert study.names == ["plan", "free_months", "support", "contract", "price"]
    assert study.price == "price" and study.attribute("price").levels == (19.0, 29.0, 39.0, 49.0)
    assert study.none_option and study.none_label == "I would not come back"
    assert study.prohibitions == ({0: 0, 2: 2}, {0: 2, 4: 0})


@pytest.mark.parametrize("build", [balanced_overlap, d_efficient])
def test_levels_are_balanced_within_every_version(study, build):
    design = build(study, tasks=12, versions=3, seed=1)
    # 36 offers per version: 3-level attributes 12 times each, 2 levels 18 times, the 4 prices 9 times
    assert design.level_balance() == {a: 1.0 for a in study.names}
    assert design.level_counts()["price"] == {"19": 27, "29": 27, "39": 27, "49": 27}


@pytest.mark.parametrize("build", [balanced_overlap, d_efficient, random_design])
def test_no_prohibited_or_repeated_offer(study, build):
    design = build(study, tasks=12, versions=3, seed=2)
    assert design.n_prohibited() == 0
    assert design.n_repeated_alternatives() == 0
    frame = design.to_frame()
    offers = frame[frame["none"] == 0]
    assert not ((offers["plan"] == "Basic") & (offers["support"] == "Dedicated manager")).any()
    assert not ((offers["plan"] == "Premium") & (offers["price"] == 19)).any()


def test_d_efficient_beats_balanced_overlap_and_random_designs(study, efficient):
    random_errors = [random_design(study, 12, 3, seed=s).d_error() for s in range(10)]
    balanced = balanced_overlap(study, 12, 3, seed=5).d_error()
    assert efficient.d_error() < balanced < float(np.median(random_errors))
    assert efficient.d_error() < min(random_errors)


def test_task_information_at_zero_is_the_hand_formula(study):
    # two offers, each chosen with probability 1/2: X'(diag p - pp')X = (x1 - x2)(x1 - x2)' / 4
    from keepwise.conjoint.design import _task_information, design_matrix

    levels = np.array([[[0, 0, 0, 0, 0], [1, 1, 1, 1, 3]]])
    X = design_matrix(study, levels)
    info = _task_information(X, None)[0]
    diff = X[0, 0] - X[0, 1]
    np.testing.assert_allclose(info, np.outer(diff, diff) / 4)


def test_files_written_by_a_design(study, efficient, tmp_path):
    paths = efficient.write(tmp_path)
    design = pd.read_csv(paths["design"])
    # 3 versions x 12 tasks x (3 offers + none)
    assert len(design) == 3 * 12 * 4
    assert list(design.columns) == ["version", "task", "alternative", *study.names, "none"]
    template = pd.read_csv(paths["answers_template"])
    assert list(template.columns) == ["respondent", "version", "task", "choice"]
    assert len(template) == 36
    html = paths["questionnaire"].read_text()
    assert html.count('<table class="task"') == 36
    assert html.count('class="version"') == 3
    assert "I would not come back" in html and "49.00 USD" in html


def test_answers_join_the_design_into_long_format(study, efficient):
    answers = efficient.answers_template()
    answers["choice"] = [1 + i % 4 for i in range(len(answers))]
    long = efficient.answers_to_long(answers)
    assert len(long) == len(answers) * 4
    assert (long.groupby(["respondent", "task"])["chosen"].sum() == 1).all()
    none_chosen = long[(long["none"] == 1) & (long["chosen"] == 1)]
    assert len(none_chosen) == (answers["choice"] == 4).sum()


def test_an_answer_out_of_range_names_row_and_column(efficient):
    answers = efficient.answers_template()
    answers["choice"] = 1
    answers.loc[4, "choice"] = 7
    with pytest.raises(
        KeepwiseInputError, match=r"a.csv, row 5, column 'choice': expected a whole number from 1 to 4"
    ):
        efficient.answers_to_long(answers, source="a.csv")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"attributes": []}, "'attributes' must be a non-empty list"),
        (
            {"attributes": [{"name": "a", "levels": ["x"]}]},
            r"attributes\[0\] \('a'\) needs at least two levels",
        ),
        (
            {"attributes": [{"name": "a", "levels": ["x", "y"]}], "price": {"levels": [1, "y"]}},
            "price levels",
        ),
        (
            {
                "attributes": [{"name": "a", "levels": ["x", "y"]}, {"name": "b", "levels": ["u", "v"]}],
                "prohibitions": [{"a": "x", "c": "u"}],
            },
            r"prohibitions\[0\]: unknown attribute 'c'",
        ),
        (
            {
                "attributes": [{"name": "a", "levels": ["x", "y"]}, {"name": "b", "levels": ["u", "v"]}],
                "prohibitions": [{"a": "x", "b": "u"}, {"a": "x", "b": "v"}],
            },
            r"the prohibitions exclude every offer with a = \['x'\]",
        ),
        (
            {"attributes": [{"name": "a", "levels": ["x", "y"]}], "colour": 1},
            r"unknown key\(s\) \['colour'\]",
        ),
    ],
)
def test_study_mistakes_are_one_line_errors(doc, message):
    with pytest.raises(KeepwiseInputError, match=message):
        study_from_dict(doc, source="s.yaml")


def test_bad_yaml_names_the_line(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("attributes:\n  - name: a\n    levels: [x, y\n")
    with pytest.raises(KeepwiseInputError, match=r"s.yaml, line \d+: not valid YAML"):
        load_study(path)


def test_too_few_tasks_for_the_part_worths(study):
    with pytest.raises(
        KeepwiseInputError, match=r"cannot identify 8 part-worths per respondent: use at least 4"
    ):
        balanced_overlap(study, tasks=3, versions=1)


def test_designs_are_reproducible(study):
    a = d_efficient(study, 8, 2, seed=9, iterations=500)
    b = d_efficient(study, 8, 2, seed=9, iterations=500)
    assert isinstance(a, Design) and np.array_equal(a.levels, b.levels)
    assert re.fullmatch(r"d-efficient", a.method)
