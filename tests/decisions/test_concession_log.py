"""The concession decision log: recording, outcomes from the store, and the report by month."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal

import pandas as pd
import pytest
from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.config import Config, DecisionAssumptions
from keepwise.decisions.concession import ConcessionFigures, decide
from keepwise.decisions.concession_log import (
    concession_report,
    fill_outcomes,
    log_advice,
    logged,
    record_action,
)
from keepwise.exceptions import KeepwiseInputError
from keepwise.store import connect
from keepwise.store.ingest import load_frame

CFG = DecisionAssumptions()


def _figures(cid: str, future_margin: str = "400.00") -> ConcessionFigures:
    # loss if they leave = margin + 50 + 30; the concession lowers the chance of leaving by 0.18
    return ConcessionFigures(
        customer_id=cid,
        currency="USD",
        future_margin=Decimal(future_margin),
        replacement_cost=Decimal("50.00"),
        word_of_mouth_loss=Decimal("30.00"),
        p_without=0.3,
        p_with=0.12,
        reduction_low=0.1,
        reduction_high=0.25,
        category="late",
        effect_text="test effect",
    )


@pytest.fixture
def hand_store(tmp_path):
    """Four customers with orders and one exit chosen so that every figure of the report can be worked out."""
    url = f"duckdb:///{tmp_path / 'hand.duckdb'}"
    b = connect(url)
    load_frame(b, "customers", pd.DataFrame({"customer_id": ["C1", "C2", "C3", "C4"]}), source="customers")

    def line(oid: str, cid: str, at: str, qty: int, price: str, cost: str) -> dict:
        return dict(
            order_id=oid,
            line_no=1,
            customer_id=cid,
            ordered_at=at,
            quantity=qty,
            unit_price=price,
            unit_cost=cost,
            currency="USD",
        )

    orders = pd.DataFrame(
        [
            line("O1", "C1", "2023-12-01T10:00Z", 1, "30.00", "10.00"),
            line("O2", "C1", "2024-02-01T10:00Z", 2, "30.00", "10.00"),  # margin 40, inside 90 days of d1
            line("O3", "C1", "2024-05-01T10:00Z", 1, "30.00", "10.00"),  # outside the window
            line("O4", "C2", "2023-12-05T10:00Z", 1, "80.00", "50.00"),
            line("O5", "C2", "2024-02-01T10:00Z", 1, "80.00", "50.00"),  # ordered, then left: still "left"
            line("O6", "C3", "2023-12-07T10:00Z", 1, "20.00", "5.00"),
            line("O7", "C4", "2024-06-01T10:00Z", 1, "20.00", "5.00"),
            line("O8", "C4", "2024-12-31T10:00Z", 1, "20.00", "5.00"),  # the store's latest record
        ]
    )
    load_frame(b, "orders", orders, source="orders")
    exits = pd.DataFrame({"customer_id": ["C2"], "lost_at": ["2024-02-20T00:00Z"], "reason_code": ["price"]})
    load_frame(b, "exits", exits, source="exits")
    yield b
    b.disconnect()


def test_record_and_report_by_hand(hand_store):
    b = hand_store
    # d1: approve 50 (benefit 0.18 x 480 = 86.40), granted at the recommended amount -> followed
    d1 = log_advice(b, decide(_figures("C1"), Decimal("50"), CFG), pd.Timestamp("2024-01-10T09:00Z"))
    # d2: refuse (an unprofitable customer), yet granted 30 -> overrode
    d2 = log_advice(
        b, decide(_figures("C2", "-300.00"), Decimal("30"), CFG), pd.Timestamp("2024-01-15T09:00Z")
    )
    # d3: counter 86 instead of 200, refused -> overrode
    adv3 = decide(_figures("C3"), Decimal("200"), CFG)
    d3 = log_advice(b, adv3, pd.Timestamp("2024-02-05T09:00Z"))
    # d4: approve 25, granted 20 (less than recommended) -> followed; too recent for an outcome
    d4 = log_advice(b, decide(_figures("C4"), Decimal("25"), CFG), pd.Timestamp("2024-12-01T09:00Z"))
    # d5: approve 25, granted -> followed; C4 orders 83 days later -> stayed (margin 15)
    d5 = log_advice(b, decide(_figures("C4"), Decimal("25"), CFG), pd.Timestamp("2024-03-10T09:00Z"))
    assert (d1, d2, d4) == ("d-20240110-C1-1", "d-20240115-C2-1", "d-20241201-C4-1")
    assert adv3.decision == "counter" and adv3.recommended == Decimal("86")
    assert logged(b, d1)["recommendation"] == "approve" and logged(b, d1)["action"] == "pending"

    r1 = record_action(b, d1, "granted")
    assert r1["granted"] == Decimal("50.00") and r1["followed"] is True
    assert record_action(b, d2, "granted", "30")["followed"] is False
    assert record_action(b, d3, "refused")["followed"] is False
    assert record_action(b, d4, "granted", "20.00")["followed"] is True
    assert record_action(b, d5, "granted")["granted"] == Decimal("25.00")

    assert fill_outcomes(b, 90) == {"stayed": 2, "left": 1, "quiet": 1, "pending": 1}
    assert logged(b, d1)["outcome"] == "stayed"
    assert logged(b, d2)["outcome"] == "left"  # exit on 2024-02-20, 36 days after
    assert logged(b, d3)["outcome"] == "quiet"  # no order and no exit in 90 days
    assert logged(b, d4)["outcome"] == "pending"  # the store ends 30 days after
    assert logged(b, d5)["outcome"] == "stayed"

    rep = concession_report(b, window_days=90).to_json()
    t = rep["total"]
    assert t["decisions"] == 5 and t["granted"] == 4 and t["refused"] == 1
    assert t["followed"] == 3 and t["overrode"] == 2
    assert t["recommended"] == {"approve": 3, "counter": 1, "refuse": 1}
    assert t["spent"] == "125.00"  # 50 + 30 + 20 + 25
    # of the granted who stayed: C1's O2, 2 x (30 - 10), and C4's O7 after d5, 20 - 5 (O8 is d4's: pending)
    assert t["margin_after_granted"] == "55.00"
    # d1, d4 and d5 were expected to keep 0.18 x 480 = 86.40 each; d2 nothing (losing them costs nothing)
    assert t["expected_benefit_granted"] == "259.20"
    assert t["outcomes"]["granted"] == {"stayed": 2, "left": 1, "quiet": 0, "pending": 1, "stay_rate": 0.6667}
    assert t["outcomes"]["refused"] == {"stayed": 0, "left": 0, "quiet": 1, "pending": 0, "stay_rate": 0.0}
    assert [m["month"] for m in rep["months"]] == ["2024-01", "2024-02", "2024-03", "2024-12"]
    jan = rep["months"][0]
    assert jan["granted"] == 2 and jan["spent"] == "80.00" and jan["margin_after_granted"] == "40.00"
    text = " ".join(rep["reasons"])
    assert "5 concession decisions: 4 granted ($125.00 spent), 1 refused" in text
    assert "followed 3 times and overridden 2 times" in text
    assert "$125.00 spent on concessions against $55.00 of margin" in text
    assert "went from 50.0% in 2024-01 to 100.0% in 2024-03" in text
    assert "spending went from $80.00 to $25.00 a month" in text

    since = concession_report(b, since="2024-02", window_days=90).to_json()
    assert since["total"]["decisions"] == 3 and since["total"]["spent"] == "45.00"


def test_record_errors(hand_store):
    d = log_advice(hand_store, decide(_figures("C1"), Decimal("50"), CFG), pd.Timestamp("2024-01-10T09:00Z"))
    with pytest.raises(KeepwiseInputError, match="unknown decision id 'nope'"):
        record_action(hand_store, "nope", "granted")
    with pytest.raises(KeepwiseInputError, match="granted or refused"):
        record_action(hand_store, d, "maybe")
    with pytest.raises(KeepwiseInputError, match="--amount goes with --action granted"):
        record_action(hand_store, d, "refused", "10")
    with pytest.raises(KeepwiseInputError, match="more than 0"):
        record_action(hand_store, d, "granted", "-5")
    with pytest.raises(KeepwiseInputError, match="--since must be a month"):
        concession_report(hand_store, since="March")


@pytest.fixture
def log_db(sim_db, tmp_path):
    copy = tmp_path / "log.duckdb"
    shutil.copy(sim_db.removeprefix("duckdb:///"), copy)
    return f"duckdb:///{copy}"


def test_outcomes_on_the_simulator_match_its_truth(log_db, sim_business):
    """Decisions logged at real incidents: the simulator's known exits come out as "left", and every outcome
    matches a second computation from the store's rows."""
    from keepwise.decisions.concession import ConcessionAdvisor

    truth_inc = pd.DataFrame.from_dict(sim_business.truth["incidents"], orient="index")
    truth_cust = pd.DataFrame.from_dict(sim_business.truth["customers"], orient="index")
    inc = sim_business.incidents.set_index("incident_id")
    truth_inc["opened_at"] = pd.to_datetime(inc["opened_at"], utc=True)
    truth_inc["exit_recorded"] = truth_inc["customer_id"].map(truth_cust["exit_recorded"]).astype(bool)
    end = pd.Timestamp(sim_business.truth["end"])
    early = truth_inc[truth_inc["opened_at"] < end - pd.Timedelta(days=120)]
    left = early[early["caused_exit"] & early["exit_recorded"]].head(15)
    stayed = early[early["outcome"] == "stayed"].head(25)
    sample = pd.concat([left, stayed])
    assert len(left) == 15 and len(stayed) == 25

    b = connect(log_db)
    adv = ConcessionAdvisor(b, Config())
    ids = {}
    for iid, row in sample.iterrows():
        ids[iid] = adv.advise(row["customer_id"], "20", iid, at=row["opened_at"].to_pydatetime()).decision_id
    counts = fill_outcomes(b, 90)
    assert counts["pending"] == 0 and sum(counts.values()) == len(sample)
    got = {iid: logged(b, d)["outcome"] for iid, d in ids.items()}
    # the truth: those whose incident made them leave (with an exit on record) left
    assert all(got[i] == "left" for i in left.index)
    # the truly staying (active 60 days after) are never marked as left
    assert all(got[i] in ("stayed", "quiet") for i in stayed.index)
    assert sum(got[i] == "stayed" for i in stayed.index) >= 10  # the rest had no order in the 90 days

    # a second computation, straight from the loaded rows
    orders = sim_business.tables["orders"].assign(
        ordered_at=lambda o: pd.to_datetime(o["ordered_at"], utc=True)
    )
    orders = orders[orders["quantity"] > 0]
    exits = sim_business.tables["exits"].assign(lost_at=lambda e: pd.to_datetime(e["lost_at"], utc=True))
    for iid, row in sample.iterrows():
        at, cid, w = row["opened_at"], row["customer_id"], pd.Timedelta(days=90)
        ex = exits[(exits["customer_id"] == cid) & (exits["lost_at"] > at) & (exits["lost_at"] <= at + w)]
        od = orders[
            (orders["customer_id"] == cid) & (orders["ordered_at"] > at) & (orders["ordered_at"] <= at + w)
        ]
        expected = "left" if len(ex) else ("stayed" if len(od) else "quiet")
        assert got[iid] == expected, iid
    b.disconnect()


