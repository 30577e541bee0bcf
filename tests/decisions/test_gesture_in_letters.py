"""The adjustment letter's extra gesture comes from the concession advisor without logging a decision."""

from __future__ import annotations

import shutil
from decimal import Decimal

from keepwise.messages.compose import Grant
from keepwise.messages.flows import decided_gesture
from keepwise.store import connect


def test_letters_ask_the_advisor_without_writing_the_decision_log(sim_db, tmp_path):
    copy = tmp_path / "store.duckdb"
    shutil.copy(sim_db.removeprefix("duckdb:///"), copy)
    backend = connect(f"duckdb:///{copy}")
    try:
        con = backend.con
        row = con.execute(
            "SELECT i.incident_id, i.customer_id FROM incidents i JOIN customers c USING (customer_id) "
            "WHERE coalesce(c.language, 'en') = 'en' ORDER BY i.opened_at DESC LIMIT 1"
        ).fetchone()
        assert row is not None
        incident, customer = row
        logged_before = con.execute("SELECT count(*) FROM decision_log").fetchone()
        gesture = decided_gesture(backend, customer, incident, Grant("refund", Decimal("40.00"), "USD"), "en")
        assert gesture is not None and gesture.kind == "other" and gesture.note  # the advisor's extra gesture
        assert con.execute("SELECT count(*) FROM decision_log").fetchone() == logged_before
    finally:
        backend.disconnect()
    # a read-only store (as `keepwise messages compose` opens it) still gets its gesture
    ro = connect(f"duckdb:///{copy}", read_only=True)
    try:
        assert (
            decided_gesture(ro, customer, incident, Grant("refund", Decimal("40.00"), "USD"), "en")
            is not None
        )
    finally:
        ro.disconnect()
