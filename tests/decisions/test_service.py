"""Service tiers and ``keepwise outreach``: a hand-computed business and the simulator's truth."""

from __future__ import annotations

import json
import re
import shutil
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.config import Config, DecisionAssumptions
from keepwise.datasets import simulate
from keepwise.decisions.service import outreach, service_levels
from keepwise.decisions.service.rules import higher
from keepwise.exceptions import KeepwiseInputError
from keepwise.money import shown
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.value.profitability import profitability


def _frame(columns: str, rows: list[tuple[str | None, ...]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns.split(), dtype=object)


def _order(oid: str, cid: str, at: str, revenue: str, cost: str) -> tuple[str, ...]:
    return (oid, "1", cid, at, "P1", "1", revenue, cost, "USD")


def _log(cid: str, at: str, minutes: int) -> tuple[str, ...]:
    return (cid, "S1", at, str(minutes), "call")


# June 2024, as of 2024-07-01. Staff time costs exactly 1.00 a minute. The window of the reprice rule is two
# quarters: 2024-01..03 and 2024-04..06. Everyone joined on 2024-01-01, so twelve-month = all history.
#   G: margin 1000, 30 min on 03-01                -> profit 970, rank 1 platinum; last contact 122 days ago
#   F: margin 500, outbox e-mail sent 06-20        -> 500, rank 2 gold; contacted 11 days ago: nothing due
#   D: margin 200 (01-10), 2 calls of 10 min, then an order 06-15 (margin 100) -> 280, rank 3 gold;
#      silent 143 days at 06-01 with 2 contacts unanswered, ordered again: re-engage (welcome back)
#   W: margin 120 (01-05), a review warning in June -> 120 iron; silent 148 days: re-engage (check in)
#   X: margin 100 (01-20), exit on 03-01            -> 100 iron; left: no contact
#   I: margin 60 (01-08), incident opened 06-10    -> 60 iron; silent 145 days: re-engage (answer)
#   Z: margin 50 (04-01), no contact on record     -> 50 iron; contact due (cadence 120 days)
#   N: Q1 margin 20 - 80 min = -60, Q2 +50          -> -10 lead; one bad quarter: no reprice; contact
#      02-10 is 142 days ago, under lead's 365: nothing due
#   S: Q1 30 - 60 = -30, Q2 30 - 70 = -40           -> -70 lead; loss 70 < 100: no reprice
#   R: Q1 200 - 250 = -50, Q2 200 - 280 = -80       -> -130 lead; loss 130 on revenue 1000: +13.0% breaks
#      even (or 130 / 530 = 24.5% less staff time): reprice
#   P: Q1 20 - 200 = -180, Q2 20 - 150 = -130       -> -310 lead; +155.0% on revenue 200: part ways
# Consent (at 2024-07-01): G service e-mail; D marketing e-mail; Z service e-mail granted 2024-01-01 and
# withdrawn 2024-05-15; nobody else has any. I got in touch (an incident): answering needs no consent.
HAND: dict[str, pd.DataFrame] = {
    "customers": _frame(
        "customer_id acquired_at currency",
        [(c, "2024-01-01", "USD") for c in "GFDWXIZNSRP"],
    ),
    "staff_rates": _frame(
        "staff_id hourly_cost currency valid_from", [("S1", "60.00", "USD", "2023-01-01T00:00:00Z")]
    ),
    "orders": _frame(
        "order_id line_no customer_id ordered_at product_id quantity unit_price unit_cost currency",
        [
            _order("G1", "G", "2024-02-01T10:00:00Z", "2000.00", "1000.00"),
            _order("F1", "F", "2024-05-01T10:00:00Z", "900.00", "400.00"),
            _order("D1", "D", "2024-01-10T10:00:00Z", "300.00", "100.00"),
            _order("D2", "D", "2024-06-15T10:00:00Z", "200.00", "100.00"),
            _order("W1", "W", "2024-01-05T10:00:00Z", "220.00", "100.00"),
            _order("X1", "X", "2024-01-20T10:00:00Z", "300.00", "200.00"),
            _order("I1", "I", "2024-01-08T10:00:00Z", "160.00", "100.00"),
            _order("Z1", "Z", "2024-04-01T10:00:00Z", "150.00", "100.00"),
            _order("N1", "N", "2024-02-01T10:00:00Z", "100.00", "80.00"),
            _order("N2", "N", "2024-05-01T10:00:00Z", "100.00", "50.00"),
            _order("S1", "S", "2024-02-01T10:00:00Z", "100.00", "70.00"),
            _order("S2", "S", "2024-05-01T10:00:00Z", "100.00", "70.00"),
            _order("R1", "R", "2024-02-01T10:00:00Z", "500.00", "300.00"),
            _order("R2", "R", "2024-05-01T10:00:00Z", "500.00", "300.00"),
            _order("P1", "P", "2024-02-01T10:00:00Z", "100.00", "80.00"),
            _order("P2", "P", "2024-05-01T10:00:00Z", "100.00", "80.00"),
        ],
    ),
    "time_logs": _frame(
        "customer_id staff_id started_at minutes activity",
        [
            _log("G", "2024-03-01T09:00:00Z", 30),
            _log("D", "2024-02-15T09:00:00Z", 10),
            _log("D", "2024-04-15T09:00:00Z", 10),
            _log("N", "2024-02-10T09:00:00Z", 80),
            _log("S", "2024-02-10T09:00:00Z", 60),
            _log("S", "2024-05-10T09:00:00Z", 70),
            _log("R", "2024-03-10T09:00:00Z", 250),
            _log("R", "2024-06-10T09:00:00Z", 280),
            _log("P", "2024-03-10T09:00:00Z", 200),
            _log("P", "2024-06-10T09:00:00Z", 150),
        ],
    ),
    "incidents": _frame("incident_id customer_id opened_at category", [("I-1", "I", "2024-06-10", "late")]),
    "exits": _frame("customer_id lost_at reason_code", [("X", "2024-03-01", "price")]),
    "consent": _frame(
        "customer_id channel purpose granted_at revoked_at",
        [
            ("G", "email", "service", "2024-01-01", None),
            ("D", "email", "marketing", "2024-01-01", None),
            ("Z", "email", "service", "2024-01-01", "2024-05-15"),
        ],
    ),
}


@pytest.fixture
def hand_store(store):
    for name in ("customers", "staff_rates", "orders", "time_logs", "incidents", "exits", "consent"):
        load_frame(store, name, HAND[name], source=name)
    store.raw_sql(
        "INSERT INTO outbox (message_id, idempotency_key, customer_id, template, status, sent_at) "
        "VALUES ('m-1', 'F:thanks:2024-06', 'F', 'thanks', 'sent', TIMESTAMPTZ '2024-06-20 08:00:00+00'), "
        "('m-2', 'Z:thanks:2024-06', 'Z', 'thanks', 'failed', TIMESTAMPTZ '2024-06-21 08:00:00+00')"
    )
    store.raw_sql(
        "CREATE TABLE review_warnings AS SELECT '2024-06' AS review_month, 'W' AS customer_id, "
        "'p_alive' AS kind UNION ALL SELECT '2024-05', 'Z', 'p_alive'"
    )
    return store


MONEY = re.compile(r"^-?\d+\.\d{2}$")


def _money_figures(figs: dict[str, object]) -> list[str]:
    found = [v for v in figs.values() if isinstance(v, str) and MONEY.match(v)]
    for p in figs.get("periods", []) or []:  # type: ignore[attr-defined]
        found.append(p["profit"])
    return found


def _assert_reasons_quote_figures(action: dict[str, object]) -> None:
    text = " ".join(action["reasons"])  # type: ignore[arg-type]
    figs = action["figures"]
    assert isinstance(figs, dict)
    for amount in _money_figures(figs):
        assert shown(amount, "USD") in text, (amount, text)
    for key in ("silent_days", "days_since_contact", "contact_every_days", "months_unprofitable"):
        if figs.get(key) is not None:
            assert str(figs[key]) in text, (key, text)
    for key in ("break_even_price_increase",):
        if figs.get(key) is not None:
            assert higher(figs[key]) in text  # "12% higher", "much higher than now (17x)"


def test_hand_computed_actions(hand_store):
    plan = outreach(hand_store, "2024-06", config=Config())
    doc = plan.to_json()
    got = [(a["customer_id"], a["action"], a["recommendation"], a["tier"]) for a in doc["actions"]]
    assert got == [
        ("P", "reprice_or_part_ways", "part_ways", "lead"),  # no consent: keeps the recommendation
        ("R", "reprice_or_part_ways", "reprice", "lead"),
        ("W", "re_engage", "on_next_inbound", "iron"),  # a check-in, but no marketing consent
        ("I", "re_engage", "answer_and_win_back", "iron"),
        ("D", "re_engage", "welcome_back", "gold"),
        ("G", "contact", "contact", "platinum"),
        ("Z", "contact", "on_next_inbound", "iron"),  # withdrew consent on 2024-05-15
    ]
    assert [a["channel"] for a in doc["actions"]] == [None, None, None, "inbound", "email", "email", None]
    assert [a["due_on"] for a in doc["actions"]] == [
        "2024-07-31",  # reprice or part ways: 30 days after the month
        "2024-07-31",
        "2024-07-02",  # W: the review warning (end of the month) + 24 hours
        "2024-06-11",  # I: incident opened 06-10 + 24 hours
        "2024-06-15",  # D: ordered 06-15 10:00 + 8 hours
        "2024-06-01",  # G: contacted 03-01 + 30 days = 03-31, before the month: due on its first day
        "2024-06-01",  # Z: no contact on record: the first day of the month
    ]
    by = {a["customer_id"]: a for a in doc["actions"]}
    assert by["R"]["figures"] == {
        "months": 6,
        "months_unprofitable": 2,
        "periods": [
            {"months": "2024-04 to 2024-06", "profit": "-80.00"},
            {"months": "2024-01 to 2024-03", "profit": "-50.00"},
        ],
        "loss": "130.00",
        "revenue": "1000.00",
        "gross_margin": "400.00",
        "cost_to_serve": "530.00",
        "break_even_price_increase": 0.13,
        "break_even_staff_time_cut": 0.2453,
        "twelve_month_profit": "-130.00",
        "consent": {"purpose": "service", "channel": None, "in_force": False},
    }
    assert by["P"]["figures"]["loss"] == "310.00"
    assert by["P"]["figures"]["break_even_price_increase"] == 1.55
    assert by["D"]["figures"] == {
        "last_order_before": "2024-01-10",
        "silent_days": 143,
        "contacts_unanswered": 2,
        "ordered_on": "2024-06-15",
        "orders_this_month": 1,
        "revenue_this_month": "200.00",
        "incidents_this_month": 0,
        "warnings": [],
        "changes": ["ordered"],
        "consent": {"purpose": "marketing", "channel": "email", "in_force": True},
    }
    assert by["W"]["figures"]["silent_days"] == 148 and by["W"]["figures"]["warnings"] == ["p_alive"]
    assert by["I"]["figures"]["incidents_this_month"] == 1
    assert by["D"]["reasons"][0] == (
        "No order for 143 days before 2024-06-01 (last on 2024-01-10); 2 contacts since then went unanswered."
    )
    assert by["W"]["reasons"][0].endswith("(last on 2024-01-05); nobody has contacted them since.")
    assert by["G"]["figures"] == {
        "last_contact": "2024-03-01",
        "days_since_contact": 122,
        "contact_every_days": 30,
        "overdue_days": 92,
        "twelve_month_profit": "970.00",
        "rank": 1,
        "consent": {"purpose": "service", "channel": "email", "in_force": True},
        "overdue_since": "2024-03-31",
    }
    assert by["G"]["reasons"][1] == "Overdue since 2024-03-31: due now, on 2024-06-01."
    assert by["Z"]["figures"]["last_contact"] is None  # the failed e-mail is not a contact
    assert by["G"]["handled_by"] == "named account manager" and by["G"]["response_hours"] == 4
    assert doc["counts"] == {"reprice_or_part_ways": 2, "re_engage": 3, "contact": 2, "no_consent": 4}
    no = "No consent to contact: handle on their next inbound contact"
    assert {a["customer_id"] for a in doc["actions"] if any(r.startswith(no) for r in a["reasons"])} == {
        "P",
        "R",
        "W",
        "Z",
    }
    assert by["Z"]["reasons"][-1] == (
        f"{no} (no service consent by phone or email in force on 2024-07-01), instead of a proactive call "
        "or e-mail; answer within 24 hours, by the support team."
    )
    assert by["G"]["reasons"][-1] == "Service consent by email in force on 2024-07-01: e-mail them."
    tiers = {lv["tier"]: lv["customers"] for lv in doc["service_levels"]}
    assert tiers == {"platinum": 1, "gold": 2, "iron": 4, "lead": 4}
    for a in doc["actions"]:
        _assert_reasons_quote_figures(a)
    assert "Prices 13% higher on their orders or 25% less staff time would break even" in " ".join(
        by["R"]["reasons"]
    )
    names = {a["name"] for a in doc["assumptions"]}
    assert {"decisions.service_contact_days", "decisions.reprice_min_loss", "value.platinum_share"} <= names
    json.dumps(doc)  # JSON-able as it is


def test_changing_the_rules_changes_the_actions(hand_store):
    import dataclasses

    cfg = Config()
    lenient = dataclasses.replace(cfg.decisions, reprice_min_loss=Decimal("50"), reprice_max_increase=2.0)
    doc = outreach(hand_store, "2024-06", config=dataclasses.replace(cfg, decisions=lenient)).to_json()
    repriced = {
        a["customer_id"]: a["recommendation"] for a in doc["actions"] if a["action"].startswith("rep")
    }
    assert repriced == {"P": "reprice", "R": "reprice", "S": "reprice"}
    one = dataclasses.replace(cfg.decisions, unprofitable_periods=1)
    doc = outreach(hand_store, "2024-06", config=dataclasses.replace(cfg, decisions=one)).to_json()
    repriced = {a["customer_id"] for a in doc["actions"] if a["action"].startswith("rep")}
    assert repriced == {"P"}  # last quarter alone: N made money, S lost 40 and R 80, under 100


def test_lead_tier_never_gets_zero_effort():
    levels = service_levels(DecisionAssumptions())
    assert all(lv.contact_every_days > 0 and lv.response_hours > 0 for lv in levels.values())
    assert levels["lead"].contact_every_days > levels["platinum"].contact_every_days
    bad = DecisionAssumptions(service_contact_days={"platinum": 30, "gold": 60, "iron": 120, "lead": 0})
    with pytest.raises(KeepwiseInputError, match=r"service_contact_days\.lead must be a whole number of at"):
        service_levels(bad)
    with pytest.raises(KeepwiseInputError, match="unknown tier"):
        service_levels(
            DecisionAssumptions(
                service_response_hours={"platinum": 1, "gold": 1, "iron": 1, "lead": 1, "x": 1}
            )
        )


# ------------------------------------------------------------------------------------------ the simulator

SEED, MONTH = 3, "2025-12"


@pytest.fixture(scope="module")
def sim(sim_db: str, tmp_path_factory: pytest.TempPathFactory):
    """The decisions test store (simulate(3000, 24, seed=3)), a copy of it, and the simulator's truth."""
    copy = tmp_path_factory.mktemp("outreach") / "store.duckdb"
    shutil.copy(sim_db.removeprefix("duckdb:///"), copy)
    truth = simulate(customers=3000, months=24, seed=SEED).truth
    url = f"duckdb:///{copy}"
    backend = connect(url, read_only=True)
    plan = outreach(backend, MONTH, config=Config())
    yield backend, plan, truth, url
    backend.disconnect()


def _truly_losing(truth: dict, months: int = 6, quarter: int = 3, min_loss: float = 100.0) -> set[str]:
    """Customers whose true operating profit (truth's monthly figures) is negative in each of the last two
    quarters, who bought in them, and who lost at least ``min_loss``: the rule, on the truth."""
    last = 2025 * 12 + 11
    out = set()
    for cid, c in truth["customers"].items():
        q, revenue = [0.0] * (months // quarter), 0.0
        for label, (rev, cogs, cts, conc) in c["monthly"].items():
            y, m = map(int, label.split("-"))
            age = last - (y * 12 + m - 1)
            if 0 <= age < months:
                q[age // quarter] += rev - cogs - cts - conc
                revenue += rev
        if all(x < 0 for x in q) and revenue > 0 and -sum(q) >= min_loss:
            out.add(cid)
    return out


def test_unprofitable_customers_of_the_truth_get_reprice_or_part_ways(sim):
    _, plan, truth, _ = sim
    flagged = {a.customer_id for a in plan.actions if a.action == "reprice_or_part_ways"}
    losing = _truly_losing(truth)
    heavy = {c for c in losing if truth["customers"][c]["heavy_cost"]}
    # Measured (seed 3): 65 flagged; precision 1.00 and recall 0.94 against the truly losing customers
    # (the misses have advocacy value: a referrer's profit counts it); heavy-cost recall 0.91.
    precision = len(flagged & losing) / len(flagged)
    recall = len(flagged & losing) / len(losing)
    heavy_recall = len(flagged & heavy) / len(heavy)
    assert len(flagged) >= 40
    assert precision >= 0.95
    assert recall >= 0.9
    assert heavy_recall >= 0.85
    # Heavy-cost customers (5% of all) are about half of those flagged: the rule finds the planted ones.
    heavy_share = sum(truth["customers"][c]["heavy_cost"] for c in flagged) / len(flagged)
    assert heavy_share >= 0.35


def test_tiers_are_profitabilitys_and_every_lead_customer_has_a_cadence(sim):
    backend, plan, _, _ = sim
    ttm = profitability(backend, MONTH, view="ttm", config=Config())
    assert plan.tiers[["customer_id", "tier"]].equals(ttm[["customer_id", "tier"]])
    cadence = {lv["tier"]: lv["contact_every_days"] for lv in plan.to_json()["service_levels"]}
    assert (ttm["tier"] == "lead").sum() > 100 and cadence["lead"] > 0
    for a in plan.actions:
        assert a.tier == ttm.set_index("customer_id").at[a.customer_id, "tier"]
        assert a.reasons


def test_simulated_reasons_quote_the_json(sim):
    _, plan, _, _ = sim
    doc = plan.to_json()
    assert doc["counts"]["re_engage"] > 0 and doc["counts"]["contact"] > 0
    for a in doc["actions"]:
        _assert_reasons_quote_figures(a)
        if a["action"] == "contact":
            assert a["figures"]["days_since_contact"] is None or (
                a["figures"]["days_since_contact"] >= a["figures"]["contact_every_days"]
            )
        if a["action"] == "re_engage":
            assert a["figures"]["silent_days"] >= 120


def test_cli_json_shape_and_input_errors(sim, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    _, plan, _, url = sim
    res = CliRunner().invoke(app, ["outreach", "--month", MONTH, "--json", "--no-save", "--db", url])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert set(doc) == {
        "month",
        "as_of",
        "currency",
        "service_levels",
        "counts",
        "actions",
        "assumptions",
        "notes",
        "saved",
    }
    assert doc["saved"] is None
    assert doc["counts"] == plan.counts()
    assert set(doc["actions"][0]) == {
        "customer_id",
        "action",
        "recommendation",
        "tier",
        "handled_by",
        "response_hours",
        "channel",
        "due_on",
        "figures",
        "reasons",
    }
    from keepwise.cli import main

    def run(*args: str) -> tuple[int, str]:
        monkeypatch.setattr("sys.argv", ["keepwise", *args])
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main()
        return int(exc.value.code or 0), capsys.readouterr().err

    code, err = run("outreach", "--month", "2025-13", "--no-save", "--db", url)
    assert (code, err) == (2, "error: month '2025-13' is not understood; write it as YYYY-MM, e.g. 2024-05\n")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keepwise.toml").write_text("[decisions]\nservice_contact_days = {lead = 0}\n")
    code, err = run("outreach", "--month", MONTH, "--no-save", "--db", url)
    assert code == 2 and err.count("\n") == 1
    assert err.startswith("error: decisions.service_contact_days.lead must be a whole number of at least 1")
    (tmp_path / "keepwise.toml").write_text("[decisions.service_contact_days]\nlead = 180\n")
    res = CliRunner().invoke(app, ["outreach", "--month", MONTH, "--json", "--no-save", "--db", url])
    cadence = {lv["tier"]: lv["contact_every_days"] for lv in json.loads(res.stdout)["service_levels"]}
    assert cadence == {"platinum": 30, "gold": 60, "iron": 120, "lead": 180}
