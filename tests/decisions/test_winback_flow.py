"""Win-back letters carry the ranking's offer (keepwise.messages.flows.decided_offer calls offer_for)."""

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
from keepwise.value.profitability import profitability

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
    """With a saved study the offer is best_offer's choice, costed as its price concession."""
    import numpy as np
    from test_winback import example_study_result  # tests/decisions is on sys.path

    from keepwise.conjoint.simulator import best_offer
    from keepwise.conjoint.store import save_result

    # respondents dislike high prices strongly, so a cheap offer wins
    result = example_study_result(np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.15, 0.5]))
    save_result(backend, result, "winback-2025")
    ranking = rank_winback(backend, config=Config())
    assert ranking.offer_source.startswith("conjoint study 'winback-2025'")
    offers = {r.offer.text for r in ranking.top()}
    assert len(offers) == 1
    offer = ranking.top(1)[0].offer
    assert offer.take_up is not None and 0 < offer.take_up < 1
    # the same choice as best_offer on the full grid (none left out), costs = price x the store's cogs share
    prof = profitability(backend, "2025-12", view="lifetime", config=Config())
    share = float(sum(prof["cogs"], Decimal(0))) / float(sum(prof["revenue"], Decimal(0)))
    grid = [
        {"plan": p, "free_months": f, "support": s, "contract": c, "price": float(x)}
        for p in ("Basic", "Standard", "Premium")
        for f in ("0", "1", "3")
        for s in ("Email", "Phone", "Dedicated manager")
        for c in ("Monthly", "Annual")
        for x in (19, 29, 39, 49)
    ]
    choice = best_offer(result, grid, [g["price"] * share for g in grid])
    assert offer.levels == choice.offer
    assert offer.take_up == pytest.approx(choice.take_up)
    assert offer.cost == Decimal("49.00") - Decimal(str(choice.offer["price"])).quantize(Decimal("0.01"))
    assert f"price ${choice.offer['price']:.2f}" in offer.text
    grant = offer_for(backend, ranking.top(1)[0].customer.customer_id)
    assert grant is not None and grant["note"] == offer.text
