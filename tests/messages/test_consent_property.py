"""Property: over random consent histories, no marketing message goes out without consent at send time.

A history is a list of grants (each maybe revoked some days later) written as events; the oracle is the rule
itself, computed here a second way: the latest event at or before the moment decides, a revocation at the same
instant as a grant wins.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keepwise.messages.prepare import prepare, queue
from keepwise.messages.send import SmtpSettings, send_outbox
from keepwise.store import connect
from keepwise.store.connection import duckdb_connection
from keepwise.store.consent import revoke
from keepwise.store.consent_history import add_event

from .conftest import NOW, SECRET

PURPOSES = st.sampled_from(["marketing", "service"])
ROW = st.tuples(
    PURPOSES,
    st.integers(-60, 10),  # granted, days from the moment of sending (0 = exactly then)
    st.one_of(st.none(), st.integers(0, 70)),  # revoked this many days after it was granted
)
HISTORY = st.lists(ROW, max_size=4)
CUSTOMERS = st.lists(
    st.tuples(HISTORY, st.sampled_from(["winback", "reengagement", "thanks"])), min_size=1, max_size=5
)


def events_of(history) -> list[tuple[str, float, str]]:
    """``(purpose, day, event)`` of a history: each grant, and its revocation when it has one."""
    out = []
    for purpose, granted, revoked in history:
        out.append((purpose, granted, "grant"))
        if revoked is not None:
            out.append((purpose, granted + revoked, "revoke"))
    return out


def in_force(events, purpose: str, day: float) -> bool:
    """The oracle: the latest event of ``purpose`` by ``day`` is a grant (a revocation wins ties)."""
    before = [(d, e) for p, d, e in events if p == purpose and d <= day]
    if not before:
        return False
    last = max(d for d, _e in before)
    return all(e == "grant" for d, e in before if d == last)


def write(store, customer_id: str, history) -> None:
    """The history as events, as loads and unsubscribes write them."""
    for purpose, day, event in events_of(history):
        add_event(store, customer_id, "email", purpose, event, at=NOW + timedelta(days=day), source="test",
                  proof="p")  # fmt: skip


@settings(max_examples=30, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(customers=CUSTOMERS, unsubscribe_before_send=st.booleans())
def test_no_marketing_message_without_valid_consent_at_send_time(
    customers, unsubscribe_before_send, cfg_plain
):
    cfg, handler, port = cfg_plain
    handler.messages.clear()
    store = connect("duckdb://:memory:")
    con = duckdb_connection(store)
    try:
        for i, (history, _kind) in enumerate(customers):
            con.execute(
                "INSERT INTO customers (customer_id, name, email, language) VALUES (?, ?, ?, 'en')",
                [f"C{i}", f"C{i}", f"c{i}@example.com"],
            )
            write(store, f"C{i}", history)
        for i, (_history, kind) in enumerate(customers):
            facts = {
                "winback": {"reason": "price", "offer": None},
                "thanks": {"customer_since": NOW, "offer": None},
                "reengagement": {"last_order_at": NOW, "offer": None},
            }[kind]
            message, link = prepare(store, cfg, kind, f"C{i}", "t", facts, secret=SECRET, at=NOW)
            queue(store, cfg, message, link, at=NOW - timedelta(days=1))
        if unsubscribe_before_send:  # the first customer unsubscribes between queueing and sending
            revoke(store, "C0", "email", "marketing", NOW - timedelta(hours=1))
        result = send_outbox(
            store, replace(SmtpSettings.from_config(cfg, f"127.0.0.1:{port}")), clock=lambda: NOW
        )
    finally:
        store.disconnect()
    received = {str(m["To"]) for m in handler.messages}
    unsubscribed = [("marketing", -1 / 24, "revoke")] if unsubscribe_before_send else []
    allowed = {
        f"c{i}@example.com"
        for i, (history, _k) in enumerate(customers)
        if in_force(events_of(history) + (unsubscribed if i == 0 else []), "marketing", 0)
    }
    assert received == allowed
    assert result.sent == len(allowed) and result.suppressed == len(customers) - len(allowed)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(customers=st.lists(HISTORY, min_size=1, max_size=6), purpose=PURPOSES, day=st.integers(-70, 80))
def test_consented_in_one_query_agrees_with_has_consent_for_each_customer(customers, purpose, day):
    # the set-based check outreach uses equals the per-customer check sending uses, on every history and
    # at every moment, boundaries included (granted exactly then, revoked exactly then)
    from keepwise.messages.consent import consented, has_consent

    store = connect("duckdb://:memory:")
    con = duckdb_connection(store)
    try:
        for i, history in enumerate(customers):
            con.execute("INSERT INTO customers (customer_id, name) VALUES (?, ?)", [f"C{i}", f"C{i}"])
            write(store, f"C{i}", history)
        at = NOW + timedelta(days=day)
        ids = [f"C{i}" for i in range(len(customers))] + ["NOBODY"]
        one_by_one = {c for c in ids if has_consent(store, c, purpose, at, "email")}
        assert consented(store, ids, purpose, at, "email") == one_by_one
        assert consented(store, ids, purpose, at, "phone") == set()
        assert consented(store, [], purpose, at) == set()
        assert one_by_one == {
            f"C{i}" for i, h in enumerate(customers) if in_force(events_of(h), purpose, day)
        }
    finally:
        store.disconnect()
