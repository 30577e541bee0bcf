"""A conjoint study's offers: costed line by line, moving the chance, worded for customers (issue 17).

The chance under an offer is ``c OR / (1 - c + c OR)``, ``c`` the chance by exit reason and ``OR`` the odds
ratio of ``A(offer)`` to ``A(lost offer)``, with ``A`` the
logit share of the offer against "none of these" (Train 2009, *Discrete Choice Methods with Simulation*,
ch. 3); here ``A`` is recomputed by hand from the fitted coefficients (a second implementation of
:func:`keepwise.conjoint.simulator.acceptance`) and the chosen offer checked against a brute-force search.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from test_winback import example_study_result, lost_customer  # tests/decisions is on sys.path

from keepwise.config import Config, DecisionAssumptions, MessagesAssumptions
from keepwise.conjoint.study import load_study
from keepwise.decisions.winback import OfferMenu, contacts, decide, posterior, rank_winback, run
from keepwise.decisions.winback.menu import scaled
from keepwise.decisions.winback.offers import Offer
from keepwise.store import connect

CFG = DecisionAssumptions()
STUDY = Path(__file__).parents[2] / "examples" / "conjoint" / "winback_study.yaml"
#: plan[Basic], plan[Standard], free_months[0], free_months[1], support[Email], support[Phone],
#: contract[Monthly], price, none: free months and a manager are liked, price disliked
MEAN = np.array([-0.8, 0.3, -0.6, 0.1, -0.5, 0.2, 0.4, -0.08, 0.5])
AT = datetime(2026, 1, 1, tzinfo=UTC)


# --- the cost model ---------------------------------------------------------------------------------------
def test_the_issues_offer_is_costed_line_by_line_not_by_the_price_cut_alone():
    """Issue 17 item 1: "plan Premium, free_months 3, support Dedicated manager, ..., price $29" was $20."""
    terms = load_study(STUDY).terms
    assert terms is not None
    offer = {"plan": "Premium", "free_months": "3", "support": "Dedicated manager", "contract": "Monthly"}
    lines = terms.cost_lines({**offer, "price": 29.0}, lost_price=49.0, currency="USD")
    # the study file: Premium $8 a month, 3 months free $87 once, a manager $49 a month, price per month
    assert [(line.what, line.one_off, line.per_month) for line in lines] == [
        ("the Premium plan", Decimal(0), Decimal(8)),
        ("3 months free", Decimal(87), Decimal(0)),
        ("your own account manager", Decimal(0), Decimal(49)),
        ("price cut from $49.00 to $29.00", Decimal(0), Decimal(20)),
    ]
    # over the 12 months a win-back is valued: 96 + 87 + 588 + 240 = 1,011 (was 49 - 29 = 20)
    assert sum(line.total(12) for line in lines) == Decimal("1011.00")
    assert lines[2].text("USD", 12) == "your own account manager: $49.00 a month x 12 = $588.00"


def test_the_offer_moves_the_odds_never_reaching_one_and_no_offer_when_none_pays():
    cheap = Offer("cheap", Decimal("10.00"), "s", {}, ratio=1.0)
    rich = Offer("rich", Decimal("100.00"), "s", {}, ratio=3.0)
    menu = OfferMenu(
        (cheap, rich), np.array([1.0, 3.0]), {}, "what they had", 0.2, 12, "s", (), np.array([10, 100])
    )
    # odds 1:1 x 3 = 3:1 -> 75% (scaling the chance itself gave 150%, capped at 100%)
    # EV rich = 0.75 x (1000 - 100) - 5 = 670 > cheap 0.5 x 990 - 5 = 490
    i, p = menu.best(0.5, Decimal(1000), Decimal(5))
    assert (i, round(p, 12)) == (1, 0.75)
    assert scaled(0.99, 1000.0) < 1 and scaled(0.3, 1.0) == pytest.approx(0.3)
    # a customer worth little: rich pays 0.25 x (60 - 100) < cheap 0.1 x 50; decide() then says no offer
    assert menu.best(0.1, Decimal(60), Decimal(5))[0] == 0
    c = lost_customer("C1", "price", Decimal("10.00"), "iron", 10)
    row = decide(c, posterior("price", 0, 0, CFG), menu, CFG)
    assert row.status == "not_worth_contact" and row.reasons[-1].endswith("no offer")


@pytest.fixture(scope="module")
def priced_store(sim_db: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The simulated store with the example study fitted and saved with its file's words and costs."""
    from keepwise.conjoint.store import save_result, study_prohibitions

    copy = tmp_path_factory.mktemp("priced") / "store.duckdb"
    shutil.copy(sim_db.removeprefix("duckdb:///"), copy)
    study = load_study(STUDY)
    url = f"duckdb:///{copy}"
    backend = connect(url)
    try:
        result = example_study_result(MEAN)
        save_result(
            backend, result, "winback-2025", prohibitions=study_prohibitions(study), terms=study.terms
        )
    finally:
        backend.disconnect()
    return url


