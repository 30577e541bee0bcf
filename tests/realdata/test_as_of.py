"""As of the data, not the wall clock: a past month's review and experiments on a store cut at that month.

A simulated business (400 customers, 2024-01 to 2025-06) is loaded twice: store ``full`` with all of its
history, store ``cut`` with only what was recorded by the end of month M = 2024-12 (every table with a
time stamp is cut there; an incident resolved later is still open at the cut, and a consent revoked later
is still in force). The review of M and an experiment designed for M must read the same on both: the second
implementation here is the store itself, cut by hand. The flows run as of a past day is checked against a
count of who is due made directly from the simulated tables with pandas. CDNOW (orders to 1998-06-30, no
other table) checks that commands without ``--month`` take the data's last month and say so.

Fields that legitimately differ between the two stores: none in the review document; ``designed_at`` of an
experiment's design (the wall-clock time the command ran, not a figure).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from keepwise import cli
from keepwise.config import Config
from keepwise.datasets.simulate import simulate
from keepwise.jsonio import dumps
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order

MONTH = "2024-12"
END = pd.Timestamp("2025-01-01", tz="UTC")  # the first instant after MONTH

#: The time stamp each table is cut by (a row recorded at or after END is not known at the cut).
CUT_BY = {
    "customers": "acquired_at",
    "orders": "ordered_at",
    "time_logs": "started_at",
    "staff_rates": "valid_from",
    "incidents": "opened_at",
    "exits": "lost_at",
    "advocacy": "at",
    "consent": "granted_at",
    "wins": "won_at",
    "winback_attempts": "attempted_at",
}


def cut(tables: dict[str, pd.DataFrame], end: pd.Timestamp) -> dict[str, pd.DataFrame]:
    """The tables as they stood at ``end``: later rows gone, later resolutions and revocations undone."""
    out = {}
    for name, frame in tables.items():
        df = frame.copy()
        column = CUT_BY.get(name)
        if column is not None:
            df = df[df[column].isna() | (df[column] < end)].copy()
        if name == "incidents":
            later = df["resolved_at"].notna() & (df["resolved_at"] >= end)
            df.loc[later, "resolved_at"] = pd.NaT
            df.loc[later, "status"] = "open"
        if name == "consent":
            df.loc[df["revoked_at"].notna() & (df["revoked_at"] >= end), "revoked_at"] = pd.NaT
        out[name] = df
    return out


def load(url: str, tables: dict[str, pd.DataFrame]) -> str:
    store = connect(url)
    try:
        for name in load_order(list(tables)):
            if len(tables[name]):
                load_frame(store, name, tables[name])
    finally:
        store.disconnect()
    return url


@pytest.fixture(scope="module")
def biz():
    return simulate(customers=400, months=18, seed=11)


@pytest.fixture(scope="module")
def stores(biz, tmp_path_factory):
    """``{"full": url, "cut": url, "cut_window": url}``; ``cut_window`` ends with 2025-03, a window's end."""
    folder = tmp_path_factory.mktemp("as_of")
    return {
        "full": load(f"duckdb:///{folder}/full.duckdb", biz.tables),
        "cut": load(f"duckdb:///{folder}/cut.duckdb", cut(biz.tables, END)),
        "cut_window": load(
            f"duckdb:///{folder}/cut_window.duckdb", cut(biz.tables, pd.Timestamp("2025-04-01", tz="UTC"))
        ),
    }


def test_the_cut_removes_history(biz, stores):
    # the comparison below means something only if the full store goes on well past the month
    store = connect(stores["cut"])
    try:
        assert store.count("orders") < 0.7 * len(biz.orders)
        last = pd.Timestamp(store.to_pandas(store.table("orders").ordered_at.max()))
        assert last.strftime("%Y-%m-%d") == "2024-12-31"
    finally:
        store.disconnect()
    assert biz.orders["ordered_at"].max() >= pd.Timestamp("2025-06-30", tz="UTC")


def review_document(url: str, month: str | None) -> dict:
    from keepwise.review import run_review

    store = connect(url)
    try:
        return json.loads(dumps(run_review(store, month, write=False, config=Config()).to_json()))
    finally:
        store.disconnect()


