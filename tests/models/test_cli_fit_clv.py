"""``keepwise fit`` and ``keepwise clv`` against a real DuckDB store holding the CDNOW sample's orders."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    assert set(doc) == {
        "model",
        "params",
        "std_errors",
        "log_likelihood",
        "n_customers",
        "fit_seconds",
        "notes",
    }
    assert doc["notes"] == []  # a calibration end was given; nothing was left out
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


def test_fit_gamma_gamma_leaves_out_repeat_buyers_whose_spend_is_0(tmp_path, cdnow_spend):
    # FHL (2005) p. 420 on the 946 repeat buyers; two more rows with repeat purchases worth $0 change nothing
    rows = cdnow_spend[["x", "zbar"]].rename(columns={"x": "frequency", "zbar": "monetary_value"})
    zero = pd.DataFrame({"frequency": [2, 5], "monetary_value": [0.0, 0.0]})
    path = tmp_path / "spend.csv"
    pd.concat([rows, zero]).to_csv(path, index=False)
    doc = _json(["fit", "gamma-gamma", "--summary", str(path), "--json"])
    params = doc["params"]
    assert (round(params["p"], 2), round(params["q"], 2)) == (6.25, 3.74)
    assert params["v"] == pytest.approx(15.44, abs=0.01)  # MLE 15.4477 on the rounded zbar, printed 15.44
    assert doc["n_customers"] == 946
    [note] = doc["notes"]
    assert note["input"] == "orders"
    assert (
        note["missing"] == "2 of 948 customers with repeat purchases have a repeat purchase worth 0 or less"
    )


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
    per = pd.read_csv(out, dtype={"customer_id": str})
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
    # the same values are in the store's clv table, amounts as decimals, one row per customer
    assert doc["table"] == "clv" and doc["rows_saved"] == 2357 and doc["discounting"] == "monthly"
    stored = _clv_table(cdnow_store)
    assert len(stored) == 2357 and set(stored["model"]) == {"bgnbd"}
    both = stored.merge(per, on="customer_id", suffixes=("", "_file"))
    assert len(both) == 2357
    assert (both["clv"].map(float) - both["clv_file"]).abs().max() <= 5e-5  # DECIMAL(18, 4)
    assert both["p_alive"].to_numpy() == pytest.approx(both["p_alive_file"].to_numpy(), rel=1e-12)
    assert str(stored["as_of"].iloc[0].date()) == "1997-09-30" and set(stored["currency"]) == {"USD"}


def _clv_table(url: str) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect(url.removeprefix("duckdb:///"), read_only=True)
    try:
        return con.execute("SELECT * FROM clv ORDER BY customer_id").fetch_arrow_table().to_pandas()
    finally:
        con.close()


def test_clv_reruns_replace_their_rows_and_pareto_discounts_with_dert(cdnow_store):
    args = ["clv", "--db", cdnow_store, "--as-of", "1997-09-30", "--draws", "0", "--margin", "0.3", "--json"]
    first = _json([*args, "--model", "pareto-nbd", "--horizon-months", "6"])
    second = _json([*args, "--model", "pareto-nbd", "--horizon-months", "24"])
    assert first["discounting"] == second["discounting"] == "continuous (DERT)"
    stored = _clv_table(cdnow_store)
    pareto = stored[stored["model"] == "pareto-nbd"]
    # the rerun for the same date and model replaced the first run's rows; other models' rows stay
    assert len(pareto) == 2357 and set(pareto["horizon_months"].map(float)) == {24.0}
    assert pareto["clv_lower"].isna().all()
    assert float(pareto["clv"].map(float).sum()) == pytest.approx(second["total_clv"], abs=2357 * 5e-5)
    assert second["total_clv"] > first["total_clv"]
    monthly = _json(
        [*args, "--model", "pareto-nbd", "--horizon-months", "24", "--discounting", "monthly", "--no-save"]
    )
    assert monthly["table"] is None and monthly["discounting"] == "monthly"
    # the same purchases and rate, discounted mid-month rather than at month end: within one month's discount
    assert 1 < second["total_clv"] / monthly["total_clv"] < 1.1 ** (1 / 12)


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


def test_fit_with_a_text_covariate_from_a_summary_file_recovers_its_effect(tmp_path):
    # BG/NBD with alpha_i = alpha exp(-0.8 web): web customers buy e^0.8 = 2.2 times as often
    from keepwise.models import BetaGeoModel
    from keepwise.models.simulate import simulate_bgnbd

    n = 6000
    web = np.random.default_rng(31).random(n) < 0.4
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.8, "b": 2.5}
    d = simulate_bgnbd(
        **truth, T=np.repeat([26.0, 39.0, 52.0], n // 3), n=n, seed=32, alpha_i=6.0 * np.exp(-0.8 * web)
    )
    d["channel"] = np.where(web, "web", "store")
    path = tmp_path / "summary.csv"
    d[["frequency", "recency", "T", "channel"]].to_csv(path, index=False)
    doc = _json(
        [
            "fit",
            "bgnbd",
            "--summary",
            str(path),
            "--covariates",
            "channel",
            "--covariates-on",
            "alpha",
            "--json",
        ]
    )
    assert doc["reference_levels"] == {"channel": "store"}  # the most common level
    eff = doc["covariates"]["alpha"]["channel=web"]
    assert abs(eff["estimate"] - 0.8) < 3 * eff["std_error"] and eff["std_error"] < 0.1
    assert set(doc["covariates"]) == {"alpha"}
    # the same fit through the Python API
    z = pd.DataFrame({"channel=web": web.astype(float)})
    m = BetaGeoModel().fit(
        d["frequency"], d["recency"], d["T"], covariates=z, covariate_columns={"alpha": ["channel=web"]}
    )
    assert eff["estimate"] == pytest.approx(m.covariate_params_["alpha"]["channel=web"], rel=1e-6)
    assert doc["log_likelihood"] == pytest.approx(m.log_likelihood_, rel=1e-10)


def test_fit_with_covariates_from_the_customers_table(tmp_path, cdnow_store):
    import shutil

    import duckdb

    # without values in customers.channel: a one-line error
    bad = _run(
        "fit", "bgnbd", "--db", cdnow_store, "--calibration-end", "1997-09-30", "--covariates", "channel"
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == (
        "error: 2,357 customers with purchases have no value of channel in the customers table: fill them in "
        "or leave the covariates out"
    )
    wrong = _run("fit", "gamma-gamma", "--db", cdnow_store, "--covariates", "channel")
    assert wrong.returncode == 2 and "covariates apply to bgnbd, mbgnbd and pareto-nbd" in wrong.stderr
    # a channel that has nothing to do with buying: its effect is within noise and the fit barely improves
    copy = tmp_path / "store.duckdb"
    shutil.copy(cdnow_store.removeprefix("duckdb:///"), copy)
    con = duckdb.connect(str(copy))
    con.execute(
        "UPDATE customers SET channel = CASE WHEN hash(customer_id) % 3 = 0 THEN 'web' ELSE 'shop' END"
    )
    con.close()
    url = f"duckdb:///{copy}"
    base = ["fit", "pareto-nbd", "--db", url, "--calibration-end", "1997-09-30", "--json"]
    plain = _json(base)
    doc = _json([*base, "--covariates", "channel"])
    assert doc["n_customers"] == 2357 and doc["reference_levels"] == {"channel": "shop"}
    for param in ("alpha", "beta"):
        eff = doc["covariates"][param]["channel=web"]
        assert abs(eff["estimate"]) < 3 * eff["std_error"]
    assert 0 <= doc["log_likelihood"] - plain["log_likelihood"] < 6  # 2 dLL ~ chi2(2)


def _pareto_store(tmp_path: Path, n: int = 4000, seed: int = 11) -> tuple[str, pd.DataFrame]:
    """A store of exact Pareto/NBD customers (weekly rates, days on the calendar) from two channels.

    Web customers (35%) buy e^1 = 2.7 times as often (alpha_web = alpha e^-1); lifetimes and spend do not
    depend on the channel. Returns the store and per customer: channel and the true discounted margin over
    the next 12 months at 10% a year (alive at the end x lambda x E[discounted purchases | lambda, mu] x
    mean order value p / nu x margin 0.3), continuous discounting as the DERT.
    """
    from keepwise.value.clv import DAYS_PER_MONTH, monthly_rate

    rng = np.random.default_rng(seed)
    web = rng.random(n) < 0.35
    lam = rng.gamma(0.6, 1 / (8.0 * np.exp(-1.0 * web))) / 7  # per day
    mu = rng.gamma(0.6, 1 / 12.0) / 7
    first = rng.integers(0, 84, size=n)
    end = 365  # the last day of history, 2024-12-31
    life = rng.exponential(1 / mu)
    active = np.minimum(life, end - first)
    count = rng.poisson(lam * active)
    ids = np.repeat(np.arange(n), count)
    day = np.floor(first[ids] + rng.random(len(ids)) * active[ids]).astype(int)
    days = pd.DataFrame({"c": np.concatenate([np.arange(n), ids]), "day": np.concatenate([first, day])})
    days = days[days["day"] <= end].drop_duplicates()  # one purchase a day at most (rates are low)
    nu = rng.gamma(4.0, 1 / 15.0, size=n)  # Gamma-Gamma spend: p = 6, q = 4, v = 15
    price = rng.gamma(6.0, 1 / nu[days["c"].to_numpy()])
    cid = np.array([f"c{i:05d}" for i in range(n)])
    start = pd.Timestamp("2024-01-01", tz="UTC")
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(len(days))],
            "line_no": "1",
            "customer_id": cid[days["c"].to_numpy()],
            "ordered_at": start + pd.to_timedelta(days["day"].to_numpy(), unit="D"),
            "quantity": 1,
            "unit_price": [f"{v:.2f}" for v in price],
            "currency": "USD",
        }
    )
    channel = np.where(web, "web", "shop")
    customers = pd.DataFrame(
        {
            "customer_id": cid,
            "acquired_at": start + pd.to_timedelta(first, unit="D"),
            "currency": "USD",
            "channel": channel,
        }
    )
    url = f"duckdb:///{tmp_path}/sim.duckdb"
    load("customers", customers, db=url)
    load("orders", orders, db=url)
    month = DAYS_PER_MONTH  # days
    k = np.log1p(monthly_rate(0.1)) / month + mu
    alive = life > end - first
    truth = 0.3 * 6.0 / nu * alive * lam * -np.expm1(-k * 12 * month) / k
    return url, pd.DataFrame({"customer_id": cid, "channel": channel, "truth": truth})


def test_clv_with_a_channel_covariate_values_the_channels_closer_to_the_truth(tmp_path):
    url, truth = _pareto_store(tmp_path)
    base = ["clv", "--db", url, "--model", "pareto-nbd", "--margin", "0.3", "--draws", "0", "--json"]
    plain = _json([*base, "--out", str(tmp_path / "plain.csv")])
    doc = _json(
        [*base, "--covariates", "channel", "--covariates-on", "alpha", "--out", str(tmp_path / "cov.csv")]
    )
    assert doc["reference_levels"] == {"channel": "shop"} and set(doc["covariates"]) == {"alpha"}
    eff = doc["covariates"]["alpha"]["channel=web"]
    assert abs(eff["estimate"] - 1.0) < 3 * eff["std_error"]
    assert doc["clv_model"] == "pareto-nbd ~ channel on alpha" and plain["clv_model"] == "pareto-nbd"
    assert "covariates" not in plain and doc["n_customers"] == plain["n_customers"] == 4000

    def ratio(path: Path) -> tuple[float, pd.DataFrame]:
        per = pd.read_csv(path, dtype={"customer_id": str}).merge(truth[["customer_id", "truth"]])
        means = per.groupby(truth.set_index("customer_id").loc[per["customer_id"], "channel"].to_numpy())
        m = means[["clv", "truth"]].mean()
        return float(m.loc["web", "clv"] / m.loc["shop", "clv"]), per

    true_ratio = truth.groupby("channel")["truth"].mean()
    true_ratio = float(true_ratio["web"] / true_ratio["shop"])
    with_cov, per = ratio(tmp_path / "cov.csv")
    without, _ = ratio(tmp_path / "plain.csv")
    # the out file names each customer's channel; the pooled model shrinks the channels toward each other
    # (measured: web/shop mean CLV 2.75 with the covariate, 2.52 without, 2.89 true)
    assert set(per["channel"]) == {"web", "shop"} and len(per) == 4000
    assert with_cov > 1 and abs(with_cov - true_ratio) < abs(without - true_ratio)
    # both runs are in the clv table, told apart by their model
    stored = _clv_table(url)
    assert stored.groupby("model").size().to_dict() == {
        "pareto-nbd": 4000,
        "pareto-nbd ~ channel on alpha": 4000,
    }


def test_clv_covariate_mistakes_are_one_line_errors(tmp_path, cdnow_store):
    base = ("clv", "--db", cdnow_store, "--as-of", "1997-09-30", "--draws", "0", "--no-save")
    bad = _run(*base, "--covariates", "chanel")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip() == (
        "error: the customers table has no column 'chanel'; name columns of it (e.g. channel, segment) or "
        "pass --covariates-file FILE with customer_id and the columns"
    )
    path = tmp_path / "cov.csv"
    path.write_text("customer_id,segment\n00001,a\n")
    missing = _run(*base, "--covariates", "channel", "--covariates-file", str(path))
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {path} lacks column(s) channel (needs customer_id, channel)"
    alone = _run(*base, "--covariates-on", "alpha")
    assert alone.stderr.strip() == "error: --covariates-on and --covariates-file need --covariates COLUMNS"
    wrong = _run(*base, "--model", "pareto-nbd", "--covariates", "segment", "--covariates-on", "a")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "error: --covariates-on: a cannot take covariates; choose from alpha, beta"


def test_clv_takes_its_horizon_and_discount_rate_from_keepwise_toml(tmp_path, cdnow_store, monkeypatch):
    args = ["clv", "--db", cdnow_store, "--as-of", "1997-09-30", "--draws", "0", "--no-save", "--json"]
    monkeypatch.chdir(tmp_path)
    default = _json(args)
    assert (default["discount_rate"], default["horizon_months"]) == (0.1, 12)
    (tmp_path / "keepwise.toml").write_text("[clv]\ndiscount_rate = 0.3\nhorizon_months = 24\n")
    configured = _json(args)
    assert (configured["discount_rate"], configured["horizon_months"]) == (0.3, 24)
    assert configured["total_clv"] != pytest.approx(default["total_clv"], rel=1e-3)
    # the options override the file; with the defaults' figures they give the default values again
    overridden = _json([*args, "--discount-rate", "0.1", "--horizon-months", "12"])
    assert overridden["total_clv"] == pytest.approx(default["total_clv"], rel=1e-12)
    # an older file's [review] discount_rate is the same figure
    (tmp_path / "keepwise.toml").write_text('[review]\ndiscount_rate = "0.3"\n')
    older = _json(args)
    assert older["discount_rate"] == 0.3 and older["horizon_months"] == 12
    assert older["total_clv"] < default["total_clv"]


def test_the_front_doors_give_what_the_commands_print(tmp_path, cdnow_store, monkeypatch):
    from datetime import date

    from keepwise.jsonio import dumps
    from keepwise.store import connect
    from keepwise.value.clv import run
    from keepwise.value.fitting import fit_model

    monkeypatch.chdir(tmp_path)
    end = ["--as-of", "1997-09-30"]
    printed = runner.invoke(app, ["clv", "--db", cdnow_store, *end, "--draws", "0", "--no-save", "--json"])
    fit_printed = _json(["fit", "pareto-nbd", "--db", cdnow_store, "--calibration-end", end[1], "--json"])
    store = connect(cdnow_store)
    try:
        valued = run(store, as_of=date(1997, 9, 30), draws=0, save=False)
        fitted = fit_model(store, "pareto-nbd", calibration_end=date(1997, 9, 30))
    finally:
        store.disconnect()
    assert printed.stdout == dumps(valued.to_json()) + "\n"
    fit_doc = fitted.to_json()
    # the optimiser's time differs between two runs; everything else is the same to the last digit
    assert fit_doc.pop("fit_seconds") > 0 and fit_printed.pop("fit_seconds") > 0
    assert dumps(fit_doc) == dumps(fit_printed)
