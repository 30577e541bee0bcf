"""keepwise conjoint design/estimate/simulate, and part-worths, importance, WTP and the offer optimiser."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from keepwise.conjoint.coding import Coding
from keepwise.conjoint.design import d_efficient
from keepwise.conjoint.results import estimate, importance, part_worths, wtp
from keepwise.conjoint.simulator import best_offer, first_choice, share_of_preference, simulate_answers
from keepwise.conjoint.study import load_study
from keepwise.exceptions import KeepwiseInputError

EXAMPLE = Path(__file__).parents[2] / "examples" / "conjoint" / "winback_study.yaml"
ATTRIBUTES = "plan,free_months,support,contract,price"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "conjoint", *args], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def answers(tmp_path_factory) -> Path:
    """2,000 simulated respondents with the same part-worths, saved as long format."""
    study = load_study(EXAMPLE)
    design = d_efficient(study, 12, 4, seed=2, iterations=2000)
    coding = Coding.from_study(study)
    beta = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.08, 0.5])
    long = simulate_answers(design, coding, np.tile(beta, (2000, 1)), seed=4)
    path = tmp_path_factory.mktemp("answers") / "answers.csv"
    long.assign(free_months=long["free_months"].astype(str)).to_csv(path, index=False)
    return path


def test_estimate_json_on_the_heating_data(heating_long, tmp_path):
    path = tmp_path / "heating.csv"
    heating_long.to_csv(path, index=False)
    result = run(
        "estimate", "--file", str(path), "--task-column", "idcase", "--alternative-column", "alt",
        "--choice-column", "chosen", "--attributes", "ic,oc", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["n_tasks"] == 900
    assert round(doc["coefficients"]["ic"], 7) == -0.0062319
    assert round(doc["coefficients"]["oc"], 7) == -0.0045801
    assert round(doc["std_errors"]["ic"], 7) == 0.0003528
    assert round(doc["std_errors"]["oc"], 7) == 0.0003222
    assert round(doc["log_likelihood"], 1) == -1095.2


def test_estimate_mistake_is_one_line_exit_2(heating_long, tmp_path):
    path = tmp_path / "heating.csv"
    heating_long.to_csv(path, index=False)
    result = run(
        "estimate", "--file", str(path), "--task-column", "idcase", "--alternative-column", "alt",
        "--choice-column", "chosen", "--attributes", "ic,colour",
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: {path}: no column 'colour'")
    assert result.stderr.count("\n") == 1


def test_design_command_writes_files(tmp_path):
    result = run("design", str(EXAMPLE), "--tasks", "8", "--versions", "2", "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["prohibited_offers"] == 0 and doc["versions"] == 2 and doc["tasks"] == 8
    assert all((tmp_path / f).exists() for f in ("design.csv", "answers_template.csv", "questionnaire.html"))


def test_results_on_simulated_answers(answers):
    frame = pd.read_csv(answers, dtype={"free_months": str})
    result = estimate(
        frame, [*ATTRIBUTES.split(","), "none"], "task", "alternative", "chosen", respondent="respondent",
        categorical=["free_months"], price="price", none="none",
    )  # fmt: skip
    worths = part_worths(result)
    # zero-centred within every attribute
    assert np.allclose(worths.groupby("attribute")["part_worth"].sum(), 0, atol=1e-12)
    plan = worths[worths["attribute"] == "plan"].set_index("level")["part_worth"]
    # truth: Basic -0.8, Standard 0.3, Premium 0.5 (effects coding)
    np.testing.assert_allclose(plan[["Basic", "Standard", "Premium"]], [-0.8, 0.3, 0.5], atol=0.1)
    imp = importance(result)
    assert imp["importance"].sum() == pytest.approx(100)
    assert imp.iloc[0]["attribute"] == "price"  # 0.08 x $30 range = 2.4 utils, the widest
    table = wtp(result).set_index(["attribute", "level"])
    # WTP for Premium over Basic: (0.5 + 0.8) / 0.08 = $16.25
    row = table.loc[("plan", "Premium vs Basic")]
    assert abs(row["wtp"] - 16.25) < 3 * row["se"]
    assert row["lower"] < row["wtp"] < row["upper"]


def test_wtp_delta_method_matches_simulation(answers):
    frame = pd.read_csv(answers, dtype={"free_months": str})
    result = estimate(frame, ["plan", "price"], "task", "alternative", "chosen", "respondent", price="price")
    model = result.model
    row = wtp(result).iloc[0]
    draws = np.random.default_rng(0).multivariate_normal(model.coef_, model.cov_, 200_000)
    c = result.coding.level_vector("plan", "Premium") - result.coding.level_vector("plan", "Basic")
    values = -(draws @ c) / draws[:, result.coding.names.index("price")]
    assert row["level"] == "Premium vs Basic"
    assert row["se"] == pytest.approx(values.std(), rel=0.05)


def test_wtp_warns_when_price_does_not_matter_to_respondents(tmp_path):
    # respondents who ignore the price (true coefficient 0): the estimate straddles zero and WTP, a ratio
    # to it, is noise; the clearly negative price of the other tests raises no warning (warnings are errors)
    from keepwise.exceptions import StatisticalWarning

    study = load_study(EXAMPLE)
    design = d_efficient(study, 12, 4, seed=2, iterations=300)
    coding = Coding.from_study(study)
    beta = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, 0.0, 0.5])
    long = simulate_answers(design, coding, np.tile(beta, (150, 1)), seed=4)
    names = ["plan", "free_months", "support", "contract", "price", "none"]
    result = estimate(
        long, names, "task", "alternative", "chosen", "respondent",
        categorical=["free_months"], price="price", none="none",
    )  # fmt: skip
    price = result.coding.names.index("price")
    assert abs(result.model.coef_[price] / np.sqrt(result.model.cov_[price, price])) < 1.96
    with pytest.warns(StatisticalWarning, match=r"price coefficient \(price\) is .* not clearly negative"):
        wtp(result)
    # the command line shows it as one WARNING line and still prints its JSON
    path = tmp_path / "answers.csv"
    long.to_csv(path, index=False)
    cli = run(
        "estimate", "--file", str(path), "--task-column", "task", "--alternative-column", "alternative",
        "--choice-column", "chosen", "--attributes", ",".join(names), "--respondent-column", "respondent",
        "--categorical", "free_months", "--price-column", "price", "--none-column", "none", "--json",
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    assert "wtp" in json.loads(cli.stdout)
    lines = cli.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("WARNING: willingness to pay: the price coefficient (price)")


def test_offer_optimiser_picks_the_best_expected_margin(answers):
    frame = pd.read_csv(answers, dtype={"free_months": str})
    result = estimate(
        frame, [*ATTRIBUTES.split(","), "none"], "task", "alternative", "chosen", "respondent",
        categorical=["free_months"], price="price", none="none",
    )  # fmt: skip
    base = {"plan": "Standard", "free_months": "1", "support": "Phone", "contract": "Monthly"}
    candidates = [{**base, "price": p} for p in (19, 29, 39, 49)]
    choice = best_offer(result, candidates, costs=[12.0] * 4, currency="USD")
    table = choice.table
    assert (np.diff(table["expected_margin"]) <= 0).all()
    take_up = share_of_preference(result, [candidates[1]]).iloc[0]
    row = table[table["price"] == 29].iloc[0]
    assert row["take_up"] == pytest.approx(take_up)
    assert row["expected_margin"] == pytest.approx(take_up * 17.0)
    assert choice.expected_margin == table["expected_margin"].max()
    assert any("per customer approached" in r for r in choice.reasons)
    # one row of MNL part-worths: first choice gives the whole market to one option
    assert sorted(first_choice(result, candidates[:2]).tolist()) == [0.0, 0.0, 1.0]


def test_offer_optimiser_needs_none_or_competitors(answers):
    frame = pd.read_csv(answers, dtype={"free_months": str})
    result = estimate(frame, ["plan", "price"], "task", "alternative", "chosen", "respondent", price="price")
    with pytest.raises(KeepwiseInputError, match="take-up needs an alternative"):
        best_offer(result, [{"plan": "Basic", "price": 19}], [5.0])


def test_simulate_command_ranks_offers(answers, tmp_path):
    offers = tmp_path / "offers.yaml"
    base = {"plan": "Standard", "free_months": "1", "support": "Phone", "contract": "Monthly"}
    offers.write_text(yaml.safe_dump({"candidates": [{**base, "price": p, "cost": 12} for p in (29, 49)]}))
    result = run(
        "simulate", "--file", str(answers), "--task-column", "task", "--alternative-column", "alternative",
        "--choice-column", "chosen", "--respondent-column", "respondent", "--attributes", ATTRIBUTES,
        "--categorical", "free_months",
        "--none-column", "none", "--price-column", "price", "--offers", str(offers), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["best_offer"]["price"] in (29, 49)
    assert doc["expected_margin"] == pytest.approx(doc["take_up"] * doc["margin"])


def test_none_rows_are_not_a_price_level(winback_mnl):
    """The "none" rows carry price 0; counting it as a level would stretch the price range to $0-$49."""
    assert winback_mnl.coding.attribute("price").values == (19.0, 29.0, 39.0, 49.0)
    worths = part_worths(winback_mnl)
    price = worths[worths["attribute"] == "price"]
    assert price["level"].tolist() == ["19", "29", "39", "49"]
    beta = winback_mnl.coefficients["price"]
    assert price["part_worth"].tolist() == pytest.approx([beta * (p - 34) for p in (19, 29, 39, 49)])
    imp = importance(winback_mnl).set_index("attribute")
    assert imp.loc["price", "range"] == pytest.approx(abs(beta) * 30)


def test_an_unconverged_hierarchical_bayes_run_warns_in_one_line(tmp_path):
    # 600 + 600 iterations on 40 respondents: R-hat 1.067 and an effective sample of 16 (seed 5), below
    # the sampler's warning thresholds (1.05, 100) but not its error (1.2)
    from .conftest import winback_answers

    path = tmp_path / "answers.csv"
    winback_answers(40, seed=5).to_csv(path, index=False)
    result = run(
        "estimate", "--file", str(path), "--task-column", "task", "--alternative-column", "alternative",
        "--choice-column", "chosen", "--attributes", "plan,free_months,support,contract,price,none",
        "--respondent-column", "respondent", "--model", "hb", "--draws", "600", "--burn", "600",
        "--categorical", "free_months", "--price-column", "price", "--none-column", "none", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["n_tasks"] == 480
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("WARNING: hierarchical Bayes: the population means are not yet reliable")
    assert "StatisticalWarning" not in result.stderr
