"""What the business recorded decides too: exits.wanted_back, and a conjoint study's prohibited offers."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
from test_winback import lost_customer  # tests/decisions is on sys.path, as for test_service
from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.config import Config, DecisionAssumptions
from keepwise.decisions.winback import LostCustomer, decide, map_offer, posterior, rank_winback
from keepwise.exceptions import KeepwiseInputError
from keepwise.store import connect

CFG = DecisionAssumptions()
EXAMPLE = Path(__file__).parents[2] / "examples" / "conjoint" / "winback_study.yaml"


def _plain_copy() -> Path:
    """The example study without words, costs or lost offer: an offer costs its price cut alone."""
    import tempfile

    import yaml

    doc = yaml.safe_load(EXAMPLE.read_text())
    for attribute in doc["attributes"]:
        attribute["levels"] = [lv["level"] if isinstance(lv, dict) else lv for lv in attribute["levels"]]
    doc["price"] = {k: doc["price"][k] for k in ("name", "levels", "currency")}
    doc.pop("lost_offer")
    path = Path(tempfile.mkdtemp()) / "winback_study.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


STUDY = _plain_copy()


def lost(
    cid: str, profit: Decimal, tier: str, wanted_back: bool | None, reason: str = "price"
) -> LostCustomer:
    return lost_customer(cid, reason, profit, tier, 10, wanted_back=wanted_back)


# --- exits.wanted_back ----------------------------------------------------------------------------------
@pytest.mark.parametrize("tier", ["platinum", "gold", "iron", "lead"])
def test_wanted_back_false_is_never_ranked_whatever_the_value(tier: str):
    rate = posterior("price", 30, 12, CFG)
    row = decide(lost("C1", Decimal("90000.00"), tier, False), rate, map_offer("price", CFG), CFG)
    assert row.status == "not_wanted" and row.rank is None and row.offer is None
    assert row.expected_value is None and "goodbye" in row.recommendation
    assert (
        "the business recorded that it does not want them back (exits.wanted_back = false)" in row.reasons[0]
    )
    assert "$90,000.00" in row.reasons[0]  # the figures are still quoted
    assert row.to_json()["wanted_back"] is False
    # moved away still says "not a candidate" first, whatever the business recorded
    gone = decide(lost("C2", Decimal("90000.00"), tier, False, "moved"), rate, map_offer("moved", CFG), CFG)
    assert gone.status == "not_candidate"


def test_wanted_back_true_is_said_and_null_is_the_old_rule():
    rate = posterior("price", 30, 12, CFG)
    offer = map_offer("price", CFG)
    yes = decide(lost("C1", Decimal("1200.00"), "gold", True), rate, offer, CFG)
    unknown = decide(lost("C2", Decimal("1200.00"), "gold", None), rate, offer, CFG)
    assert yes.status == unknown.status == "contact"
    assert yes.expected_value == unknown.expected_value == Decimal("483.40")
    assert "the business recorded that it wants them back (exits.wanted_back = true)" in yes.reasons[0]
    assert unknown.reasons[0].endswith(": wanted back") and "exits.wanted_back" not in " ".join(
        unknown.reasons
    )
    assert yes.to_json()["wanted_back"] is True and unknown.to_json()["wanted_back"] is None
    # a lead-tier customer: unknown -> goodbye (as before); the business's "true" keeps them wanted, and the
    # expected value decides (a loss-maker is not worth a contact)
    assert decide(lost("C3", Decimal("-50.00"), "lead", None), rate, offer, CFG).status == "not_wanted"
    kept = decide(lost("C4", Decimal("-50.00"), "lead", True), rate, offer, CFG)
    assert kept.status == "not_worth_contact" and kept.expected_value == Decimal("-56.60")  # 0.36 x -60 - 35


def test_the_ranking_reads_wanted_back_from_the_exit_it_uses(sim_db: str, tmp_path: Path):
    copy = tmp_path / "store.duckdb"
    shutil.copy(sim_db.removeprefix("duckdb:///"), copy)
    backend = connect(f"duckdb:///{copy}")
    try:
        before = rank_winback(backend, config=Config())
        target = next(r for r in before.top() if r.customer.how == "exit" and r.customer.wanted_back is True)
        cid = target.customer.customer_id
        # the business changes its mind about this one customer: no longer wanted, then unknown
        backend.con.execute("UPDATE exits SET wanted_back = false WHERE customer_id = ?", [cid])
        after = rank_winback(backend, config=Config())
        backend.con.execute("UPDATE exits SET wanted_back = NULL WHERE customer_id = ?", [cid])
        unknown = rank_winback(backend, config=Config())
    finally:
        backend.disconnect()
    row = after.row(cid)
    assert (
        row is not None
        and row.status == "not_wanted"
        and cid not in {r.customer.customer_id for r in after.top()}
    )
    assert len(after.top()) == len(before.top()) - 1
    again = unknown.row(cid)
    assert again is not None and again.status == "contact" and again.customer.wanted_back is None
    assert again.expected_value == target.expected_value


# --- a conjoint study's prohibitions --------------------------------------------------------------------
@pytest.fixture(scope="module")
def study_store(sim_db: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The simulated store with a saved study whose best unconstrained offer is prohibited."""
    from test_winback import example_study_result

    from keepwise.conjoint.store import save_result

    copy = tmp_path_factory.mktemp("study") / "store.duckdb"
    shutil.copy(sim_db.removeprefix("duckdb:///"), copy)
    # plan[Basic], plan[Standard] (Premium = -0.8), ... support[Phone] (Dedicated manager = +1.2): the basic
    # plan and a dedicated manager are loved, so the unconstrained best pairs them, which the study prohibits
    result = example_study_result(np.array([1.0, -0.2, -0.6, 0.1, -1.0, -0.2, 0.4, -0.05, 0.5]))
    url = f"duckdb:///{copy}"
    backend = connect(url)
    try:
        save_result(backend, result, "winback-2025")
    finally:
        backend.disconnect()
    return url