def test_a_past_months_review_is_the_review_of_the_store_cut_then(stores):
    full = review_document(stores["full"], MONTH)
    cut_doc = review_document(stores["cut"], MONTH)
    assert full["month"] == MONTH
    assert full["warnings"] and full["lost"]["count"] > 0  # there are figures to compare
    assert {"warnings", "lost", "metrics", "profitability", "wins"} <= set(full)
    assert full == cut_doc


def test_without_a_month_the_cut_store_is_reviewed_for_its_last_month_and_says_so(stores):
    doc = review_document(stores["cut"], None)
    assert doc["month"] == MONTH
    assert doc["notes"][0] == {
        "input": "month",
        "missing": "none given",
        "instead": "used 2024-12, the last complete month of the data (orders up to 2024-12-31)",
    }
    assert all(set(n) == {"input", "missing", "instead"} for n in doc["notes"])
    assert doc == {**review_document(stores["cut"], MONTH), "notes": doc["notes"]}


def design(url: str, name: str, **kw):
    from keepwise.experiments import start

    store = connect(url)
    try:
        return start(
            store, name, population="top:120", seed=3, strata=["profit_decile"], config=Config(), **kw
        )
    finally:
        store.disconnect()


def test_an_experiment_for_a_past_month_is_assigned_at_its_end_on_both_stores(stores):
    full = design(stores["full"], "vip", month=MONTH).to_json()
    cut_doc = design(stores["cut"], "vip", month=MONTH).to_json()
    assert full["assigned_at"] == "2025-01-01T00:00:00+00:00"  # not the wall clock's now
    assert full.pop("designed_at") and cut_doc.pop("designed_at")
    assert full == cut_doc
    store = connect(stores["full"])
    try:
        stamps = store.read("assignments", where={"experiment_id": "vip"})["assigned_at"]
    finally:
        store.disconnect()
    assert set(pd.to_datetime(stamps, utc=True)) == {END}
    # without a month: the data's last month (the cut store's is MONTH), said in a note
    again = design(stores["cut"], "vip").to_json()
    assert again["status"] == "unchanged" and again["month"] == MONTH
    # a rerun never re-assigns, so it reports the time of the assignment that stands
    later = design(stores["cut"], "vip", month=MONTH, at=datetime(2030, 1, 1, tzinfo=UTC)).to_json()
    assert later["status"] == "unchanged" and later["assigned_at"] == "2025-01-01T00:00:00+00:00"
    assert again["notes"] == [
        {
            "input": "month",
            "missing": "none given",
            "instead": "used 2024-12, the last month with an order in the data",
        }
    ]


def analysis(url: str, name: str, months: int) -> dict:
    from keepwise.experiments import analyze

    store = connect(url)
    try:
        return json.loads(dumps(analyze(store, name, months=months, config=Config()).to_json(details=True)))
    finally:
        store.disconnect()


def test_analysing_before_the_window_ends_is_too_early(stores):
    from keepwise.experiments.store import TooEarly

    design(stores["cut"], "early", month=MONTH)
    with pytest.raises(
        TooEarly, match=r"^too early: the window ends on 2025-12-31 and the data reach 2024-12-31"
    ):
        analysis(stores["cut"], "early", 12)
    # the real command: one line, exit 2 (it used to print a table of zeros and NaN with exit 0)
    done = subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "experiment", "analyze", "early", "--db", stores["cut"]],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "error: too early: the window ends on 2025-12-31 and the data reach 2024-12-31; analyse it once the "
        "data reach that day, or measure fewer months with --months N\n"
    )


def test_an_ended_window_reads_the_same_on_the_store_cut_at_its_end(stores):
    design(stores["full"], "three", month=MONTH)
    design(stores["cut_window"], "three", month=MONTH)
    full = analysis(stores["full"], "three", 3)
    cut_doc = analysis(stores["cut_window"], "three", 3)
    assert full["window"]["first_month"] == "2025-01" and full["window"]["ends_on"] == "2025-03-31"
    assert full["arms"]["control"]["n"] == 60 and any(c["difference"] != 0 for c in full["comparisons"])
    assert full.pop("window")["data_end"] == "2025-06-30"
    assert cut_doc.pop("window")["data_end"] == "2025-03-31"
    assert full == cut_doc
    with pytest.raises(
        Exception, match="too early: the window ends on 2025-06-30 and the data reach 2025-03-31"
    ):
        analysis(stores["cut_window"], "three", 6)


