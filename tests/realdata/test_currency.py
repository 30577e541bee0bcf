"""Any currency: a business whose records are all in New Taiwan dollars needs no exchange rate (issue 15, 3).

The TWD store is the simulated business (seed 5, 300 customers, 12 months) with every currency set to TWD and
every amount multiplied by 30 (about the TWD/USD rate, so prices look like a Taipei shop's). Profitability is
linear in the amounts, so every figure of the TWD run must be exactly 30 times the USD run's, except where the
USD run rounds: cost to serve is minutes x hourly cost / 60, rounded to 4 places per customer, so the USD
figure is off its exact value by up to 0.00005 and the TWD one (whose hourly costs are 30 x whole cents, so
/60 needs 3 places) is exact; it is checked against a second computation in Python.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from keepwise.config import Config, ValueAssumptions
from keepwise.datasets.simulate import simulate
from keepwise.exceptions import KeepwiseInputError
from keepwise.report.sections.profitability import profitability_section
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import TABLES
from keepwise.value.profit import run
from keepwise.value.profitability import FIELDS, customer_ledger

SRC = Path(__file__).resolve().parents[2] / "src"
RATE = Decimal(30)
MONTH = None  # each command's default: the data's last month
EXACT = ("revenue", "cogs", "gross_margin", "concessions", "advocacy_value")


def _money_columns() -> dict[str, list[str]]:
    return {t.name: [c.name for c in t.columns if c.type == "money"] for t in TABLES if t.loadable}


def _in_twd(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every currency TWD and every amount x 30, exactly (the simulator's floats are whole cents)."""
    money = _money_columns()
    out = {}
    for name, df in tables.items():
        df = df.copy()
        for col in money.get(name, []):
            if col in df.columns:
                df[col] = [
                    None if pd.isna(v) else str(Decimal(f"{float(v):.2f}") * RATE) for v in df[col].tolist()
                ]
        if "currency" in df.columns:
            df["currency"] = df["currency"].where(df["currency"].isna(), "TWD")
        out[name] = df
    return out


def _load(url: str, tables: dict[str, pd.DataFrame]) -> None:
    store = connect(url)
    try:
        for t in TABLES:
            if t.loadable and t.name in tables:
                load_frame(store, t.name, tables[t.name], source=t.name)
    finally:
        store.disconnect()


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    biz = simulate(customers=300, months=12, seed=5)
    folder = tmp_path_factory.mktemp("currency")
    urls = {"usd": f"duckdb:///{folder}/usd.duckdb", "twd": f"duckdb:///{folder}/twd.duckdb"}
    _load(urls["usd"], biz.tables)
    _load(urls["twd"], _in_twd(biz.tables))
    return urls


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "keepwise.cli", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


def _money_words(text: str) -> list[str]:
    """Every ``$`` not written ``NT$``, and every ``USD``, in ``text`` (what must never appear)."""
    return re.findall(r"(?<!NT)\$[\d,.]*|USD", text)


