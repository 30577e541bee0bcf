"""``keepwise conjoint answers``: filled answer sheets joined to design.csv, the long format estimate reads.

The round trip a study runs: ``conjoint design`` writes design.csv and answers_template.csv; respondents fill
in the sheets; ``conjoint answers`` joins them to the design; ``conjoint estimate`` fits the model. Checked
against the same answers joined in memory by :func:`keepwise.conjoint.simulator.simulate_answers` (the
estimates must agree to the last digit) and on the level ``1`` of the study, which must come back as ``1``.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from keepwise.conjoint.coding import Coding
from keepwise.conjoint.design import d_efficient
from keepwise.conjoint.results import estimate
from keepwise.conjoint.simulator import simulate_answers
from keepwise.conjoint.study import level_text, load_study

EXAMPLE = Path(__file__).parents[2] / "examples" / "conjoint" / "winback_study.yaml"
BETA = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.08, 0.5])


def keepwise(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "keepwise.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def study_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    """design.csv from the command, and 600 respondents' answers as filled sheets (some rows left blank)."""
    out = tmp_path_factory.mktemp("study")
    made = keepwise("conjoint", "design", str(EXAMPLE), "--tasks", "8", "--versions", "3", "--seed", "5",
                    "--out", str(out / "design"))  # fmt: skip
    assert made.returncode == 0, made.stderr
    study = load_study(EXAMPLE)
    design = d_efficient(study, 8, 3, seed=5)
    long = simulate_answers(design, Coding.from_study(study), np.tile(BETA, (600, 1)), seed=9)
    picked = long[long["chosen"] == 1]
    sheet = pd.DataFrame(
        {
            "respondent": "R" + picked["respondent"].astype(str),
            "version": picked["version"],
            "task": picked["task"],
            "choice": picked["alternative"],
        }
    )
    blank = pd.DataFrame({"respondent": ["R999", "R999"], "version": [1, 1], "task": [1, 2], "choice": ""})
    answers = pd.concat([sheet, blank], ignore_index=True)
    answers.to_csv(out / "answers.csv", index=False)
    return out, long


def test_answers_join_the_sheets_to_the_design(study_files: tuple[Path, pd.DataFrame]) -> None:
    """Every answered task gives its offers and the none row, chosen where the sheet says; blanks skipped."""
    out, long = study_files
    done = keepwise("conjoint", "answers", str(out / "design"), str(out / "answers.csv"),
                    "--out", str(out / "long.csv"), "--study", str(EXAMPLE), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["answered_tasks"] == 600 * 8 and doc["skipped_rows"] == 2 and doc["respondents"] == 600
    assert doc["rows"] == 600 * 8 * 4  # 3 offers and "none" per task
    got = pd.read_csv(out / "long.csv", dtype={"free_months": str})
    assert sorted(got["free_months"].dropna().unique()) == ["0", "1", "3"]  # as the study writes them
    mine = got.assign(respondent=got["respondent"].str[1:].astype(int))
    key = ["respondent", "version", "task", "alternative"]
    both = mine.merge(long, on=key, suffixes=("", "_sim"))
    assert len(both) == len(long) and (both["chosen"] == both["chosen_sim"]).all()
    assert "--categorical free_months" in doc["next"] and "--price-column price" in doc["next"]


def test_the_next_command_estimates_what_the_answers_say(study_files: tuple[Path, pd.DataFrame]) -> None:
    """The printed estimate command on the joined file gives the in-memory estimate, to the last digit."""
    out, long = study_files
    done = keepwise("conjoint", "answers", str(out / "design"), str(out / "answers.csv"),
                    "--out", str(out / "long2.csv"), "--study", str(EXAMPLE), "--json")  # fmt: skip
    argv = shlex.split(json.loads(done.stdout)["next"])[1:]
    fitted = keepwise(*argv, "--json")
    assert fitted.returncode == 0, fitted.stderr
    cli = json.loads(fitted.stdout)["coefficients"]
    attributes = ["plan", "free_months", "support", "contract", "price", "none"]
    frame = long.assign(free_months=long["free_months"].map(level_text, na_action="ignore"))
    direct = estimate(frame, attributes, "task", "alternative", "chosen", "respondent",
                      categorical=["free_months"], price="price", none="none")  # fmt: skip
    for name, value in direct.coefficients.items():
        assert cli[name] == pytest.approx(value, rel=1e-9, abs=1e-12)
    assert direct.coefficients["price"] == pytest.approx(BETA[7], abs=0.02)  # the respondents' true -0.08


def test_simulate_takes_the_study_s_level_1(study_files: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    """The level 1 of free_months, written 1 in an offers file, is found in the joined answers."""
    out, _ = study_files
    keepwise("conjoint", "answers", str(out / "design"), str(out / "answers.csv"), "--out",
             str(tmp_path / "long.csv"))  # fmt: skip
    offers = tmp_path / "offers.yaml"
    base = {"plan": "Standard", "free_months": 1, "support": "Phone", "contract": "Monthly"}
    offers.write_text(yaml.safe_dump({"candidates": [{**base, "price": p, "cost": 12} for p in (29, 49)]}))
    done = keepwise("conjoint", "simulate", "--file", str(tmp_path / "long.csv"), "--task-column", "task",
                    "--alternative-column", "alternative", "--choice-column", "chosen", "--respondent-column",
                    "respondent", "--attributes", "plan,free_months,support,contract,price,none",
                    "--categorical", "free_months", "--none-column", "none", "--price-column", "price",
                    "--offers", str(offers), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["best_offer"]["free_months"] in (1, "1")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"respondent": "A", "version": 1, "task": 1, "choice": 7},
            "row 2, column 'choice': 7 is not an offer",
        ),
        ({"respondent": "A", "version": 9, "task": 1, "choice": 1}, "row 2: version 9, task 1 is not in"),
        (
            {"respondent": "A", "version": 1, "task": "x", "choice": 1},
            "row 2, column 'task': expected a whole",
        ),
    ],
)
def test_bad_sheets_name_the_row(
    study_files: tuple[Path, pd.DataFrame], tmp_path: Path, row, message
) -> None:
    """A wrong answer is one line naming the file, the row as a spreadsheet numbers it and the column."""
    out, _ = study_files
    sheet = tmp_path / "answers.csv"
    pd.DataFrame([row]).to_csv(sheet, index=False)
    done = keepwise("conjoint", "answers", str(out / "design"), str(sheet), "--out", str(tmp_path / "l.csv"))
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_level_text_keeps_levels_as_written() -> None:
    """1, 1.0 and "1.0" are the level "1"; other text is unchanged."""
    assert [level_text(v) for v in (1, 1.0, "1.0", "1.50", "007", "Premium", 2.5)] == [
        "1", "1", "1", "1.50", "007", "Premium", "2.5",
    ]  # fmt: skip


def test_a_task_answered_twice_is_refused(study_files: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    """The same respondent answering the same task twice names the second row."""
    out, _ = study_files
    sheet = tmp_path / "answers.csv"
    pd.DataFrame({"respondent": ["A", "A"], "version": [1, 1], "task": [2, 2], "choice": [1, 2]}).to_csv(
        sheet, index=False
    )
    done = keepwise("conjoint", "answers", str(out / "design"), str(sheet), "--out", str(tmp_path / "l.csv"))
    assert done.returncode == 2
    assert "row 3: respondent 'A' answered task 2 of version 1 twice" in done.stderr
