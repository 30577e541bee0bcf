"""``keepwise fit`` and ``keepwise clv`` against a real DuckDB store holding the CDNOW sample's orders."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from keepwise import load
from keepwise.cli import app
from keepwise.datasets import cdnow_tables

runner = CliRunner()


@pytest.fixture(scope="module")
def cdnow_store(tmp_path_factory) -> str:
    """The 2,357 customers of the 1/10 CDNOW sample (ids from lifetimes' CDNOW_sample.txt), their orders."""
    spec = importlib.util.find_spec("lifetimes")
    assert spec is not None and spec.origin is not None
    sample = pd.read_csv(
        Path(spec.origin).parent / "datasets" / "CDNOW_sample.txt", sep=r"\s+", header=None, dtype={0: str}
    )
    ids = set(sample[0])
    tables = cdnow_tables()
    url = f"duckdb:///{tmp_path_factory.mktemp('cdnow')}/store.duckdb"
    load("customers", tables["customers"][tables["customers"]["customer_id"].isin(ids)], db=url)
    orders = tables["orders"][tables["orders"]["customer_id"].isin(ids)]
    load("orders", orders.drop(columns=["number_of_cds"], errors="ignore"), db=url)
    return url


def _json(args: list[str]) -> dict:
    result = runner.invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_fit_bgnbd_from_the_store_reproduces_the_published_fit(cdnow_store):
    doc = _json(
        [
            "fit",
            "bgnbd",
            "--db",
            cdnow_store,
            "--calibration-end",
            "1997-09-30",
            "--time-unit",
            "week",
            "--json",
        ]
    )
    assert set(doc) == {"model", "params", "std_errors", "log_likelihood", "n_customers", "fit_seconds"}
    assert doc["model"] == "bgnbd" and doc["n_customers"] == 2357
    # FHL (2005) p. 279 to the printed digits; CLVTools' LL -9582.429 (exact days/7, as the store gives)
    assert {k: round(v, 3) for k, v in doc["params"].items()} == {
        "r": 0.243,
        "alpha": 4.414,
        "a": 0.793,
        "b": 2.426,
    }
    assert doc["log_likelihood"] == pytest.approx(-9582.429, abs=1e-3)
    assert set(doc["std_errors"]) == {"r", "alpha", "a", "b"}
    assert 0 < doc["fit_seconds"] < 5


def test_fit_gamma_gamma_from_the_store(cdnow_store):
    doc = _json(["fit", "gamma-gamma", "--db", cdnow_store, "--calibration-end", "1997-09-30", "--json"])
    # FHL (2005, JMR) p. 420: p = 6.25, q = 3.74, v = 15.44 on 946 customers (unrounded zbar from the orders)
    assert {k: round(v, 2) for k, v in doc["params"].items()} == {"p": 6.25, "q": 3.74, "v": 15.44}
    assert doc["n_customers"] == 946


def test_fit_from_a_summary_file(tmp_path, cdnow_summary):
    path = tmp_path / "summary.csv"
    cdnow_summary[["frequency", "recency", "T"]].to_csv(path, index=False)
    doc = _json(["fit", "pareto-nbd", "--summary", str(path), "--json", "--save", str(tmp_path / "m.json")])
    # Fader and Hardie's Pareto/NBD note: r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67, LL = -9595.0
    assert {k: round(v, 2) for k, v in doc["params"].items()} == {
        "r": 0.55,
        "alpha": 10.58,
        "s": 0.61,
        "beta": 11.67,
    }
    assert round(doc["log_likelihood"], 1) == -9595.0
    from keepwise.models import ParetoNBDModel

    saved = ParetoNBDModel.load(tmp_path / "m.json")
    assert saved.params_ == doc["params"]


def test_fit_sbg_from_a_summary_with_counts(tmp_path):
    # Fader and Hardie (2007) table 1, regular customers: alpha = 0.704, beta = 1.182
    survivors = [1000, 631, 468, 382, 326, 289, 262, 241]
    rows = [(t, 1, survivors[t - 1] - survivors[t]) for t in range(1, 8)] + [(7, 0, survivors[-1])]
    path = tmp_path / "contracts.csv"
    pd.DataFrame(rows, columns=["duration", "churned", "count"]).to_csv(path, index=False)
    doc = _json(["fit", "sbg", "--summary", str(path), "--json"])
    assert {k: round(v, 3) for k, v in doc["params"].items()} == {"alpha": 0.704, "beta": 1.182}
    assert doc["n_customers"] == 1000


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "keepwise.cli", *args], capture_output=True, text=True)


