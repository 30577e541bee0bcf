"""``keepwise uplift fit|score|plan`` on a simulated business whose individual responses are known."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from keepwise.experiments.simulate import FEATURES, policy_profit, run_trial, simulate_offers


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "uplift", *args], capture_output=True, text=True
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("uplift")
    world = simulate_offers(16_000, seed=0)
    run_trial(world, seed=1).to_csv(folder / "trial.csv", index=False)
    population = simulate_offers(6_000, seed=2)
    customers = population.features.assign(
        margin=0.35 * population.features["orders_12m"] * population.features["aov"]
    )
    customers.to_csv(folder / "customers.csv", index=False)
    return folder, population


def test_fit_score_and_plan_earn_more_than_treating_everyone(files):
    folder, population = files
    features = ",".join(FEATURES)
    model = folder / "model.pkl"
    fitted = run(
        "fit",
        "--file",
        str(folder / "trial.csv"),
        "--arm-column",
        "arm",
        "--outcome",
        "retained",
        "--features",
        features,
        "--model-out",
        str(model),
        "--value-column",
        "margin",
        "--json",
    )
    assert fitted.returncode == 0, fitted.stderr
    doc = json.loads(fitted.stdout)
    assert doc["offers"] == ["call", "discount"]
    # retention is the outcome: a learner that finds who the offers save has a positive held-out Qini area
    assert doc["qini_area"]["call"] > 0 and doc["qini_area"]["discount"] > 0

    scored = run("score", "--model", str(model), "--file", str(folder / "customers.csv"), "--json")
    assert scored.returncode == 0, scored.stderr
    rows = json.loads(scored.stdout)["customers"]
    assert len(rows) == 6_000 and set(rows[0]) == {"customer_id", "call", "discount"}

    planned = run(
        "plan",
        "--model",
        str(model),
        "--file",
        str(folder / "customers.csv"),
        "--cost",
        "call=20",
        "--cost",
        "discount=45",
        "--value-column",
        "margin",
        "--json",
    )
    assert planned.returncode == 0, planned.stderr
    plan = json.loads(planned.stdout)
    offers = {r["customer_id"]: r["offer"] for r in plan["customers"]}
    policy = np.array([offers[c] for c in population.features["customer_id"]], dtype=object)
    policy[policy == "none"] = "control"
    targeted = policy_profit(population, policy)
    everyone = max(policy_profit(population, np.repeat(t, len(policy))) for t in population.treatments)
    assert targeted > 0 > everyone  # known truth: treating everyone loses money, targeting earns it
    assert plan["summary"]["treated"] == sum(policy != "control")
    truth = sum(float(population.effect[t][policy == t].sum()) for t in population.treatments)
    low, high = plan["summary"]["incremental_margin_interval"]
    assert low <= truth <= high  # measured on the trial's holdout, the interval covers the known truth
    assert len(doc["calibration"]["call"]) == 10
    assert all(r["reason"] for r in plan["customers"])

    capped = run(
        "plan",
        "--model",
        str(model),
        "--file",
        str(folder / "customers.csv"),
        "--cost",
        "call=20",
        "--cost",
        "discount=45",
        "--value-column",
        "margin",
        "--max-count",
        "50",
        "--json",
    )
    assert json.loads(capped.stdout)["summary"]["treated"] == 50


def test_mistakes_are_one_line_errors(files, tmp_path):
    folder, _ = files
    (tmp_path / "bad.csv").write_text("arm,retained,x\ncontrol,1,3\ncall,0,abc\n")
    result = run(
        "fit",
        "--file",
        str(tmp_path / "bad.csv"),
        "--arm-column",
        "arm",
        "--outcome",
        "retained",
        "--features",
        "x",
        "--model-out",
        str(tmp_path / "m.pkl"),
    )
    assert result.returncode == 2
    assert result.stderr == "error: bad.csv, row 2, column 'x': not a number: 'abc'\n"
    result = run("score", "--model", str(tmp_path / "none.pkl"), "--file", str(folder / "customers.csv"))
    assert result.returncode == 2
    assert "no such model file (make one with keepwise uplift fit)" in result.stderr
