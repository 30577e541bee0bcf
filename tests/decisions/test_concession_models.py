"""The advisor's two model choices: the effect of a concession (likelihood-ratio tests) and the drop-out model
(holdout fit), each against data whose truth is planted."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from keepwise.config import DecisionAssumptions
from keepwise.decisions.concession.dropout import CANDIDATES, MODELS, choose_dropout, schedule_buyers
from keepwise.decisions.effect import BY_VALUE, ONE, estimate_effect, no_order_chance
from keepwise.models import BetaGeoModel, ParetoNBDModel

CFG = DecisionAssumptions()


def planted_incidents(slope: float, n: int = 8000, seed: int = 0) -> pd.DataFrame:
    """Incidents of one category whose concession shifts the log odds of leaving by ``-1 + slope x value_z``.

    A customer who stays shows no order by the end with the known chance ``no_order_chance`` (0.3), as the
    advisor's mixture model assumes. (One category, so only the value term is tested: the category test has
    its own 5% false-positive rate.)
    """
    rng = np.random.default_rng(seed)
    value = rng.normal(3.0, 1.0, n)
    z = (value - value.mean()) / value.std(ddof=1)
    conceded = rng.random(n) < 0.5
    logit = -0.8 + 0.2 * z + conceded * (-1.0 + slope * z)
    left = rng.random(n) < 1 / (1 + np.exp(-logit))
    q = np.full(n, 0.3)
    no_order = left | (rng.random(n) < q)
    return pd.DataFrame(
        {
            "incident_id": [f"I{i}" for i in range(n)],
            "customer_id": [f"C{i}" for i in range(n)],
            "category": "late",
            "conceded": conceded,
            "log_weekly_value": value,
            "weeks_after": 20.0,
            "x": 2.0,
            "T": 30.0,
            "ordered_again": ~no_order,
            "no_order_chance": q,
        }
    )


def test_likelihood_ratio_test_keeps_an_effect_that_grows_with_value():
    """Planted: each standard deviation of log spend a week lowers the log odds ratio by 0.8 more."""
    est = estimate_effect(planted_incidents(slope=-0.8), CFG, 0.5, 5.0)
    assert est.model == BY_VALUE
    value_test = est.tests[0]
    assert value_test["model"] == BY_VALUE and value_test["kept"] and value_test["p_value"] < 0.001
    assert value_test["aic_difference"] < -10
    # about 0.1 standard error at this size
    assert est.params["conceded:value_z"] == pytest.approx(-0.8, abs=0.3)
    assert len(est.tests) == 1  # one category: nothing to test by category
    # the reduction it buys grows with the customer's value
    low, high = est.predict("late", 1.5), est.predict("late", 4.5)
    assert high["reduction"] > low["reduction"] + 0.1
    assert "grows with customer value" in est.describe() and "p = 0.000" in est.describe()
    doc = est.to_json()
    assert doc["model"] == BY_VALUE and doc["tests"][0]["lr_statistic"] > 10


def test_likelihood_ratio_test_keeps_one_effect_when_it_does_not_grow():
    est = estimate_effect(planted_incidents(slope=0.0), CFG, 0.5, 5.0)
    assert est.model == ONE and not est.varies
    assert "conceded:value_z" not in est.params
    assert all(not t["kept"] for t in est.tests) and est.tests[0]["p_value"] > 0.05
    # the pooled odds ratio is the planted exp(-1)
    assert np.log(est.odds_ratio) == pytest.approx(-1.0, abs=0.35)
    assert "one effect for all incidents" in est.describe()


def test_reduction_interval_comes_from_the_kept_model():
    """With the value term kept, the log odds ratio's standard error at value z is the delta method's
    ``sqrt(var e + z^2 var f + 2 z cov(e, f))``, smallest near the average customer."""
    est = estimate_effect(planted_incidents(slope=-0.8), CFG, 0.5, 5.0)
    assert est.shift_names == ("conceded", "conceded:value_z")
    (ve, c), (_, vf) = est.shift_cov
    for z in (-2.0, 0.0, 3.0):
        assert est._shift_sd("late", z) == pytest.approx(np.sqrt(ve + z * z * vf + 2 * z * c))
    assert est._shift_sd("late", 3.0) > est._shift_sd("late", 0.0)
    mid = est.predict("late", 3.0)
    assert mid["reduction_low"] < mid["reduction"] < mid["reduction_high"]


def test_no_order_chance_bgnbd_is_the_closed_form():
    m = BetaGeoModel()
    m.params_ = {"r": 0.5, "alpha": 6.0, "a": 0.4, "b": 3.0}
    got = no_order_chance(m, [0.0, 4.0], [10.0, 30.0], [5.0, 20.0])
    want = [(16 / 21) ** 0.5, (36 / 56) ** 4.5]
    assert got == pytest.approx(want, rel=1e-12)


def test_no_order_chance_pareto_nbd_against_a_double_integral():
    """Second implementation: E over lambda and mu of P(no purchase in w), by scipy's dblquad.

    No order in ``w`` when the first purchase comes after ``w`` or after the customer has left:
    ``e^{-(lambda + mu) w} + mu / (lambda + mu) (1 - e^{-(lambda + mu) w})``.
    """
    m = ParetoNBDModel()
    m.params_ = {"r": 0.55, "alpha": 6.0, "s": 0.6, "beta": 40.0}
    for x, T, w in ((0.0, 5.0, 10.0), (3.0, 20.0, 30.0), (12.0, 50.0, 8.0)):
        lam = stats.gamma(0.55 + x, scale=1 / (6.0 + T))
        mu = stats.gamma(0.6, scale=1 / (40.0 + T))

        def f(m_: float, la: float, w: float = w, lam: Any = lam, mu: Any = mu) -> float:
            k = la + m_
            none = np.exp(-k * w) + (m_ / k) * (1 - np.exp(-k * w))
            return float(none * lam.pdf(la) * mu.pdf(m_))

        want, _ = integrate.dblquad(f, 0, lam.ppf(1 - 1e-10), 0, mu.ppf(1 - 1e-10), epsabs=1e-10)
        assert no_order_chance(m, [x], [T], [w])[0] == pytest.approx(want, abs=2e-4)


def _orders(rng: np.random.Generator, n_poisson: int, n_schedule: int, weeks: float = 78.0) -> pd.DataFrame:
    """Poisson/exponential-lifetime buyers (Pareto/NBD, s = 0.6, beta = 40) and monthly buyers who never
    leave."""
    start = pd.Timestamp("2024-01-01", tz="UTC")
    rows: list[tuple[str, float, float]] = []
    for i in range(n_poisson):
        lam = rng.gamma(0.6, 1 / 5.0)
        first = rng.uniform(0, weeks * 0.6)
        life = rng.exponential(1 / rng.gamma(0.6, 1 / 40.0))
        t, end = first, min(first + life, weeks)
        while t < end:
            rows.append((f"P{i}", t, rng.gamma(4.0, 10.0)))
            t += rng.exponential(1 / max(lam, 1e-6))
    for i in range(n_schedule):
        t = rng.uniform(0, 8.0)
        while t < weeks:
            rows.append((f"S{i}", t, rng.gamma(4.0, 10.0)))
            t += rng.normal(30.0, 1.5) / 7.0
    df = pd.DataFrame(rows, columns=["customer_id", "week", "value"])
    df["ordered_at"] = start + pd.to_timedelta(df["week"] * 7, unit="D")
    df["margin"] = df["value"] * 0.5
    return df[["customer_id", "ordered_at", "value", "margin"]]


def test_schedule_buyers_are_the_monthly_ones():
    orders = _orders(np.random.default_rng(1), 600, 60)
    found = schedule_buyers(orders, pd.Timestamp("2025-07-01", tz="UTC"))
    assert {f"S{i}" for i in range(60)} <= found
    assert len(found - {f"S{i}" for i in range(60)}) <= 6  # at most 1% of Poisson buyers look regular


def test_planted_never_leaving_cohort_moves_the_choice_to_a_segment_aware_model():
    """15% of customers buy monthly and never leave: the BG/NBD fitted on everyone predicts the others'
    holdout worse than the fit by segment, which the paired test picks; without them it keeps BG/NBD or
    Pareto/NBD on everyone (nothing to segment)."""
    as_of = pd.Timestamp("2025-07-01", tz="UTC")
    planted = choose_dropout(_orders(np.random.default_rng(2), 2500, 450), as_of)
    rows = {r["model"]: r for r in planted.holdout}
    assert planted.n_schedule >= 450
    assert planted.chosen.endswith("_by_segment"), planted.reason
    assert rows[planted.chosen]["rmse"] < rows["bgnbd"]["rmse"]
    assert rows[planted.chosen]["z"] > 1.96
    assert planted.fitted.schedule is not None and planted.calibration_end is not None
    doc = planted.to_json()
    # the Pareto/NBD fallbacks are not tried when a BG/NBD candidate could be fitted
    assert doc["chosen"] == planted.chosen and [c["model"] for c in doc["candidates"]] == list(CANDIDATES)

    plain = choose_dropout(_orders(np.random.default_rng(2), 2500, 0), as_of)
    assert plain.chosen == "bgnbd", plain.reason
    errors = {r["model"]: r.get("error", "") for r in plain.holdout}
    assert "schedule buyers" in errors["bgnbd_by_segment"]


def test_pareto_nbd_is_the_fallback_and_competes_when_asked():
    """When BG/NBD cannot be fitted on the calibration period (here: asked for a model that does not fit),
    the Pareto/NBD fallbacks are tried; with every model as a candidate all four are compared."""
    as_of = pd.Timestamp("2025-07-01", tz="UTC")
    orders = _orders(np.random.default_rng(2), 1500, 300)
    everything = choose_dropout(orders, as_of, MODELS)
    assert [r["model"] for r in everything.holdout] == list(MODELS)
    assert all("rmse" in r for r in everything.holdout)
    segments_only = choose_dropout(orders, as_of, ("bgnbd_by_segment",), ("pareto_nbd",))
    assert [r["model"] for r in segments_only.holdout] == ["bgnbd_by_segment"]


def test_short_history_skips_the_holdout_and_says_so():
    orders = _orders(np.random.default_rng(3), 800, 0, weeks=20.0)
    choice = choose_dropout(orders, pd.Timestamp("2024-05-21", tz="UTC"))
    assert choice.chosen == "bgnbd" and choice.calibration_end is None
    assert "too few to hold any out" in choice.reason and choice.holdout == []


def test_decisions_unchanged_on_a_business_with_no_schedule_buyers_and_one_effect():
    """The simulator plants schedule buyers only with 12 months or more: on 11 months there are none to
    segment, BG/NBD predicts the holdout as well as Pareto/NBD (so the simpler model is kept), and the effect
    does not grow with value; every figure and decision is the one of the advisor before the choices
    (BG/NBD on everyone, its own chance of no order)."""
    from keepwise.config import Config
    from keepwise.datasets import simulate
    from keepwise.decisions.concession import ConcessionAdvisor, decide
    from keepwise.store import connect
    from keepwise.store.ingest import load_frame
    from keepwise.store.schema import load_order

    biz = simulate(customers=3000, months=11, seed=3)
    store = connect("duckdb://:memory:")
    for name in load_order(set(biz.tables)):
        load_frame(store, name, biz.tables[name], source=name)
    new = ConcessionAdvisor(store, Config())
    old = ConcessionAdvisor(store, Config(), dropout=("bgnbd",))
    assert new.dropout.chosen == "bgnbd" and new.dropout.n_schedule < 30
    assert new.effect.model == ONE and len(new.history) > 300
    q = pd.DataFrame(
        {
            "customer_id": biz.incidents["customer_id"].astype(str),
            "incident_id": biz.incidents["incident_id"].astype(str),
            "category": biz.incidents["category"],
            "at": None,
        }
    )
    cfg = Config().decisions
    for a, b in zip(new.figures_many(q), old.figures_many(q), strict=True):
        assert a.loss_if_leave == b.loss_if_leave and a.reduction == b.reduction
        for cost in (Decimal("10"), Decimal("60")):
            assert decide(a, cost, cfg).decision == decide(b, cost, cfg).decision


def test_advisor_on_orders_only_says_what_it_assumed():
    """A store with customers and orders only (as CDNOW): no crash; the notes name each missing input and
    what was done instead, and the advice shows the drop-out model it chose and the default effect."""
    from keepwise.config import Config
    from keepwise.datasets import simulate
    from keepwise.decisions.concession import ConcessionAdvisor
    from keepwise.store import connect
    from keepwise.store.ingest import load_frame

    biz = simulate(customers=1500, months=24, seed=4)
    store = connect("duckdb://:memory:")
    for name in ("customers", "orders"):
        table = biz.tables[name]
        if name == "customers":
            table = table.assign(acquisition_cost=None)
        load_frame(store, name, table, source=name)
    advisor = ConcessionAdvisor(store, Config())
    doc = advisor.advise(str(biz.tables["orders"]["customer_id"].iloc[0]), "25", log=False).to_json()
    notes = {n["input"]: n for n in doc["notes"]}
    assert notes["incidents"]["missing"] == "no rows"
    assert "documented default effect" in notes["incidents"]["instead"]
    assert notes["time_logs"]["instead"] == "cost to serve is taken as 0"
    assert "replacement_cost_fallback" in notes["customers.acquisition_cost"]["instead"]
    assert doc["effect"]["source"] == "default" and doc["effect"]["model"] == "documented default"
    assert doc["value_model"]["chosen"] in ("bgnbd", "bgnbd_by_segment")
    assert all("rmse" in c or "error" in c for c in doc["value_model"]["candidates"])
    assert any(r.startswith("weeks as a customer and purchases from BG/NBD") for r in doc["remarks"])
    assert doc["decision"] in ("approve", "counter", "refuse") and doc["reasons"]


def test_advice_json_shows_which_models_were_chosen_and_why(advisor):
    """On the simulated store: the drop-out model with each candidate's holdout error, the effect model with
    each likelihood-ratio test (statistic, degrees of freedom, p-value, AIC difference)."""
    doc = advisor.advise("C0002", "40", log=False).to_json()
    vm = doc["value_model"]
    assert vm["chosen"] in CANDIDATES and vm["holdout_weeks"] > 8
    scored = [c for c in vm["candidates"] if "rmse" in c]
    assert scored and all(c["rmse"] > 0 and c["actual"] > 0 for c in scored)
    assert f"{next(c for c in scored if c['model'] == vm['chosen'])['rmse']:.3f}" in vm["reason"]
    effect = doc["effect"]
    assert effect["source"] == "history" and effect["model"] == advisor.effect.model
    first = effect["tests"][0]
    assert first["model"] == "grows with customer value" and first["against"] == "one effect"
    assert first["df"] == 1 and 0 <= first["p_value"] <= 1
    assert first["aic_difference"] == pytest.approx(2 - first["lr_statistic"], abs=1e-3)
    assert f"p = {first['p_value']:.2f}" in effect["description"] or effect["model"] != "one effect"