# ---------------------------------------------------------------------------------------------------- flows

AS_OF = datetime(2024, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)  # --as-of 2024-12-31: the end of that day


def expected_due(biz, at: datetime) -> dict[str, int]:
    """Who the default flows want at ``at``, counted from the simulated tables with pandas."""
    o = biz.orders[(biz.orders["ordered_at"] <= at) & (biz.orders["quantity"] > 0)]
    per = o.groupby("customer_id").agg(
        first=("ordered_at", "min"),
        last=("ordered_at", "max"),
        days=("ordered_at", lambda s: s.dt.date.nunique()),
    )
    e = biz.exits[biz.exits["lost_at"] <= at].sort_values("lost_at")
    wanted = e.groupby("customer_id")["wanted_back"].last()
    due = {"winback": 0, "at_risk": 0, "incident_followup": 0, "thanks": 0}
    for cid, r in per.iterrows():
        seconds = (r["last"].floor("s") - r["first"].floor("s")).total_seconds()
        gap = seconds / 86400 / (r["days"] - 1) if r["days"] > 1 else None
        idle = (at - r["last"]).total_seconds() / 86400
        win_after = max(60.0, 3.0 * gap if gap else 0.0)
        risk_after = max(21.0, 1.5 * gap if gap else 0.0)
        w = wanted.get(cid)
        if win_after < idle <= 730:
            due["winback"] += 1
        elif risk_after < idle <= win_after and w is not False and not (w is not None and not w):
            due["at_risk"] += 1
    i = biz.incidents
    due["incident_followup"] = int(
        (
            (i["opened_at"] <= at)
            & (i["opened_at"] > at - timedelta(days=14))
            & (i["concession_amount"] > 0)
            & i["currency"].notna()
        ).sum()
    )
    year = biz.orders[
        (biz.orders["ordered_at"] <= at) & (biz.orders["ordered_at"] > at - timedelta(days=365))
    ]
    year = year[year["customer_id"].isin(biz.customers["customer_id"])]
    sales = (year["quantity"] * year["unit_price"]).groupby(year["customer_id"]).sum()
    due["thanks"] = int((sales > 0).sum() * 0.05)
    return {k: v for k, v in due.items() if v}