def _prohibited(levels: dict) -> bool:
    from keepwise.conjoint.study import load_study

    study = load_study(STUDY)
    return bool(study.prohibited(np.array([study.level_index(levels)]))[0])


def test_a_prohibited_offer_is_never_proposed_with_the_study(study_store: str):
    from keepwise.conjoint.store import load_result

    backend = connect(study_store, read_only=True)
    try:
        free = rank_winback(backend, config=Config())
        bound = rank_winback(backend, config=Config(), study=STUDY)
        result = load_result(backend)
    finally:
        backend.disconnect()
    assert result is not None
    unbound_offer = free.top(1)[0].offer
    assert unbound_offer is not None and unbound_offer.levels is not None
    # the premise: without the study file the best of the whole grid is a prohibited combination
    assert unbound_offer.levels["plan"] == "Basic" and unbound_offer.levels["support"] == "Dedicated manager"
    assert _prohibited(unbound_offer.levels)
    assert any("give the study file" in n for n in free.notes)
    offer = bound.top(1)[0].offer
    assert offer is not None and offer.levels is not None
    assert not _prohibited(offer.levels)
    assert (
        "the study's 174 allowed offers" in offer.source
        and "42 prohibited combinations left out" in offer.source
    )
    # the best allowed one for the top customer (second path: every allowed offer by hand): the study file
    # has no costs, so an offer costs its price cut from 49 (once), and its chance is the customer's chance by
    # exit reason x its acceptance over the lost offer's (first levels at 49)
    from keepwise.conjoint.simulator import acceptance, candidate_offers
    from keepwise.conjoint.study import load_study

    row = bound.top(1)[0]
    assert row.value_if_back is not None and row.chance is not None
    grid = candidate_offers(load_study(STUDY))
    lost_offer = {
        "plan": "Basic",
        "free_months": "0",
        "support": "Email",
        "contract": "Monthly",
        "price": 49.0,
    }
    shares = acceptance(result, [*grid, lost_offer])
    chance = np.minimum(1.0, round(row.chance.mean, 4) * shares[:-1] / shares[-1])
    cuts = np.array([49.0 - float(g["price"]) for g in grid])
    best = int(np.argmax(chance * (float(row.value_if_back) - cuts) - 5.0))
    assert offer.levels == grid[best]
    assert offer.take_up == pytest.approx(float(shares[best]))
    assert offer.cost == Decimal(str(cuts[best])).quantize(Decimal("0.01"))