def _acceptance_by_hand(result, offer: dict) -> float:
    """Second implementation: 1 / (1 + exp(V_none - V_offer)) from the coefficients (effects coding)."""
    coef = dict(zip(result.coding.names, map(float, result.model.coef_), strict=True))
    v = coef["none"] * 0.0  # the offer's row has none = 0
    for a in result.coding.attributes:
        if a.name == "none":
            continue
        if a.numeric:
            v += coef[a.name] * float(offer[a.name])
        elif str(offer[a.name]) == a.levels[-1]:
            v -= sum(coef[f"{a.name}[{lv}]"] for lv in a.levels[:-1])
        else:
            v += coef[f"{a.name}[{offer[a.name]}]"]
    return 1.0 / (1.0 + np.exp(coef["none"] - v))


def test_each_customer_gets_the_offer_of_highest_expected_value(priced_store: str):
    from keepwise.conjoint.simulator import candidate_offers
    from keepwise.conjoint.store import load_result

    backend = connect(priced_store, read_only=True)
    try:
        ranking = rank_winback(backend, config=Config())
        result = load_result(backend)
    finally:
        backend.disconnect()
    assert result is not None and result.terms is not None
    study = load_study(STUDY)
    lost = {"plan": "Standard", "free_months": "0", "support": "Email", "contract": "Monthly", "price": 49.0}
    a_lost = _acceptance_by_hand(result, lost)
    grid = candidate_offers(study)
    accept = np.array([_acceptance_by_hand(result, o) for o in grid])
    costs = [sum(line.total(12) for line in study.terms.cost_lines(o, 49.0, "USD")) for o in grid]
    assert ranking.top(), "some customers are worth a contact"
    chosen = set()
    for row in ranking.top()[:20] + ranking.by_status("not_worth_contact")[:20]:
        base = row.chance.mean if row.offer_chance is not None else None
        assert base is not None and row.value_if_back is not None and row.offer is not None
        # the base chance is the one by exit reason (lowered by own failures), before the offer
        odds = (accept / (1 - accept)) / (a_lost / (1 - a_lost))
        c = round(base, 4)
        chance = c * odds / (1 - c + c * odds)
        ev = chance * (float(row.value_if_back) - np.array([float(c) for c in costs])) - 5.0
        best = int(np.argmax(ev))
        assert row.offer.levels == {k: (float(v) if k == "price" else v) for k, v in grid[best].items()}
        assert row.offer_chance == pytest.approx(chance[best], abs=1e-4)
        assert row.offer.cost == costs[best]
        want = (Decimal(str(round(chance[best], 4))) * (row.value_if_back - costs[best]) - 5).quantize(
            Decimal("0.01")
        )
        assert row.expected_value == want
        chosen.add(row.offer.text)
    # customers worth more are offered more: the ranking does not give one offer to everyone
    assert len(chosen) > 1
    top = ranking.top(1)[0]
    assert any(r.startswith("cost $") and "a month x 12" in r for r in top.reasons)
    assert any("the study predicts" in r and "for the offer they left" in r for r in top.reasons)


def test_the_offer_aware_ranking_beats_the_price_cut_alone_on_the_studys_own_terms(priced_store: str):
    """Every contacted customer's chosen offer earns at least what the offer they left would."""
    backend = connect(priced_store, read_only=True)
    try:
        ranking = rank_winback(backend, config=Config())
    finally:
        backend.disconnect()
    total = sum((r.expected_value or Decimal(0) for r in ranking.top()), Decimal(0))
    assert total > 0
    # every customer's chosen offer is at least as good as the offer they left (in the candidates)
    for row in ranking.top()[:50]:
        assert row.offer is not None and row.offer.ratio is not None
        lost_ev = Decimal(str(round(row.chance.mean, 4))) * row.value_if_back - 5
        assert row.expected_value >= lost_ev.quantize(Decimal("0.01")) - Decimal("0.01")


# --- words ------------------------------------------------------------------------------------------------
def test_offers_are_worded_from_the_studys_labels_in_english_and_polish():
    terms = load_study(STUDY).terms
    assert terms is not None
    offer = {"plan": "Premium", "free_months": "3", "support": "Dedicated manager", "contract": "Monthly"}
    offer["price"] = 29.0
    assert terms.words(offer, "en", "USD") == (
        "the Premium plan, 3 months free, your own account manager, cancel any month, for $29.00 a month"
    )
    assert terms.words(offer, "pl", "USD") == (
        "plan Premium, 3 miesiące gratis, własny opiekun klienta, rezygnacja w każdym miesiącu, "
        "za 29,00 USD miesięcznie"
    )


