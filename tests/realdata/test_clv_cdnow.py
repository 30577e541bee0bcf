"""Customer lifetime value on real data: the CDNOW store with orders only, the demo store's exits, safe CSVs.

CDNOW (Fader and Hardie's 1/10 extract is the classic BTYD data set; here the full 23,570 customers bundled
with keepwise, January 1997 to June 1998) has no unit costs, exits, incidents or acquisition costs, and 80
orders of $0. Every expected figure below is counted from the data itself with pandas, not from keepwise.
"""

from __future__ import annotations

import csv
import json
import re
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
from keepwise.exports import neutralise, write_csv
from keepwise.store import connect

runner = CliRunner()
SRC = Path(__file__).resolve().parents[2] / "src" / "keepwise"
EVIL = '=HYPERLINK("http://evil.example","x")'


def _invoke(args: list[str], code: int = 0) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == code, (result.output, result.exception)
    return result.stdout


def _json(args: list[str]) -> dict:
    return json.loads(_invoke([*args, "--json"]))


@pytest.fixture(scope="module")
def cdnow() -> dict[str, pd.DataFrame]:
    """The bundled CDNOW tables: customers and orders."""
    return cdnow_tables()


@pytest.fixture(scope="module")
def cdnow_store(cdnow, tmp_path_factory) -> str:
    """An orders-only store: CDNOW's customers and orders, nothing else (as the README loads it)."""
    url = f"duckdb:///{tmp_path_factory.mktemp('cdnow')}/store.duckdb"
    load("customers", cdnow["customers"], db=url)
    load("orders", cdnow["orders"], db=url)
    return url


@pytest.fixture(scope="module")
def zero_value(cdnow) -> dict:
    """From the orders with pandas: customers with a repeat purchase day worth $0, and those averaging $0."""
    o = cdnow["orders"]
    o = o.assign(
        value=o["quantity"] * o["unit_price"].map(float),
        day=pd.to_datetime(o["ordered_at"], utc=True).dt.floor("D"),
    )
    days = o.groupby(["customer_id", "day"], as_index=False)["value"].sum()
    days["first"] = days.groupby("customer_id")["day"].transform("min")
    repeat = days[days["day"] > days["first"]]
    mean = repeat.groupby("customer_id")["value"].mean()
    zero = repeat[repeat["value"] <= 0]
    return {
        "repeat_customers": repeat["customer_id"].nunique(),
        "left_out": zero["customer_id"].nunique(),
        "zero_days": len(zero),
        "zero_mean": int((mean <= 0).sum()),
        "zero_mean_ids": sorted(mean.index[mean <= 0]),
        "one_time_buyers": int((days.groupby("customer_id").size() == 1).sum()),
    }


@pytest.fixture(scope="module")
def cdnow_clv(cdnow_store) -> dict:
    """``keepwise clv --json`` on the orders-only CDNOW store (values saved in the clv table)."""
    return _json(["clv", "--db", cdnow_store, "--draws", "0"])


def test_clv_on_cdnow_exits_0_and_names_the_customers_left_out_of_the_spend_fit(cdnow_clv, zero_value):
    notes = {n["input"]: n for n in cdnow_clv["notes"]}
    assert zero_value["left_out"] > 0 and zero_value["zero_mean"] > 0  # the data has what this test is about
    spend = notes["orders"]
    assert spend["missing"].startswith(
        f"{zero_value['left_out']:,} of {zero_value['repeat_customers']:,} customers with repeat purchases "
        f"have a repeat purchase worth 0 or less ({zero_value['zero_days']:,} repeat purchase days)"
    )
    assert "left out of the spend model (Gamma-Gamma) fit" in spend["instead"]
    assert f"except {zero_value['zero_mean']:,} whose repeat purchases average 0" in spend["instead"]
    # orders only: no exits and no unit costs, each said with what was done instead
    assert "purchase model alone" in notes["exits"]["instead"]
    assert notes["orders.unit_cost"]["instead"].startswith("CLV shown is revenue")
    assert cdnow_clv["margin_rate"] == 1.0 and cdnow_clv["n_customers"] == 23_570