def test_a_store_in_one_currency_reports_in_it_with_no_configuration(stores, tmp_path):
    done = _cli("profit", "--json", "--no-save", "--db", stores["twd"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["currency"] == "TWD"
    assert {c["currency"] for c in doc["customers"]} == {"TWD"}
    note = next(n for n in doc["notes"] if n["input"] == "value.reporting_currency")
    assert "TWD" in note["instead"] and note["missing"] == "not set"
    text = _cli("profit", "--no-save", "--db", stores["twd"], cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "(TWD)" in text.stdout and _money_words(text.stdout + text.stderr) == []


def test_every_figure_is_thirty_times_the_dollar_figure(stores):
    usd_store, twd_store = connect(stores["usd"]), connect(stores["twd"])
    try:
        usd = run(usd_store, config=Config(), save=False).customers.set_index("customer_id")
        twd = run(twd_store, config=Config(), save=False).customers.set_index("customer_id")
        logs = twd_store.to_pandas(twd_store.table("time_logs"))
        rates = twd_store.to_pandas(twd_store.table("staff_rates"))
        month = run(twd_store, config=Config(), save=False).month
    finally:
        usd_store.disconnect()
        twd_store.disconnect()
    assert usd["currency"].unique().tolist() == ["USD"] and twd["currency"].unique().tolist() == ["TWD"]
    assert sorted(usd.index) == sorted(twd.index) and len(usd) > 100
    for f in EXACT:
        assert (twd[f] == usd.loc[twd.index, f] * RATE).all(), f
        assert twd[f].sum() == usd[f].sum() * RATE, f
    # cost to serve: within the USD run's rounding (30 x 0.00005), and exact against a second computation
    gap = (twd["cost_to_serve"] - usd.loc[twd.index, "cost_to_serve"] * RATE).abs()
    assert gap.max() <= RATE * Decimal("0.00005")
    assert twd["cost_to_serve"].sum() > 0
    assert dict(twd["cost_to_serve"]) == _cost_to_serve(logs, rates, month, list(twd.index))
    assert (twd["tier"].value_counts() == usd["tier"].value_counts()).all()


def _cost_to_serve(logs: pd.DataFrame, rates: pd.DataFrame, month: str, ids: list[str]) -> dict[str, Decimal]:
    """minutes x the hourly cost valid when each log started / 60, per customer, for ``month`` (Python)."""
    start = pd.Timestamp(f"{month}-01", tz="UTC")
    end = start + pd.offsets.MonthBegin(1)
    started = pd.to_datetime(logs["started_at"], utc=True)
    logs = logs[(started >= start) & (started < end)].assign(started=started)
    rates = rates.assign(valid=pd.to_datetime(rates["valid_from"], utc=True)).sort_values("valid")
    out = {cid: Decimal(0) for cid in ids}
    for log in logs.itertuples():
        valid = rates[(rates["staff_id"] == log.staff_id) & (rates["valid"] <= log.started)]
        hourly = Decimal(str(valid.iloc[-1]["hourly_cost"]))
        out[log.customer_id] = out.get(log.customer_id, Decimal(0)) + Decimal(str(log.minutes)) * hourly / 60
    return {cid: v.quantize(Decimal("0.0001")) for cid, v in out.items() if cid in ids}


def test_review_outreach_and_winback_speak_the_data_currency(stores):
    from keepwise.decisions import outreach, winback

    store = connect(stores["twd"])
    try:
        section = profitability_section(store, None, Config())
        plan = outreach.run(store, config=Config(), save=False).to_json()
        wb = winback.run(store, config=Config(), save=False).to_json()
    finally:
        store.disconnect()
    assert section["currency"] == "TWD" and section["month"]["currency"] == "TWD"
    text = " ".join(section["sentences"])
    assert "NT$" in text and _money_words(text) == []
    assert plan["currency"] == "TWD"
    reasons = " ".join(r for a in plan["actions"] for r in a["reasons"])
    assert "NT$" in reasons and _money_words(reasons) == []
    assert wb["currency"] == "TWD"
    assert _money_words(str(wb)) == []


def test_several_currencies_without_rates_name_the_currencies_and_the_setting(tmp_path):
    biz = simulate(customers=60, months=6, seed=5)
    tables = dict(biz.tables)
    ids = tables["customers"]["customer_id"].tolist()
    eur, gbp = set(ids[::3]), set(ids[1::3])
    for name in ("customers", "orders"):
        df = tables[name].copy()
        df.loc[df["customer_id"].isin(eur), "currency"] = "EUR"
        df.loc[df["customer_id"].isin(gbp), "currency"] = "GBP"
        tables[name] = df
    url = f"duckdb:///{tmp_path}/mixed.duckdb"
    _load(url, {k: v for k, v in tables.items() if k in ("customers", "orders")})
    done = _cli("profit", "--no-save", "--db", url, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (
        "error: orders are in EUR, GBP and USD: set [value] fx = {EUR = <rate>, GBP = <rate>} in "
        "keepwise.toml to report in USD (reporting_currency; a rate is what 1 unit is worth in USD)"
    )
    (tmp_path / "keepwise.toml").write_text('[value]\nfx = {EUR = "1.08", GBP = "1.27"}\n')
    ok = _cli("profit", "--json", "--no-save", "--db", url, cwd=tmp_path)
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["currency"] == "USD"  # the one currency without a rate
    by_input = {n["input"]: n for n in doc["notes"]}
    assert "USD is the one without a rate in [value] fx" in by_input["value.reporting_currency"]["instead"]
    assert by_input["month"]["instead"].startswith("used 2024-06")  # no --month: the data's last month
    store = connect(url)
    try:
        with pytest.raises(KeepwiseInputError, match=r"^orders are in EUR, GBP and USD"):
            customer_ledger(store, config=Config())
    finally:
        store.disconnect()
    assert FIELDS[0] == "revenue"


def test_a_reporting_currency_that_is_set_keeps_working(stores):
    store = connect(stores["twd"])
    try:
        unset = run(store, config=Config(), save=False).document
        twd = run(store, config=Config(value=ValueAssumptions(reporting_currency="TWD")), save=False).document
        with pytest.raises(
            KeepwiseInputError, match=r"^no exchange rate for TWD: .*\[value\] fx = \{TWD = <rate>\}"
        ):
            run(store, config=Config(value=ValueAssumptions(reporting_currency="USD")), save=False)
        usd = Config(value=ValueAssumptions(reporting_currency="USD", fx={"TWD": Decimal("0.5")}))
        halved = run(store, config=usd, save=False).document
    finally:
        store.disconnect()
    assert twd["totals"] == unset["totals"] and twd["currency"] == "TWD"
    assert "value.reporting_currency" not in {n["input"] for n in twd["notes"]}  # set: nothing to say
    assert halved["currency"] == "USD"
    assert Decimal(halved["totals"]["revenue"]) == Decimal(unset["totals"]["revenue"]) / 2