def test_without_labels_the_words_are_readable_never_raw():
    from keepwise.conjoint.terms import OfferTerms

    plain = OfferTerms.plain(["plan", "free_months", "support", "price"], "price")
    offer = {"plan": "Premium", "free_months": 3.0, "support": "Dedicated manager", "price": 29.0}
    words = plain.words(offer, "en", "USD")
    assert words == "plan: Premium, free months: 3, support: Dedicated manager, at $29.00"
    assert "free_months" not in words and "3.0" not in words
    assert plain.words(offer, "pl", "USD").endswith("za 29,00 USD")


def test_the_letter_subject_words_the_offer(priced_store: str):
    from keepwise.messages.compose import Grant, compose

    terms = load_study(STUDY).terms
    assert terms is not None
    offer = {"plan": "Premium", "free_months": "3", "support": "Phone", "contract": "Monthly", "price": 29.0}
    for language in ("en", "pl"):
        message = compose(
            "winback",
            customer_id="C1",
            recipient="emma@example.com",
            customer_name="Emma Wilson",
            language=language,
            cause="lapse",
            facts={"reason": "price", "offer": Grant("other", note=terms.words(offer, language, "USD"))},
            business_name="Shop",
            unsubscribe_url="https://example.com/u",
        )
        assert "free_months" not in message.subject and "3.0" not in message.subject
        if language == "en":
            assert message.subject == (
                "Emma Wilson, an offer to welcome you back: the Premium plan, 3 months free, phone support, "
                "cancel any month, for $29.00 a month"
            )
        else:
            assert "3 miesiące gratis" in message.subject and "za 29,00 USD miesięcznie" in message.subject


# --- the flows follow the stored ranking -------------------------------------------------------------------
def _winback_only() -> Config:
    off = {"enabled": False}
    winback = {"holdout_share": 0.0, "min_days": 60, "max_days": 730, "rhythm_multiple": 1.0}
    flows = {"winback": winback, "at_risk": off, "incident_followup": off, "thanks": off}
    return Config(messages=replace(MessagesAssumptions(), flows=flows))


def test_the_winback_flow_contacts_only_the_ranked_with_their_offer_in_their_language(
    priced_store: str, tmp_path: Path
):
    from keepwise.messages.flows import due
    from keepwise.messages.flows import run as run_flows

    copy = tmp_path / "store.duckdb"
    shutil.copy(priced_store.removeprefix("duckdb:///"), copy)
    backend = connect(f"duckdb:///{copy}")
    try:
        result = run(backend, config=Config())  # keepwise winback: stores the ranking
        ranked = contacts(backend, as_of=AT).set_index("customer_id")
        not_worth = {r.customer.customer_id for r in result.ranking.by_status("not_worth_contact")}
        items = [d for d in due(backend, _winback_only(), AT) if d.kind == "winback"]
        languages = dict(backend.con.execute("SELECT customer_id, language FROM customers").fetchall())
        dry = run_flows(backend, as_of=AT, config=_winback_only(), dry_run=True)
    finally:
        backend.disconnect()
    assert len(ranked) == len(result.ranking.top())
    assert items and {d.customer_id for d in items} <= set(ranked.index)
    assert not {d.customer_id for d in items} & not_worth
    by_id = {r.customer.customer_id: r for r in result.ranking.top()}
    polish = 0
    for d in items:
        row = by_id[d.customer_id]
        assert row.offer is not None and row.offer.words is not None
        language = languages[d.customer_id] or "en"
        assert d.facts["offer"].note == row.offer.words[language]
        polish += language == "pl"
    assert polish, "some Polish customers get their offer in Polish"
    # the dry run lists the ranking's reason for each letter
    reasons = {w["customer_id"]: w["reason"] for w in dry.winback_reasons}
    assert set(reasons) == {d.customer_id for d in items}
    some = items[0].customer_id
    assert reasons[some].startswith("contact them with: ") and "expected value = " in reasons[some]


# --- the chance in plain words ------------------------------------------------------------------------------
def test_the_chance_reads_in_plain_words_and_the_json_keeps_the_exact_figures():
    rate = posterior("price", 10, 7, CFG)  # Beta(6 + 7, 14 + 3) = Beta(13, 17), mean 0.4333
    assert rate.source == (
        "about 43%: 7 of 10 past win-back attempts on customers who left over 'price' succeeded, weighed "
        "together with the commonly cited 30% of lost customers won back, counted as 20 comparable "
        "customers' worth of evidence"
    )
    assert "Beta(" not in posterior("price", 0, 0, CFG).source
    doc = rate.to_json()
    assert doc["prior"] == {"a": 6.0, "b": 14.0} and doc["posterior"] == {"a": 13.0, "b": 17.0}
    row = decide(lost_customer("C1", "price", Decimal("1200.00"), "gold", 10), rate, _config_offer(), CFG)
    assert not any("Beta(" in r for r in row.reasons)


def _config_offer() -> Offer:
    from keepwise.decisions.winback import map_offer

    return map_offer("price", CFG)
