"""Win-back letters carry the ranking's offer (with no stored ranking the flows call offer_for).

With a ranking stored by ``keepwise winback`` the flows follow it: tests/decisions/test_winback_offers.py.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from email import message_from_string, policy

import pytest

from keepwise.config import Config, MessagesAssumptions
from keepwise.decisions.winback import offer_for, rank_winback
from keepwise.messages.compose import Grant
from keepwise.messages.flows import due, run_flows
from keepwise.store import connect

AT = datetime(2026, 1, 1, tzinfo=UTC)  # the end of the simulated store of conftest.py


@pytest.fixture
def backend(sim_db: str, tmp_path):
    copy = tmp_path / "store.duckdb"
    shutil.copy(sim_db.removeprefix("duckdb:///"), copy)
    b = connect(f"duckdb:///{copy}")
    yield b
    b.disconnect()


def winback_only() -> Config:
    """Only the win-back flow, no holdout, for customers idle 200-215 days (a few dozen, to stay fast)."""
    off = {"enabled": False}
    winback = {"holdout_share": 0.0, "min_days": 200, "max_days": 215, "rhythm_multiple": 1.0}
    flows = {"winback": winback, "at_risk": off, "incident_followup": off, "thanks": off}
    return Config(messages=replace(MessagesAssumptions(), flows=flows))


def test_offer_for_answers_for_contacts_only(backend):
    ranking = rank_winback(backend, config=Config())
    contact = ranking.top(1)[0]
    grant = offer_for(backend, contact.customer.customer_id)
    assert grant == {
        "kind": "other",
        "note": contact.offer.text,
        "amount": None,
        "currency": None,
        "percent": None,
        "code": None,
        "valid_until": None,
    }
    for status in ("not_candidate", "not_wanted", "not_worth_contact"):
        row = ranking.by_status(status)[0]
        assert offer_for(backend, row.customer.customer_id) is None, status
    assert offer_for(backend, "NOBODY") is None


def test_the_winback_flow_writes_the_ranked_offer_into_the_letter(backend, monkeypatch):
    monkeypatch.setenv("KEEPWISE_SECRET", "test-secret-0123456789abcdef")
    ranking = rank_winback(backend, config=Config())
    contacts = {r.customer.customer_id: r for r in ranking.top()}
    items = [d for d in due(backend, winback_only(), AT) if d.kind == "winback"]
    offered = [d for d in items if d.customer_id in contacts]
    assert offered, "some ranked customers are due a win-back letter"
    for d in offered:
        assert d.facts["offer"] == Grant("other", note=contacts[d.customer_id].offer.text)
    others = [d for d in items if d.customer_id not in contacts]
    assert others and all(d.facts["offer"] is None for d in others)
    # the real run queues the letters; the ranked customer's letter words the offer
    run = run_flows(backend, winback_only(), at=AT, send=False)
    assert run.queued >= len(offered)
    target = offered[0]
    mime = backend.con.execute(
        "SELECT b.mime FROM outbox o JOIN message_bodies b USING (message_id) "
        "WHERE o.customer_id = ? AND o.kind = 'winback'",
        [target.customer_id],
    ).fetchone()[0]
    body = message_from_string(mime, policy=policy.default).get_body(("plain",)).get_content()
    offer_text = contacts[target.customer_id].offer.text
    assert f"we are offering you {offer_text}" in " ".join(body.split())


def test_a_stored_conjoint_study_chooses_the_offer(backend):
    """With a saved study (no words or costs kept) each customer's offer comes from it, at its price cut."""
    import numpy as np
    from test_winback import example_study_result  # tests/decisions is on sys.path

    from keepwise.conjoint.store import save_result

    # respondents dislike high prices strongly, so cheaper offers win
    result = example_study_result(np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.15, 0.5]))
    save_result(backend, result, "winback-2025")
    ranking = rank_winback(backend, config=Config())
    assert ranking.offer_source.startswith("conjoint study 'winback-2025'")
    assert any("costed by its price cut alone" in n for n in ranking.notes)
    offer = ranking.top(1)[0].offer
    assert offer.take_up is not None and 0 < offer.take_up < 1
    price = float(offer.levels["price"])
    # no costs kept: the price cut from the highest price (49), once
    assert offer.cost == (Decimal("49") - Decimal(str(price))).quantize(Decimal("0.01"))
    # worded readably without labels: "plan: Basic, free months: 1, ..., at $19.00", never "free_months 1.0"
    assert (
        offer.text.startswith("plan: ") and "free months: " in offer.text and "free_months" not in offer.text
    )
    assert offer.text.endswith(f"at ${price:.2f}")
    grant = offer_for(backend, ranking.top(1)[0].customer.customer_id)
    assert grant is not None and grant["note"] == offer.text