def test_user_mistakes_are_one_line_errors_with_exit_2(tmp_path, cdnow_store):
    bad = _run("fit", "bgnbd", "--db", cdnow_store, "--calibration-end", "30/09/1997", "--json")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == "error: --calibration-end must be a date as YYYY-MM-DD, got '30/09/1997'"
    path = tmp_path / "s.csv"
    path.write_text("frequency,recency\n1,2\n")
    missing = _run("fit", "bgnbd", "--summary", str(path))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {path} lacks column(s) T (needs frequency, recency, T)"
    sbg = _run("fit", "sbg", "--db", cdnow_store)
    assert sbg.returncode == 2 and "pass --summary FILE with columns duration, churned" in sbg.stderr


def test_clv_from_the_store(tmp_path, cdnow_store):
    out = tmp_path / "clv.csv"
    doc = _json(
        [
            "clv",
            "--db",
            cdnow_store,
            "--as-of",
            "1997-09-30",
            "--horizon-months",
            "12",
            "--discount-rate",
            "0.1",
            "--margin",
            "0.3",
            "--draws",
            "50",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert doc["n_customers"] == 2357 and doc["currency"] == "USD" and doc["margin_rate"] == 0.3
    assert doc["params"]["r"] == pytest.approx(0.2426, abs=1e-4)
    per = pd.read_csv(out)
    assert len(per) == 2357 and per["customer_id"].is_unique
    assert per["clv"].sum() == pytest.approx(doc["total_clv"], rel=1e-9)
    assert (per["clv_lower"] <= per["clv"]).all() and (per["clv"] <= per["clv_upper"]).all()
    assert per["clv"].is_monotonic_decreasing
    # the next purchase of the best customer (if still alive) is due within weeks of the as-of date
    due = pd.to_datetime(per["next_purchase_date"].iloc[0])
    assert pd.Timestamp("1997-09-30") < due < pd.Timestamp("1998-03-31")
    # the top customer's value through the Python API: margin x expected spend x discounted purchases
    from keepwise.models import BetaGeoModel
    from keepwise.value.clv import discounted_expected_purchases

    bg = BetaGeoModel()
    bg.params_, bg._links = doc["params"], ()
    top = per.iloc[0]
    purchases = discounted_expected_purchases(bg, [top["x"]], [top["t_x"]], [top["T"]], 12, 0.1)[0]
    assert top["clv"] == pytest.approx(0.3 * top["expected_spend"] * purchases, rel=1e-9)


def test_fit_bgbb_from_a_summary_in_lifetimes_layout(tmp_path, lifetimes_donations):
    path = tmp_path / "donations.csv"
    lifetimes_donations.rename(columns={"weights": "count"}).to_csv(path, index=False)
    doc = _json(["fit", "bgbb", "--summary", str(path), "--json"])
    # Fader, Hardie and Shang (2010): alpha 1.204, beta 0.750, gamma 0.657, delta 2.783, LL -33,225.6
    assert {k: round(v, 3) for k, v in doc["params"].items()} == {
        "alpha": 1.204,
        "beta": 0.75,
        "gamma": 0.657,
        "delta": 2.783,
    }
    assert round(doc["log_likelihood"], 1) == -33225.6 and doc["n_customers"] == 11104
