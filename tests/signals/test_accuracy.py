"""Precision and recall of each warning against the simulator's planted truth, and false alarms on controls.

One simulated business (10,000 customers over 24 months, seed 11; the simulator plants 3% of customers in
each pattern) is reviewed for its last month, 2025-12. For each rule:

* recall = planted customers warned / planted customers who can still be warned about;
* precision = warned customers with the pattern / warned customers;
* false-alarm rate = warned customers among the untouched controls (``truth.patterns.control``) / controls.

``overdue`` is measured on the stopped regular buyers whom the business does not yet know to be lost: three in
four of them have an ``exits`` row (the simulator records 75% of exits) and so are in the lost-customer ledger
instead; the test checks that together the warning and the ledger account for every one of them. Its
precision counts a warned customer as right when the customer has in fact stopped buying (dropped out before
the end of the month, per truth): a base customer with a steady rhythm who dropped out is rightly overdue.

The lost-customer ledger's margin a year is held against the simulator's truth: each lost customer's true
margin a year while they bought is their purchase rate x 52.18 weeks x their mean spend x their true margin
share (1 - cogs / revenue).
"""

from __future__ import annotations

import pytest

from keepwise import features
from keepwise.datasets.simulate import simulate
from keepwise.signals import (
    ReviewPeriod,
    aov_decline,
    build_ledger,
    dropped_category,
    lost_status,
    overdue,
    p_alive,
    prepare,
)
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order

END = "2026-01-01"


@pytest.fixture(scope="module")
def world():
    biz = simulate(customers=10_000, months=24, seed=11)
    b = connect("duckdb://:memory:")
    for name in load_order(list(biz.tables)):
        load_frame(b, name, biz.tables[name])
    period = ReviewPeriod.of("2025-12")
    lines = features.order_lines(b, period.end)
    ords = features.orders(lines)
    status = lost_status(b, ords, period)
    lost = set(status.loc[status["lost"], "customer_id"])
    inputs = prepare(lines, ords, period, lost)
    inputs.p_alive = p_alive.score(inputs)
    ledger = build_ledger(b, ords, period, status=status)
    return biz.truth, inputs, lost, ledger


def _rates(fired: set[str], truth: set[str], control: set[str]) -> tuple[float, float, float]:
    tp = len(fired & truth)
    return tp / len(fired), tp / len(truth), len(fired & control) / len(control)


def test_aov_decline(world):
    truth, inputs, _, _ = world
    fired = set(aov_decline.detect(inputs)["customer_id"])
    precision, recall, false_alarm = _rates(
        fired, set(truth["patterns"]["aov_decline"]), set(truth["patterns"]["control"])
    )
    print(f"aov_decline: precision {precision:.3f}, recall {recall:.3f}, false alarms {false_alarm:.4f}")
    assert precision >= 0.8
    assert recall >= 0.8
    assert false_alarm < 0.01


def test_overdue(world):
    truth, inputs, lost, _ = world
    customers = truth["customers"]
    stopped = {
        c for c in truth["patterns"]["stopped_regular"] if (customers[c]["dropped_out_at"] or "9") < END
    }
    fired = set(overdue.detect(inputs)["customer_id"])
    really_stopped = {c for c, v in customers.items() if v["dropped_out"] and v["dropped_out_at"] < END}
    unknown = stopped - lost
    recall = len(fired & unknown) / len(unknown)
    precision = len(fired & really_stopped) / len(fired)
    strict_precision = len(fired & stopped) / len(fired)
    false_alarm = len(fired & set(truth["patterns"]["control"]) - really_stopped) / len(
        truth["patterns"]["control"]
    )
    print(
        f"overdue: precision {precision:.3f} (strict {strict_precision:.3f}), recall {recall:.3f} "
        f"on {len(unknown)} not yet known lost, false alarms {false_alarm:.4f}"
    )
    assert len(unknown) >= 30
    assert recall >= 0.8
    assert precision >= 0.8
    assert false_alarm < 0.01
    assert (fired | lost) >= stopped  # every stopped regular buyer is either warned about or in the ledger


def test_dropped_category(world):
    truth, inputs, _, _ = world
    planted = {d["customer_id"] for d in truth["patterns"]["dropped_category"] if d["at"] < END}
    got = dropped_category.detect(inputs)
    fired = set(got["customer_id"])
    precision, recall, false_alarm = _rates(fired, planted, set(truth["patterns"]["control"]))
    print(f"dropped_category: precision {precision:.3f}, recall {recall:.3f}, false alarms {false_alarm:.4f}")
    assert precision >= 0.8
    assert recall >= 0.8
    assert false_alarm < 0.01
    # and the right range
    dropped = {(d["customer_id"], d["category"]) for d in truth["patterns"]["dropped_category"]}
    named = {(c, cat) for c, cats in zip(got["customer_id"], got["categories"], strict=True) for cat in cats}
    assert len(named & dropped) / len(fired & planted) >= 0.95


def test_p_alive_drop_false_alarms(world):
    truth, inputs, _, _ = world
    assert inputs.p_alive is not None, "the BG/NBD model is available in this tree"
    fired = set(p_alive.detect(inputs)["customer_id"])
    customers = truth["customers"]
    alive = {c for c, v in customers.items() if not (v["dropped_out"] and v["dropped_out_at"] < END)}
    false_alarm = len(fired & alive) / len(alive)
    print(
        f"p_alive_drop: {len(fired)} fired, {len(fired - alive)} really dropped out, "
        f"false alarms {false_alarm:.4f}"
    )
    assert false_alarm < 0.01


def test_the_margin_a_year_lost_is_near_the_truth_and_never_inflated(world):
    # Measured (seed 11): truth $448,314 over the lost customers, keepwise $375,516 (0.84): its margin a year
    # (keepwise.value.worth: lifetime margin over at least one year) is a little under the truth, as a short
    # life brings less than a year at the customer's rate. The rule before session 5 (12 x margin / calendar
    # months from the first to the last order) said 2.6x the truth on the demo business.
    truth, _, _, ledger = world
    customers = truth["customers"]
    true_total = 0.0
    for cid in ledger.customers["customer_id"]:
        c = customers[cid]
        share = 1 - c["cogs"] / c["revenue"] if c["revenue"] else 0.0
        true_total += c["lambda_per_week"] * 52.18 * c["mean_spend"] * share
    ratio = float(ledger.annual_margin_lost) / true_total
    print(f"margin a year lost: keepwise {float(ledger.annual_margin_lost):,.0f}, truth {true_total:,.0f}")
    assert 0.6 < ratio < 1.1, ratio
    assert ledger.annual_margin_lost <= ledger.business_margin