def test_cli_logs_records_and_reports(log_db):
    runner = CliRunner()
    res = runner.invoke(
        app, ["concession", "C0002", "--cost", "40", "--at", "2024-06-01T10:00Z", "--json", "--db", log_db]
    )
    assert res.exit_code == 0, res.output
    decision_id = json.loads(res.stdout)["decision_id"]
    assert decision_id == "d-20240601-C0002-1"
    # a dry run logs nothing
    res = runner.invoke(app, ["concession", "C0002", "--cost", "40", "--no-log", "--json", "--db", log_db])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["decision_id"] is None
    res = runner.invoke(
        app,
        [
            "concessions",
            "record",
            decision_id,
            "--action",
            "granted",
            "--amount",
            "35",
            "--json",
            "--db",
            log_db,
        ],
    )
    assert res.exit_code == 0, res.output
    rec = json.loads(res.stdout)
    assert rec["granted"] == "35.00" and rec["action"] == "granted"
    res = runner.invoke(app, ["concessions", "report", "--json", "--db", log_db])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["total"]["decisions"] == 1 and doc["total"]["spent"] == "35.00"
    assert doc["months"][0]["month"] == "2024-06" and doc["reasons"]
    res = runner.invoke(app, ["concessions", "record", "nope", "--action", "granted", "--db", log_db])
    assert isinstance(res.exception, KeepwiseInputError) and "unknown decision id" in str(res.exception)