def test_cli_study_option_and_its_errors(study_store: str, tmp_path: Path):
    runner = CliRunner()
    result = runner.invoke(
        app, ["winback", "--db", study_store, "--study", str(STUDY), "--top", "3", "--json"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert all(not _prohibited(r["offer"]["levels"]) for r in doc["ranked"])
    assert "allowed offers" in doc["offer_source"]
    # a study file that does not match the stored study: one line naming the file and the attribute
    other = tmp_path / "other.yaml"
    other.write_text(
        "name: Other\nattributes:\n  - name: plan\n    levels: [Basic, Gold]\n  - name: free_months\n"
        "    levels: ['0', '1', '3']\n  - name: support\n    levels: [Email, Phone, Dedicated manager]\n"
        "  - name: contract\n    levels: [Monthly, Annual]\nprice:\n  name: price\n  levels: [19, 29]\n"
    )
    bad = runner.invoke(app, ["winback", "--db", study_store, "--study", str(other), "--json"])
    assert isinstance(bad.exception, KeepwiseInputError)
    assert str(bad.exception) == (
        f"{other}: attribute 'plan' has levels ['Basic', 'Gold'], the stored study "
        "['Basic', 'Premium', 'Standard']"
    )
    missing = runner.invoke(app, ["winback", "--db", study_store, "--study", str(tmp_path / "no.yaml")])
    assert isinstance(missing.exception, KeepwiseInputError)
    assert str(missing.exception) == f"{tmp_path / 'no.yaml'}: no such study file"


# --- prohibitions stored with the study -----------------------------------------------------------------
@pytest.fixture(scope="module")
def stored_rules_store(study_store: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """``study_store`` with the same fit saved again, this time with the study file's prohibitions."""
    from keepwise.conjoint.store import load_result, save_result, study_prohibitions
    from keepwise.conjoint.study import load_study

    copy = tmp_path_factory.mktemp("rules") / "store.duckdb"
    shutil.copy(study_store.removeprefix("duckdb:///"), copy)
    url = f"duckdb:///{copy}"
    backend = connect(url)
    try:
        result = load_result(backend)
        assert result is not None and result.prohibitions is None
        save_result(backend, result, "winback-2025", prohibitions=study_prohibitions(load_study(STUDY)))
    finally:
        backend.disconnect()
    return url


def test_stored_prohibitions_apply_without_the_study_file(stored_rules_store: str, study_store: str):
    backend = connect(stored_rules_store, read_only=True)
    try:
        stored = rank_winback(backend, config=Config())
    finally:
        backend.disconnect()
    backend = connect(study_store, read_only=True)
    try:
        # second path: the same fit without stored prohibitions, the study file given explicitly
        explicit = rank_winback(backend, config=Config(), study=STUDY)
    finally:
        backend.disconnect()
    rows = [r for r in stored.rows if r.offer is not None and r.offer.levels is not None]
    assert rows and all(not _prohibited(r.offer.levels) for r in rows if r.offer and r.offer.levels)
    offer, want = stored.top(1)[0].offer, explicit.top(1)[0].offer
    assert offer is not None and want is not None and offer.levels is not None
    # the unconstrained best (basic plan, dedicated manager) is prohibited: the stored rules pick the same
    # allowed offer as the study file does, at the same take-up and concession
    assert offer.levels == want.levels and not _prohibited(offer.levels)
    assert offer.take_up == want.take_up and offer.cost == want.cost
    rules = "plan Basic & support Dedicated manager; plan Premium & price 19"
    assert (
        "the study's 174 allowed offers" in offer.source
        and "42 prohibited combinations left out" in offer.source
        and f"the prohibitions stored with conjoint study 'winback-2025': {rules}" in offer.source
    )
    assert any(n.startswith("prohibited offers left out") and rules in n for n in stored.notes)
    assert not any("give the study file" in n for n in stored.notes)


def test_an_explicit_study_file_wins_over_the_stored_prohibitions(stored_rules_store: str, tmp_path: Path):
    # the same study without prohibitions: every combination is allowed again, so the prohibited best returns
    free = tmp_path / "free.yaml"
    free.write_text(STUDY.read_text().split("prohibitions:")[0])
    backend = connect(stored_rules_store, read_only=True)
    try:
        ranking = rank_winback(backend, config=Config(), study=free)
    finally:
        backend.disconnect()
    offer = ranking.top(1)[0].offer
    assert offer is not None and offer.levels is not None
    assert offer.levels["plan"] == "Basic" and offer.levels["support"] == "Dedicated manager"
    assert "the study's 216 allowed offers" in offer.source and f"from {free}: none" in offer.source


def test_cli_and_api_use_the_stored_prohibitions(stored_rules_store: str):
    result = CliRunner().invoke(app, ["winback", "--db", stored_rules_store, "--top", "50", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["ranked"] and all(not _prohibited(r["offer"]["levels"]) for r in doc["ranked"])
    assert "prohibitions stored with conjoint study 'winback-2025'" in doc["offer_source"]
    # /api/winback serves the document the command stored: the same ranking, the same offers
    from keepwise.web.stored import winback_document

    backend = connect(stored_rules_store, read_only=True)
    try:
        api = winback_document(backend, None, top=50)
    finally:
        backend.disconnect()
    assert [r["offer"]["levels"] for r in api["ranked"]] == [r["offer"]["levels"] for r in doc["ranked"]]
    assert api["offer_source"] == doc["offer_source"]
