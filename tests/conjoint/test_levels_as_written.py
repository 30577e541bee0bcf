"""Levels stay as the study writes them through every file (issue 17 item 8), and the study's terms are kept.

design.csv -> filled sheets -> ``conjoint answers`` -> ``conjoint estimate --study --save`` -> the store ->
the win-back offer: a price level ``49`` is never written ``49.0``, a level ``1`` never ``1.0``, and the
study's words and costs of its levels travel with the fitted study.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from keepwise.conjoint.coding import Coding
from keepwise.conjoint.design import d_efficient
from keepwise.conjoint.simulator import simulate_answers
from keepwise.conjoint.store import load_result
from keepwise.conjoint.study import load_study
from keepwise.store import connect

EXAMPLE = Path(__file__).parents[2] / "examples" / "conjoint" / "winback_study.yaml"
BETA = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.08, 0.5])


def keepwise(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "keepwise.cli", *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """design.csv from the command, 300 respondents' filled sheets, joined by ``conjoint answers``."""
    out = tmp_path_factory.mktemp("written")
    made = keepwise("conjoint", "design", str(EXAMPLE), "--tasks", "8", "--versions", "3", "--seed", "5",
                    "--out", str(out / "design"))  # fmt: skip
    assert made.returncode == 0, made.stderr
    study = load_study(EXAMPLE)
    long = simulate_answers(
        d_efficient(study, 8, 3, seed=5), Coding.from_study(study), np.tile(BETA, (300, 1))
    )
    picked = long[long["chosen"] == 1]
    sheet = picked[["respondent", "version", "task", "alternative"]].rename(columns={"alternative": "choice"})
    sheet.to_csv(out / "answers.csv", index=False)
    done = keepwise("conjoint", "answers", str(out / "design"), str(out / "answers.csv"),
                    "--out", str(out / "long.csv"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    return out


def test_design_csv_writes_the_price_as_the_study_does(joined: Path) -> None:
    text = pd.read_csv(joined / "design" / "design.csv", dtype=str, keep_default_na=False)
    assert set(text.loc[text["none"] == "0", "price"]) == {"19", "29", "39", "49"}  # never 49.0
    assert set(text.loc[text["none"] == "1", "price"]) == {"0"}
    assert set(text.loc[text["none"] == "0", "free_months"]) == {"0", "1", "3"}


def test_estimate_with_the_study_keeps_its_levels_and_terms(joined: Path, tmp_path: Path) -> None:
    """No --categorical: the study file says free_months is categorical; its words and costs are saved."""
    db = f"duckdb:///{tmp_path / 'store.duckdb'}"
    done = keepwise("conjoint", "estimate", "--file", str(joined / "long.csv"), "--task-column", "task",
                    "--alternative-column", "alternative", "--choice-column", "chosen",
                    "--respondent-column", "respondent", "--attributes",
                    "plan,free_months,support,contract,price,none", "--none-column", "none",
                    "--price-column", "price", "--study", str(EXAMPLE), "--save", "winback", "--db", db,
                    "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert "free_months[0]" in doc["coefficients"] and "free_months[1]" in doc["coefficients"]
    assert doc["terms"]["price_per"] == "month"
    backend = connect(db, read_only=True)
    try:
        result = load_result(backend)
    finally:
        backend.disconnect()
    assert result is not None and result.terms is not None
    assert result.coding.attribute("free_months").levels == ("0", "1", "3")
    assert result.terms.lost_offer == {
        "plan": "Standard", "free_months": "0", "support": "Email", "contract": "Monthly", "price": "49",
    }  # fmt: skip
    assert result.terms.words({"free_months": 1}, "en") == "1 month free"  # the level 1, written 1


def test_a_numeric_attribute_left_blank_on_the_none_row_codes_as_zero(joined: Path) -> None:
    """Without --categorical free_months is linear; its blank cell on the "none" row is no level, i.e. 0."""
    done = keepwise("conjoint", "estimate", "--file", str(joined / "long.csv"), "--task-column", "task",
                    "--alternative-column", "alternative", "--choice-column", "chosen",
                    "--respondent-column", "respondent", "--attributes",
                    "plan,free_months,support,contract,price,none", "--none-column", "none",
                    "--price-column", "price", "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "free_months" in json.loads(done.stdout)["coefficients"]


def test_a_study_level_written_as_a_mapping_is_checked() -> None:
    from keepwise.conjoint.study import study_from_dict
    from keepwise.exceptions import KeepwiseInputError

    base = {"attributes": [{"name": "plan", "levels": ["A", {"level": "B", "cost": {"per_week": 3}}]}]}
    with pytest.raises(KeepwiseInputError, match=r"attributes\[0\]\.levels\[1\]: 'cost' is \{one_off"):
        study_from_dict(base)
    base["attributes"][0]["levels"][1] = {"level": "B", "cost": {"one_off": -3}}
    with pytest.raises(KeepwiseInputError, match="a cost must be a number of zero or more"):
        study_from_dict(base)
    base["attributes"][0]["levels"][1] = {"level": "B", "label": "plan B", "label_pl": "plan B (pl)"}
    terms = study_from_dict(base).terms
    assert terms is not None and terms.words({"plan": "B"}, "pl") == "plan B (pl)"
    assert terms.words({"plan": "A"}, "pl") == "plan: A"


def test_a_lost_offer_must_name_the_studys_levels() -> None:
    from keepwise.conjoint.study import study_from_dict
    from keepwise.exceptions import KeepwiseInputError

    doc = {"attributes": [{"name": "plan", "levels": ["A", "B"]}], "lost_offer": {"plan": "C"}}
    with pytest.raises(KeepwiseInputError, match=r"lost_offer: 'C' is not a level of 'plan'"):
        study_from_dict(doc)