def test_the_human_output_says_what_was_left_out(cdnow_store, zero_value):
    result = runner.invoke(app, ["clv", "--db", cdnow_store, "--draws", "0", "--no-save"])
    assert result.exit_code == 0, result.output
    assert "CLV over 12 months at 10.0% a year: total" in result.stdout
    said = " ".join(result.stderr.split())
    assert f"note: orders: {zero_value['left_out']:,} of {zero_value['repeat_customers']:,} customers" in said
    assert "note: exits: no rows; P(alive) comes from the purchase model alone" in said
    assert "note: orders.unit_cost: no unit costs recorded; CLV shown is revenue" in said
    assert (
        "customers without a next purchase date (P(alive) below 5%, [clv] next_purchase_min_p_alive)" in said
    )


def test_the_cdnow_total_is_plausible_against_its_own_revenue(cdnow_clv, cdnow):
    """A closed cohort (all first bought in Q1 1997) whose sales fell quarter after quarter: its next year of
    (revenue) value cannot exceed the last year's revenue, and is not below half of it (the last half-year
    sold 80% of the half-year before)."""
    o = cdnow["orders"]
    value = o["quantity"] * o["unit_price"].map(float)
    at = pd.to_datetime(o["ordered_at"], utc=True)
    last_year = float(value[at >= pd.Timestamp("1997-07-01", tz="UTC")].sum())
    assert last_year == pytest.approx(1_069_356.50, abs=0.01)
    assert 0.5 * last_year <= cdnow_clv["total_clv"] <= last_year


def test_a_customer_whose_repeat_purchases_average_0_gets_the_population_mean_spend(
    cdnow_clv, cdnow_store, zero_value
):
    p, q, v = (cdnow_clv["spend_params"][k] for k in ("p", "q", "v"))
    store = connect(cdnow_store)
    try:
        rows = store.read("clv").set_index("customer_id")
    finally:
        store.disconnect()
    spend = rows["expected_spend"].map(float)
    assert spend.map(np.isfinite).all() and (spend > 0).all()
    population = p * v / (q - 1)  # Gamma-Gamma's mean spend per purchase (Fader and Hardie 2013, eq. 5)
    np.testing.assert_allclose(spend.loc[zero_value["zero_mean_ids"]], population, rtol=0, atol=1e-4)
    assert (rows.loc[zero_value["zero_mean_ids"], "clv"].map(float) > 0).all()


def test_no_next_purchase_date_below_the_threshold(cdnow_clv, cdnow_store, zero_value):
    threshold = cdnow_clv["next_purchase_min_p_alive"]
    assert threshold == 0.05
    store = connect(cdnow_store)
    try:
        rows = store.read("clv")
    finally:
        store.disconnect()
    p_alive = rows["p_alive"].map(float)
    below = p_alive < threshold
    assert below.sum() > 100  # CDNOW has many long-silent repeat buyers
    assert rows.loc[below, "next_purchase_date"].isna().all()
    # above it, only one-time buyers have no date: their mean wait (alpha + T) / (r + x - 1) is infinite
    # for r + x <= 1 (BG/NBD r < 1 on CDNOW)
    assert cdnow_clv["params"]["r"] < 1
    assert rows.loc[~below, "next_purchase_date"].isna().sum() == zero_value["one_time_buyers"]
    assert cdnow_clv["without_next_purchase_date"] == int(rows["next_purchase_date"].isna().sum())
    assumed = {a["name"]: a for a in cdnow_clv["assumptions"]}
    assert assumed["clv.next_purchase_min_p_alive"]["value"] == 0.05


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd", "pareto-nbd", "bgbb", "gamma-gamma"])
def test_every_model_fits_on_cdnow(cdnow_store, model, zero_value):
    doc = _json(["fit", model, "--db", cdnow_store])
    assert doc["model"] == model and all(np.isfinite(v) for v in doc["params"].values())
    inputs = [n["input"] for n in doc["notes"]]
    assert "calibration_end" in inputs
    if model == "gamma-gamma":
        assert doc["n_customers"] == zero_value["repeat_customers"] - zero_value["left_out"]
        assert "orders" in inputs


