"""Experiments in a real DuckDB store and through the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from typer.testing import CliRunner

from keepwise.config import Config
from keepwise.datasets.simulate import simulate
from keepwise.exceptions import KeepwiseInputError
from keepwise.experiments.design import Design
from keepwise.experiments.store import design_experiment, experiment_metrics, load_design, population
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in a subprocess (slow: used once, for the exit code and stderr of a mistake)."""
    return subprocess.run([sys.executable, "-m", "keepwise.cli", *args], capture_output=True, text=True)


def invoke(*args: str):
    """The CLI in-process; a KeepwiseInputError is what ``keepwise`` turns into exit code 2."""
    from keepwise import cli

    return CliRunner().invoke(cli.app, list(args))


@pytest.fixture(scope="module")
def db_file(tmp_path_factory):
    biz = simulate(customers=1500, months=24, seed=3)
    url = f"duckdb:///{tmp_path_factory.mktemp('exp')}/store.duckdb"
    backend = connect(url)
    for name in load_order():
        frame = getattr(biz, name, None)
        if frame is not None and len(frame):
            load_frame(backend, name, frame)
    backend.disconnect()
    return url


def test_population_top_n_is_the_most_profitable(db_file):
    store = connect(db_file)
    try:
        pop = population(store, "top:600", month="2024-12", config=Config())
        assert len(pop) == 600
        assert pop["profit"].is_monotonic_decreasing
        assert pop["profit_decile"].value_counts().tolist() == [60] * 10
        with pytest.raises(KeepwiseInputError, match="write top:N"):
            population(store, "top:many", month="2024-12", config=Config())
        with pytest.raises(KeepwiseInputError, match="is not understood"):
            population(store, "best", month="2024-12", config=Config())
    finally:
        store.disconnect()


def test_design_is_saved_reproducible_and_never_silently_reassigned(db_file):
    store = connect(db_file)
    at = datetime(2025, 1, 1, tzinfo=UTC)
    try:
        d = Design("store-vip", {"control": 1, "treatment": 1}, seed=11, strata=("profit_decile",))
        first, status = design_experiment(store, d, "top:600", month="2024-12", config=Config(), at=at)
        assert status == "created"
        again, status = design_experiment(store, d, "top:600", month="2024-12", config=Config(), at=at)
        assert status == "unchanged"
        assert again[["customer_id", "arm"]].equals(first[["customer_id", "arm"]])
        other = Design("store-vip", {"control": 1, "treatment": 1}, seed=12, strata=("profit_decile",))
        with pytest.raises(KeepwiseInputError, match="never re-assigns an experiment"):
            design_experiment(store, other, "top:600", month="2024-12", config=Config(), at=at)
        assert load_design(store, "store-vip") == d.__class__(
            "store-vip", d.arms, 11, strata=("profit_decile",), population=""
        )
        a = store.table("assignments")
        assert a.filter(a.experiment_id == "store-vip").count().execute() == 600
        metrics, _, window = experiment_metrics(store, "store-vip", months=12, config=Config())
        assert window == {
            "first_month": "2025-01",
            "last_month": "2025-12",
            "pre_first_month": "2024-01",
            "ends_on": "2025-12-31",
            "data_end": "2025-12-31",
        }
        assert len(metrics) == 600
        # The 2024 pre-period profit of the top 600 is what population() ranked them by (2024 profit), except
        # for referrers: a referral's value is the referred customer's first-year margin as far as the store
        # knows at the end of the period, and the metrics' period ends a year later (only advocacy differs).
        by_id = first.set_index("customer_id")["profit"]
        pre = metrics.set_index("customer_id")["pre_profit"]
        same = np.isclose(pre.loc[by_id.index], by_id, atol=0.01)
        assert same.mean() > 0.9
        assert set(metrics["retained"].unique()) <= {0.0, 1.0}
        assert (metrics["orders"] > 0).eq(metrics["retained"] == 1).all()
    finally:
        store.disconnect()