def test_flows_run_as_of_a_past_day_counts_who_was_due_then(biz, stores, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no keepwise.toml: the default flows
    expected = expected_due(biz, AS_OF)
    assert (
        expected["winback"] > 50 and expected["at_risk"] > 10
    )  # enough to tell a wrong cut from a right one
    printed = CliRunner().invoke(
        cli.app, ["flows", "run", "--dry-run", "--as-of", "2024-12-31", "--json", "--db", stores["full"]]
    )
    assert printed.exit_code == 0, printed.output
    doc = json.loads(printed.stdout)
    assert doc["as_of"] == AS_OF.isoformat() and doc["notes"] == []
    assert doc["due"] == expected
    assert doc["queued"] + doc["held_out"] == sum(expected.values())
    # the same day on the store cut at the month: the same messages are due
    on_cut = CliRunner().invoke(
        cli.app, ["flows", "run", "--dry-run", "--as-of", "2024-12-31", "--json", "--db", stores["cut"]]
    )
    assert json.loads(on_cut.stdout)["due"] == expected


def test_flows_run_as_of_queues_them_stamped_then(biz, stores, tmp_path, monkeypatch):
    import shutil

    from keepwise.messages import flows

    monkeypatch.setenv("KEEPWISE_SECRET", "s" * 40)
    copy = tmp_path / "queue.duckdb"
    shutil.copy(stores["full"].removeprefix("duckdb:///"), copy)
    base = Config()
    only = {
        "winback": {"enabled": False},
        "incident_followup": {"enabled": False},
        "thanks": {"enabled": False},
    }
    config = replace(base, messages=replace(base.messages, flows=only))  # at-risk nudges: quick to compose
    store = connect(f"duckdb:///{copy}")
    try:
        result = flows.run(store, as_of=flows.parse_as_of("2024-12-31"), config=config, send=False)
        outbox = store.to_pandas(store.table("outbox"))
    finally:
        store.disconnect()
    assert result.due == {"at_risk": expected_due(biz, AS_OF)["at_risk"]}
    assert len(outbox) == result.queued + result.held_out == result.due["at_risk"]
    assert set(pd.to_datetime(outbox["queued_at"], utc=True)) == {pd.Timestamp(AS_OF)}


@pytest.mark.parametrize(
    ("given", "moment"),
    [
        ("2024-12-31", AS_OF),
        ("2024-12-31T09:00Z", datetime(2024, 12, 31, 9, tzinfo=UTC)),
        ("2024-12-31T10:00+01:00", datetime(2024, 12, 31, 9, tzinfo=UTC)),
    ],
)
def test_as_of_is_a_days_end_or_a_time_with_its_zone(given, moment):
    from keepwise.messages.flows import parse_as_of

    assert parse_as_of(given) == moment


@pytest.mark.parametrize("given", ["2024-12-31T09:00", "yesterday", "2024-13-01"])
def test_a_bad_as_of_is_one_line_exit_2(given, stores):
    for command in (["flows", "run", "--dry-run"], ["messages", "send"]):
        done = subprocess.run(
            [sys.executable, "-m", "keepwise.cli", *command, "--as-of", given, "--db", stores["cut"]],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.startswith("error: --as-of: ") and done.stderr.count("\n") == 1


# ---------------------------------------------------------------------------------------------------- CDNOW


@pytest.fixture(scope="module")
def cdnow(tmp_path_factory) -> str:
    from keepwise.datasets import cdnow_tables

    url = f"duckdb:///{tmp_path_factory.mktemp('cdnow')}/cdnow.duckdb"
    tables = cdnow_tables()
    return load(url, {"customers": tables["customers"], "orders": tables["orders"]})


def keepwise_json(*args: str, cwd: Path) -> dict:
    """The real command's JSON document, run in ``cwd`` with the keepwise under test."""
    import os

    import keepwise

    env = {**os.environ, "PYTHONPATH": str(Path(keepwise.__file__).resolve().parents[1])}
    done = subprocess.run(
        [sys.executable, "-m", "keepwise.cli", *args, "--json"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.slow
def test_cdnow_commands_without_a_month_take_1998_06_and_say_so(cdnow, tmp_path):
    month_note = {"input": "month", "missing": "none given"}
    review = keepwise_json("review", "--db", cdnow, "--html", str(tmp_path / "r.html"), cwd=tmp_path)
    assert review["month"] == "1998-06"
    assert {**review["notes"][0], "instead": ""} == {**month_note, "instead": ""}
    assert "1998-06" in review["notes"][0]["instead"]
    assert {n["input"] for n in review["notes"]} >= {"orders.unit_cost", "incidents", "exits", "time_logs"}
    wins = keepwise_json("wins", "--db", cdnow, cwd=tmp_path)
    assert wins["month"] == "1998-06" and wins["notes"][0]["instead"].startswith("used 1998-06")
    started = keepwise_json(
        "experiment", "design", "cd", "--population", "top:200", "--db", cdnow, cwd=tmp_path
    )
    assert started["month"] == "1998-06" and started["notes"][0]["instead"].startswith("used 1998-06")
    assert started["assigned_at"] == "1998-07-01T00:00:00+00:00"
    # the flows at the wall clock's now on 1998 data: said, not silently acted on
    now = keepwise_json("flows", "run", "--dry-run", "--db", cdnow, cwd=tmp_path)
    assert [n["input"] for n in now["notes"]] == ["consent", "as_of"]
    assert now["notes"][1]["missing"].startswith("the data end on 1998-06-30")
    then = keepwise_json("flows", "run", "--dry-run", "--as-of", "1998-06-30", "--db", cdnow, cwd=tmp_path)
    # CDNOW has no e-mail addresses: everyone due is counted, then skipped with one note
    assert [n["input"] for n in then["notes"]] == ["consent", "customers.email"]
    assert then["due"]["winback"] > 1000
    assert then["queued"] == 0 and then["held_out"] == 0