def test_sbg_on_orders_says_why_in_one_line(cdnow_store):
    result = subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "fit", "sbg", "--db", cdnow_store],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and result.stdout == ""
    assert re.fullmatch(r"error: sbg needs contract durations[^\n]*\n", result.stderr)


# --- the demo store: exits recorded by the simulator ---------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> tuple[str, set[str]]:
    """A simulated business (1,000 customers, 24 months, seed 7) and, from its own tables with pandas, the
    customers whose recorded exit (on or before the last order day) came on or after their last purchase."""
    from keepwise.datasets.simulate import simulate
    from keepwise.store.ingest import load_frame
    from keepwise.store.schema import load_order

    biz = simulate(customers=1_000, months=24, seed=7)
    url = f"duckdb:///{tmp_path_factory.mktemp('demo')}/store.duckdb"
    store = connect(url)
    try:
        for name in load_order(list(biz.tables)):
            load_frame(store, name, biz.tables[name])
    finally:
        store.disconnect()
    o = biz.tables["orders"]
    o = o.assign(value=o["quantity"] * o["unit_price"].map(float))
    o = o.groupby(["customer_id", "order_id"], as_index=False).agg(
        value=("value", "sum"), at=("ordered_at", "min")
    )
    o = o[o["value"] >= 0].assign(day=pd.to_datetime(o["at"], utc=True).dt.floor("D"))
    last = o.groupby("customer_id")["day"].max()
    end = last.max() + pd.Timedelta(days=1)
    ex = biz.tables["exits"].assign(lost_at=lambda d: pd.to_datetime(d["lost_at"], utc=True))
    ex = ex[ex["lost_at"] < end].groupby("customer_id")["lost_at"].max()
    both = pd.concat([ex, last], axis=1, join="inner")
    exited = set(both.index[both["lost_at"] >= both["day"]])
    assert len(exited) > 50
    return url, exited


def test_exited_customers_have_p_alive_0_in_clv(demo):
    url, exited = demo
    doc = _json(["clv", "--db", url, "--draws", "20"])
    assert doc["exited_customers"] == len(exited)
    assert "exits" not in {n["input"] for n in doc["notes"]}
    store = connect(url)
    try:
        rows = store.read("clv").set_index("customer_id")
    finally:
        store.disconnect()
    gone = rows.loc[sorted(exited)]
    for column in ("p_alive", "expected_purchases", "clv", "clv_lower", "clv_upper"):
        assert (gone[column].map(float) == 0).all(), column
    assert gone["next_purchase_date"].isna().all()
    # the purchase model alone gives everyone a positive P(alive): the others keep theirs
    assert (rows.drop(index=sorted(exited))["p_alive"].map(float) > 0).all()
    total = float(rows["clv"].map(float).sum())
    assert total == pytest.approx(doc["total_clv"], abs=len(rows) * 5e-5)


def test_exited_customers_have_p_alive_0_in_the_review(demo):
    from keepwise.review import run_review

    url, _ = demo
    store = connect(url)
    try:
        run_review(store, "2025-12")
        p = store.read("review_p_alive")
        status_exits = _exits_at(store, "2026-01-01")
    finally:
        store.disconnect()
    p = (
        p[p["month"] == "2025-12"].set_index("customer_id")
        if "month" in p.columns
        else p.set_index("customer_id")
    )
    shown = p.loc[p.index.intersection(sorted(status_exits))]
    assert len(shown) > 50
    assert (shown["p_alive"].map(float) == 0).all()
    others = p.drop(index=shown.index)
    assert (others["p_alive"].map(float) > 0).all()