def test_cli_design_and_analyze_from_the_store(db_file):
    result = invoke(
        "experiment",
        "design",
        "cli-vip",
        "--population",
        "top:600",
        "--seed",
        "5",
        "--stratify-by",
        "profit_decile",
        "--month",
        "2024-12",
        "--json",
        "--db",
        db_file,
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["arms"] == {"control": 300, "treatment": 300}
    assert doc["status"] == "created"
    assert doc["power"][0]["retention"]["sentence"].startswith("With 300 customers per group you can detect")
    refused = invoke(
        "experiment",
        "design",
        "cli-vip",
        "--population",
        "top:600",
        "--seed",
        "6",
        "--month",
        "2024-12",
        "--db",
        db_file,
    )
    assert isinstance(refused.exception, KeepwiseInputError)
    assert str(refused.exception).startswith("experiment 'cli-vip' already exists")
    result = invoke("experiment", "analyze", "cli-vip", "--cuped", "--json", "--details", "--db", db_file)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    metrics = [c["metric"] for c in doc["comparisons"]]
    assert metrics == ["retained", "orders", "revenue", "margin", "profit"]
    assert doc["arms"]["control"]["n"] == 300
    assert {c["method"] for c in doc["comparisons"]} == {"welch", "cuped"}
    assert "treatment" in doc["money"]


def test_cli_analyze_file_json_is_the_documented_document(tmp_path):
    rng = np.random.default_rng(4)
    arm = np.repeat(["control", "vip", "call"], 400)
    frame = pd.DataFrame(
        {
            "group": arm,
            "profit": rng.gamma(1.0, 300.0, 1200) + np.where(arm == "vip", 40.0, 0.0),
            "retained": rng.random(1200) < np.where(arm == "control", 0.8, 0.86),
        }
    )
    path = tmp_path / "results.csv"
    frame.to_csv(path, index=False)
    result = invoke(
        "experiment",
        "analyze",
        "--file",
        str(path),
        "--arm-column",
        "group",
        "--control",
        "control",
        "--metric",
        "profit",
        "--json",
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert set(doc) == {"srm", "arms", "comparisons"}
    assert set(doc["srm"]) == {"p_value"}
    assert doc["srm"]["p_value"] == pytest.approx(1.0)
    assert doc["arms"]["vip"] == {"n": 400, "mean": pytest.approx(frame.profit[arm == "vip"].mean())}
    assert [c["arm"] for c in doc["comparisons"]] == ["call", "vip"]
    vip = doc["comparisons"][1]
    assert set(vip) == {
        "arm",
        "metric",
        "difference",
        "std_error",
        "ci_low",
        "ci_high",
        "p_value",
        "relative_lift",
    }
    ref = stats.ttest_ind(frame.profit[arm == "vip"], frame.profit[arm == "control"], equal_var=False)
    ci = ref.confidence_interval()
    assert vip["p_value"] == pytest.approx(ref.pvalue)
    assert (vip["ci_low"], vip["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert vip["relative_lift"] == pytest.approx(
        frame.profit[arm == "vip"].mean() / frame.profit[arm == "control"].mean() - 1
    )


def test_cli_analyze_warns_loudly_on_a_sample_ratio_mismatch(tmp_path):
    path = tmp_path / "skewed.csv"
    pd.DataFrame({"arm": ["control"] * 300 + ["treatment"] * 200, "y": np.arange(500) % 7}).to_csv(path)
    result = invoke(
        "experiment", "analyze", "--file", str(path), "--control", "control", "--metric", "y", "--json"
    )
    assert result.exit_code == 0
    assert "WARNING: SAMPLE RATIO MISMATCH" in result.stderr
    assert json.loads(result.stdout)["srm"]["p_value"] < 1e-5


def test_cli_analyze_mistakes_are_one_line(tmp_path):
    path = tmp_path / "r.csv"
    pd.DataFrame({"arm": ["control", "t"] * 5, "y": range(10)}).to_csv(path, index=False)
    result = run("experiment", "analyze", "--file", str(path), "--control", "control", "--metric", "profit")
    assert result.returncode == 2
    assert result.stderr == f"error: {path} has no column 'profit'; its columns are: arm, y\n"
    result = invoke(
        "experiment", "analyze", "--file", str(tmp_path / "nope.csv"), "--control", "c", "--metric", "y"
    )
    assert isinstance(result.exception, KeepwiseInputError)
    assert "does not exist" in str(result.exception)


def test_a_flow_holdout_recorded_only_in_assignments_is_analysed_like_a_design(db_file):
    # a message flow writes its holdout to `assignments` without a design row: the arms and control come
    # from what was recorded, so the flow is analysed the same way as a designed experiment
    store = connect(db_file)
    try:
        customers = store.table("customers").customer_id.to_pandas().sort_values().tolist()[:200]
        rows = pd.DataFrame(
            {
                "experiment_id": "flow:winback",
                "customer_id": customers,
                "arm": ["holdout" if i % 4 == 0 else "treatment" for i in range(len(customers))],
                "assigned_at": pd.Timestamp("2025-01-01", tz="UTC"),
            }
        )
        store.con.register("_flow_rows", rows)
        store.con.execute("INSERT INTO assignments SELECT * FROM _flow_rows")
        frame, design, _ = experiment_metrics(store, "flow:winback")
    finally:
        store.disconnect()
    assert design.control == "holdout"
    assert design.arms == {"holdout": 50.0, "treatment": 150.0}
    assert (frame["arm"] == "holdout").sum() == 50 and len(frame) == 200


def test_the_front_doors_return_what_the_commands_print(db_file):
    """keepwise.experiments.start and .analyze: their to_json() is the commands' --json document."""
    from keepwise.experiments import analyze, start

    store = connect(db_file)
    try:
        started = start(store, "api-vip", population="top:400", seed=9, strata=["tier"], month="2024-12")
    finally:
        store.disconnect()
    assert started.status == "created" and started.arm_counts == {"control": 200, "treatment": 200}
    again = invoke(
        "experiment", "design", "api-vip", "--population", "top:400", "--seed", "9", "--stratify-by", "tier",
        "--month", "2024-12", "--json", "--db", db_file,
    )  # fmt: skip
    assert again.exit_code == 0, again.output
    printed = json.loads(again.stdout)
    ours = json.loads(json.dumps(started.to_json()))
    assert (printed.pop("status"), ours.pop("status")) == ("unchanged", "created")
    printed.pop("designed_at"), ours.pop("designed_at")
    assert printed == ours

    store = connect(db_file)
    try:
        analysis = analyze(store, "api-vip", cuped=True, months=6)
    finally:
        store.disconnect()
    result = invoke(
        "experiment", "analyze", "api-vip", "--cuped", "--months", "6", "--details", "--json", "--db", db_file
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == json.loads(json.dumps(analysis.to_json(details=True)))
    assert analysis.window is not None and "window" in analysis.to_json(details=True)
    assert "window" not in analysis.to_json()
