"""Flows: who is due, holdouts recorded, reruns send nothing twice, the lock stops overlapping runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pandas as pd
import pytest

from keepwise.config import Config
from keepwise.exceptions import KeepwiseInputError
from keepwise.messages.flows import due, flow_settings, run_flows
from keepwise.messages.outbox import LockBusy, StoreLock, report
from keepwise.store.connection import duckdb_connection
from keepwise.store.ingest import load_frame

from .conftest import NOW


def orders(customer: str, last: str, every_days: int, n: int, currency: str) -> pd.DataFrame:
    end = pd.Timestamp(last, tz="UTC")
    at = [end - pd.Timedelta(days=every_days * k) for k in range(n)]
    return pd.DataFrame(
        {
            "order_id": [f"{customer}-{k}" for k in range(n)],
            "line_no": "1",
            "customer_id": customer,
            "ordered_at": [a.isoformat() for a in at],
            "quantity": "1",
            "unit_price": "50.00",
            "currency": currency,
        }
    )


@pytest.fixture
def shop(business):
    frames = [
        orders("C1", "2024-03-01", 10, 6, "USD"),  # idle 106 days, rhythm 10 days: win-back
        orders("C2", "2024-05-20", 30, 4, "PLN"),  # idle 26 days, rhythm 30: nothing yet
        orders("C3", "2024-05-20", 7, 8, "USD"),  # idle 26 days, rhythm 7: at risk (but no marketing consent)
        orders("C4", "2024-06-10", 3, 30, "PLN"),  # the top customer by sales
    ]
    load_frame(business, "orders", pd.concat(frames, ignore_index=True))
    return business


def config(cfg, **flows) -> Config:
    flows.setdefault("incident_followup", {"within_days": 20})  # I1 was opened 14 days before NOW
    return Config(messages=replace(cfg, flows=flows))


def test_due_follows_each_customers_own_rhythm(shop, cfg):
    items = {
        (d.flow, d.kind, d.customer_id, d.cause)
        for d in due(shop, config(cfg, thanks={"top_share": 0.25}), NOW)
    }
    assert items == {
        ("winback", "winback", "C1", "lapse-2024-03-01"),
        ("at_risk", "reengagement", "C3", "lapse-2024-05-20"),
        ("incident_followup", "adjustment", "C1", "I1"),
        ("incident_followup", "adjustment", "C2", "I2"),
        ("incident_followup", "adjustment", "C3", "I3"),
        ("thanks", "thanks", "C4", "year-2024"),
    }


def test_a_run_queues_sends_and_records_holdouts_and_a_rerun_sends_nothing(shop, cfg, smtp, secret):
    handler, port = smtp
    conf = config(cfg, thanks={"top_share": 0.25, "holdout_share": 1.0}, winback={"holdout_share": 0.0})
    first = run_flows(shop, conf, smtp=f"127.0.0.1:{port}", at=NOW)
    assert (first.queued, first.held_out) == (5, 1)
    assert first.sent["sent"] == 4 and first.sent["suppressed"] == 1  # C3 has no marketing consent
    kinds = sorted(str(m["X-Keepwise-Kind"]) for m in handler.messages)
    assert kinds == ["adjustment", "adjustment", "adjustment", "winback"]
    con = duckdb_connection(shop)
    assert con.execute(
        "SELECT experiment_id, customer_id, arm FROM assignments WHERE arm = 'holdout'"
    ).fetchall() == [("flow:thanks", "C4", "holdout")]
    assert report(shop)["by_status"] == {
        "queued": 0,
        "sending": 0,
        "sent": 4,
        "failed": 0,
        "suppressed": 1,
        "held_out": 1,
    }

    again = run_flows(shop, conf, smtp=f"127.0.0.1:{port}", at=NOW + timedelta(minutes=5))
    assert (again.queued, again.held_out, again.already_known) == (0, 0, 6)
    assert len(handler.messages) == 4


def test_dry_run_writes_nothing(shop, cfg):
    result = run_flows(shop, config(cfg), dry_run=True, at=NOW)
    assert sum(result.due.values()) == 5 and result.queued + result.held_out == 5
    assert duckdb_connection(shop).execute("SELECT count(*) FROM outbox").fetchone() == (0,)


def test_an_overlapping_run_does_nothing(shop, cfg, secret):
    other = StoreLock(shop, "outbox", timedelta(minutes=15))
    other.acquire()
    with pytest.raises(LockBusy, match="holds the 'outbox' lock"):
        run_flows(shop, config(cfg), at=NOW, smtp="127.0.0.1:9")
    assert duckdb_connection(shop).execute("SELECT count(*) FROM outbox").fetchone() == (0,)
    other.release()


def test_a_lock_left_by_a_killed_process_is_taken_over(shop):
    con = duckdb_connection(shop)
    con.execute(
        "INSERT INTO locks VALUES ('outbox', ?, ?, ?)",
        [f"{__import__('socket').gethostname()}:999999999:dead", NOW, NOW + timedelta(days=3650)],
    )
    lock = StoreLock(shop, "outbox", timedelta(minutes=1))
    lock.acquire()
    assert con.execute("SELECT holder FROM locks").fetchone() == (lock.holder,)
    lock.release()


def test_flow_settings_are_checked(cfg):
    with pytest.raises(KeepwiseInputError, match=r"unknown flow \[messages.flows.winbak\]"):
        flow_settings(config(cfg, winbak={}))
    with pytest.raises(KeepwiseInputError, match="unknown key 'holdout' in"):
        flow_settings(config(cfg, winback={"holdout": 0.1}))
    with pytest.raises(KeepwiseInputError, match="holdout_share must be between 0 and 1"):
        flow_settings(config(cfg, winback={"holdout_share": 1.5}))


def test_a_customer_without_an_address_is_skipped_with_a_note_and_the_others_are_written_to(
    shop, cfg, secret
):
    """One due customer without an e-mail address used to stop the whole run at its first letter (CDNOW)."""
    duckdb_connection(shop).execute("UPDATE customers SET email = NULL WHERE customer_id = 'C2'")
    conf = config(cfg, thanks={"top_share": 0.25, "holdout_share": 0.0}, winback={"holdout_share": 0.0})
    result = run_flows(shop, conf, at=NOW, send=False)
    assert sum(result.due.values()) == 6 and (result.queued, result.held_out) == (5, 0)
    queued = duckdb_connection(shop).execute("SELECT DISTINCT customer_id FROM outbox").fetchall()
    assert sorted(c for (c,) in queued) == ["C1", "C3", "C4"]
    note = [n.to_json() for n in result.notes if n.input == "customers.email"]
    assert note == [
        {
            "input": "customers.email",
            "missing": "empty for 1 of the customers due a message",
            "instead": "skipped; add their addresses to write",
        }
    ]