def test_margin_after_takes_the_product_s_standard_cost_and_the_margin_rate(tmp_path):
    """Lines without a unit cost of their own cost their product's standard cost, else the margin rate.

    C1 is granted a concession on 2024-01-10 and orders 2 x 30.00 on 2024-02-01 of product P1, whose
    standard cost is 10.00 (no cost on the line): 40.00 of margin after, not the 60.00 of revenue. C2's line
    has neither cost; with a margin rate of 0.25 its 2 x 40.00 leave 20.00.
    """
    b = connect(f"duckdb:///{tmp_path / 'costs.duckdb'}")
    load_frame(b, "customers", pd.DataFrame({"customer_id": ["C1", "C2"]}), source="customers")
    load_frame(
        b,
        "products",
        pd.DataFrame({"product_id": ["P1", "P2"], "category": ["a", "b"], "unit_cost": ["10.00", None]}),
        source="products",
    )
    lines = [
        ("O1", "C1", "2023-12-01T10:00Z", "P1", 1, "30.00"),
        ("O2", "C1", "2024-02-01T10:00Z", "P1", 2, "30.00"),
        ("O3", "C2", "2023-12-02T10:00Z", "P2", 1, "40.00"),
        ("O4", "C2", "2024-02-02T10:00Z", "P2", 2, "40.00"),
        ("O5", "C2", "2024-12-31T10:00Z", "P2", 1, "40.00"),
    ]
    orders = pd.DataFrame(
        [
            dict(order_id=o, line_no=1, customer_id=c, ordered_at=at, product_id=p, quantity=q, unit_price=u,
                 currency="USD")
            for o, c, at, p, q, u in lines
        ]
    )  # fmt: skip
    load_frame(b, "orders", orders, source="orders")
    d1 = log_advice(b, decide(_figures("C1"), Decimal("50"), CFG), pd.Timestamp("2024-01-10T09:00Z"))
    d2 = log_advice(b, decide(_figures("C2"), Decimal("50"), CFG), pd.Timestamp("2024-01-12T09:00Z"))
    record_action(b, d1, "granted")
    record_action(b, d2, "granted")
    without_rate = concession_report(b, window_days=90).to_json()["total"]["margin_after_granted"]
    with_rate = concession_report(b, window_days=90, margin_rate="0.25").to_json()["total"]
    assert without_rate == "120.00"  # C1: 2 x (30 - 10); C2: 2 x 40 with no cost at all
    assert with_rate["margin_after_granted"] == "60.00"  # C2: 2 x 40 x 0.25
    b.disconnect()