def _exits_at(store, end: str) -> set[str]:
    """Customers whose latest exit before ``end`` came on or after their last purchase day (value > 0)."""
    orders = store.read("orders")
    orders = orders.assign(value=orders["quantity"].map(float) * orders["unit_price"].map(float))
    per = orders.groupby(["customer_id", "order_id"], as_index=False).agg(
        value=("value", "sum"), at=("ordered_at", "min")
    )
    per = per[(per["value"] > 0) & (pd.to_datetime(per["at"], utc=True) < pd.Timestamp(end, tz="UTC"))]
    last = pd.to_datetime(per["at"], utc=True).dt.floor("D").groupby(per["customer_id"]).max()
    ex = store.read("exits")
    ex = ex.assign(lost_at=pd.to_datetime(ex["lost_at"], utc=True))
    ex = ex[ex["lost_at"] < pd.Timestamp(end, tz="UTC")].groupby("customer_id")["lost_at"].max()
    both = pd.concat([ex.rename("lost_at"), last.rename("last")], axis=1, join="inner")
    return set(both.index[both["lost_at"] >= both["last"]])


# --- CSV exports: no formula passes through (issue 21, item 7) -----------------------------------------


@pytest.fixture(scope="module")
def evil_store(cdnow, tmp_path_factory) -> str:
    """The first 600 CDNOW customers, one of them renamed to a spreadsheet formula."""
    ids = sorted(cdnow["customers"]["customer_id"])[:600]
    rename = {ids[0]: EVIL}
    customers = cdnow["customers"][cdnow["customers"]["customer_id"].isin(ids)].replace(
        {"customer_id": rename}
    )
    orders = cdnow["orders"][cdnow["orders"]["customer_id"].isin(ids)].replace({"customer_id": rename})
    url = f"duckdb:///{tmp_path_factory.mktemp('evil')}/store.duckdb"
    load("customers", customers, db=url)
    load("orders", orders.drop(columns=["number_of_cds"], errors="ignore"), db=url)
    return url


def test_clv_csv_neutralises_a_formula_and_keeps_the_numbers(evil_store, tmp_path):
    csv_path, parquet_path = tmp_path / "clv.csv", tmp_path / "clv.parquet"
    _invoke(["clv", "--db", evil_store, "--draws", "0", "--no-save", "--out", str(csv_path)])
    _invoke(["clv", "--db", evil_store, "--draws", "0", "--no-save", "--out", str(parquet_path)])
    with csv_path.open(encoding="utf-8", newline="") as handle:
        cells = [row[0] for row in csv.reader(handle)][1:]
    assert [c for c in cells if "HYPERLINK" in c] == ["'" + EVIL]  # the cell begins with '=
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for c in cells)
    back = pd.read_csv(csv_path, dtype={"customer_id": str}, parse_dates=["next_purchase_date"])
    exact = pd.read_parquet(parquet_path)
    assert back["customer_id"].tolist() == [neutralise(c) for c in exact["customer_id"]]
    assert "'" + EVIL in set(back["customer_id"])
    for column in ("x", "t_x", "T", "p_alive", "expected_purchases", "expected_spend", "clv"):
        np.testing.assert_array_equal(back[column].to_numpy(float), exact[column].to_numpy(float), column)


def test_the_writer_prefixes_every_formula_start_and_leaves_numbers_alone(tmp_path):
    frame = pd.DataFrame(
        {
            "id": ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "plain", "a=b"],
            "amount": [-5.5, 1.0, -0.25, 0.0, 3.0, 1e-9, -1e6, 2.0],
            "n": [-1, 2, 3, 4, 5, 6, 7, 8],
        }
    )
    path = tmp_path / "out.csv"
    assert write_csv(frame, path) == len(frame)
    back = pd.read_csv(path, keep_default_na=False)
    assert back["id"].tolist() == ["'=1+1", "'+1", "'-1", "'@SUM(A1)", "'\tx", "'\rx", "plain", "a=b"]
    np.testing.assert_array_equal(back["amount"], frame["amount"])
    np.testing.assert_array_equal(back["n"], frame["n"])


def test_every_csv_the_cli_writes_goes_through_the_safe_writer():
    """commands/, conjoint/ and value/ write CSV files only with keepwise.exports.write_csv."""
    pattern = re.compile(r"\.to_csv\(|csv\.writer\(|csv\.DictWriter\(")
    hits = [
        f"{path.relative_to(SRC)}:{n}"
        for folder in ("commands", "conjoint", "value", "decisions", "experiments")
        for path in sorted((SRC / folder).rglob("*.py"))
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []
