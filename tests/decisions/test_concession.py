from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.config import DecisionAssumptions
from keepwise.decisions.concession import ORDER, ConcessionFigures, decide, pct
from keepwise.exceptions import KeepwiseInputError
from keepwise.money import cents, shown

CFG = DecisionAssumptions()


def figures(
    future_margin: str = "400.00", p_without: float = 0.3, p_with: float = 0.12, **kw
) -> ConcessionFigures:
    base = dict(
        customer_id="C1",
        currency="USD",
        future_margin=Decimal(future_margin),
        replacement_cost=Decimal("50.00"),
        word_of_mouth_loss=Decimal("30.00"),
        p_without=p_without,
        p_with=p_with,
        reduction_low=0.1,
        reduction_high=0.25,
        category="late",
        effect_text="test effect",
    )
    base.update(kw)
    return ConcessionFigures(**base)


def test_hand_computed_approve_and_break_even():
    # loss = 400 + 50 + 30 = 480; reduction 0.18; benefit 86.40
    adv = decide(figures(), Decimal("80"), CFG)
    assert adv.decision == "approve"
    assert adv.expected_benefit == Decimal("86.40")
    assert adv.max_that_pays == Decimal("86.40")
    assert adv.break_even_reduction == round(80 / 480, 4)


def test_counter_is_the_largest_whole_amount_that_pays_with_a_gesture():
    adv = decide(figures(), Decimal("200"), CFG)
    assert adv.decision == "counter"
    assert adv.recommended == Decimal("86")
    assert "apology" in adv.extra_gesture
    assert adv.extra_gesture in adv.reasons[-1]


def test_refuse_when_the_customer_costs_more_than_they_bring():
    adv = decide(figures(future_margin="-300.00"), Decimal("20"), CFG)
    assert adv.decision == "refuse"
    # an unprofitable customer is not worth replacing
    assert adv.to_json()["figures"]["replacement_cost"] == "0.00"


def test_negative_cost_is_an_input_error():
    with pytest.raises(KeepwiseInputError, match="cannot be negative"):
        decide(figures(), Decimal("-1"), CFG)


money_st = st.decimals(min_value=-2000, max_value=20000, places=2, allow_nan=False, allow_infinity=False)
cost_st = st.decimals(min_value=0, max_value=5000, places=2, allow_nan=False, allow_infinity=False)
prob_st = st.floats(min_value=0.0, max_value=1.0)


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    value=money_st,
    extra=st.decimals(min_value=0, max_value=10000, places=2),
    cost=cost_st,
    p=prob_st,
    q=prob_st,
)
def test_raising_value_never_turns_approve_into_refuse(value, extra, cost, p, q):
    lo = decide(figures(str(value), max(p, q), min(p, q)), cost, CFG)
    hi = decide(figures(str(value + extra), max(p, q), min(p, q)), cost, CFG)
    assert ORDER[hi.decision] >= ORDER[lo.decision]


@settings(max_examples=300, deadline=None, derandomize=True)
@given(value=money_st, cost=cost_st, extra=cost_st, p=prob_st, q=prob_st)
def test_raising_cost_never_turns_refuse_into_approve(value, cost, extra, p, q):
    f = figures(str(value), max(p, q), min(p, q))
    cheap, dear = decide(f, cost, CFG), decide(f, cost + extra, CFG)
    assert ORDER[dear.decision] <= ORDER[cheap.decision]


def _check_reasons_quote_the_json(doc: dict) -> None:
    """The reasons show money as people read it (``$1,234.50``), the JSON as ``1234.50``: the same figures."""
    text = " ".join(doc["reasons"])
    f = doc["figures"]

    def said(amount: str) -> str:
        return shown(amount, doc["currency"])

    for key in ("loss_if_they_leave", "replacement_cost", "word_of_mouth_loss", "expected_benefit"):
        assert said(f[key]) in text, key
    assert said(f["future_margin"]) in text
    for key in ("gross_margin", "cost_to_serve", "cost_to_serve_per_week"):
        if f.get(key) is not None:
            assert said(f[key]) in text, key
    if f.get("weeks_as_customer") is not None:
        assert f"about {f['weeks_as_customer']:.0f} more weeks" in text
        # the parts add up to the future margin
        assert Decimal(f["gross_margin"]) - Decimal(f["cost_to_serve"]) == Decimal(f["future_margin"])
    assert said(doc["asked"]) in text and said(doc["max_that_pays"]) in text
    assert pct(f["p_leave_without"]) in text and pct(f["p_leave_with"]) in text
    if doc["break_even_reduction"] is not None:
        assert pct(doc["break_even_reduction"]) in text
    if doc["decision"] == "counter":
        assert said(doc["recommended"]) in text
    # every money figure in the reasons is one of the JSON's
    quoted = {m.replace(",", "").replace("$", "") for m in re.findall(r"-?\$[\d,]+\.\d\d", text)}
    allowed = {v for v in f.values() if isinstance(v, str)} | {
        doc["asked"],
        doc["recommended"],
        doc["max_that_pays"],
    }
    assert quoted <= allowed, quoted - allowed


@pytest.mark.parametrize("cost", ["5", "80", "200", "5000"])
def test_reasons_quote_the_same_figures_as_the_json_pure(cost):
    _check_reasons_quote_the_json(decide(figures(), Decimal(cost), CFG).to_json())


def test_middle_customer_with_a_fixable_problem_gets_a_yes(advisor):
    """Not the top-20% rule: customers in the middle quintile by profit, whom that rule refuses, get a yes
    when their problem is one a concession fixes and they have real future value."""
    from keepwise.value.profitability import profitability

    prof = profitability(advisor.backend, view="lifetime")
    middle = set(prof.loc[prof["quintile"] == 3, "customer_id"])
    inc = advisor.history[advisor.history["customer_id"].isin(middle)]
    assert len(inc) > 10
    approved = [
        adv
        for cid, iid in zip(inc["customer_id"], inc["incident_id"], strict=True)
        if (adv := advisor.advise(cid, "20.00", iid, log=False)).decision == "approve"
    ]
    assert len(approved) >= 3, "middle customers with a fixable problem should get a yes"
    for adv in approved:
        assert adv.figures.future_margin > 0 and adv.figures.reduction > 0
        assert adv.figures.customer_id not in set(prof.loc[prof["quintile"] == 1, "customer_id"])
        _check_reasons_quote_the_json(adv.to_json())


def test_advisor_on_the_store_gives_reasons_matching_json(advisor):
    for cid, cost in (("C0002", "40"), ("C0010", "200"), ("C0100", "15")):
        doc = advisor.advise(cid, cost, log=False).to_json()
        assert doc["reasons"] and doc["assumptions"]
        assert doc["effect"]["source"] == "history"
        _check_reasons_quote_the_json(doc)


def test_unknown_customer_and_incident(advisor):
    with pytest.raises(KeepwiseInputError, match="unknown customer id 'NOPE'"):
        advisor.advise("NOPE", "10", log=False)
    with pytest.raises(KeepwiseInputError, match="unknown incident id 'I-none'"):
        advisor.advise("C0002", "10", "I-none", log=False)


def test_cli_json_and_errors(sim_db):
    runner = CliRunner()
    res = runner.invoke(app, ["concession", "C0002", "--cost", "40", "--json", "--no-log", "--db", sim_db])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["decision"] in ("approve", "counter", "refuse")
    assert re.fullmatch(r"-?\d+\.\d\d", doc["asked"]) and doc["asked"] == "40.00"
    _check_reasons_quote_the_json(doc)
    for args, message in (
        (["concession", "NOPE", "--cost", "40"], "unknown customer id"),
        (["concession", "C0002", "--cost", "-5"], "at least 0"),
        (["concession", "C0002", "--cost", "abc"], "amount such as"),
    ):
        res = runner.invoke(app, [*args, "--db", sim_db])
        assert isinstance(res.exception, KeepwiseInputError) and message in str(res.exception)


def test_money_is_keepwise_money_half_up():
    """The advisor uses keepwise.money: half up (the advisor used to round half-even, -1.005 -> -1.00)."""
    assert cents(Decimal("3")) == "3.00" and cents(-1.005) == "-1.01" and cents("2.675") == "2.68"
    adv = decide(figures(future_margin="400.005"), Decimal("80.005"), CFG)
    doc = adv.to_json()
    assert doc["asked"] == "80.01" and doc["figures"]["future_margin"] == "400.01"
    assert "$80.01" in " ".join(doc["reasons"])
