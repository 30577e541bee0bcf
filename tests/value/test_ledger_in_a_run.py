"""In a run that planned its periods (a review) ledgers add up segments kept once; else each is read directly.

The two ways must give the same figures, row for row, for every period, view and currency choice: the same
exact decimals summed in another grouping. Each check below computes the ledger both ways on the hand-checked
business of ``conftest.py`` (returns, a mid-month staff rate change, an order near midnight in UTC+2, a
referral whose first-year margin grows with the period's end, a customer buying in EUR).
"""

from __future__ import annotations

import pandas as pd
import pytest
from tests.value.conftest import CONFIG, eur_customer, load_fixture

from keepwise.exceptions import KeepwiseInputError
from keepwise.store.memo import one_run
from keepwise.value.profitability import customer_ledger, frame, period
from keepwise.value.profitability.cost_to_serve import _check_rates
from keepwise.value.profitability.notes import cost_coverage
from keepwise.value.profitability.streams import plan_periods, planned

MONTHS = ["2024-02", "2024-03", "2025-03"]


def _plan(store, views=("month", "ttm", "lifetime")) -> None:
    plan_periods(store, [period(m, v) for m in MONTHS for v in views])


def _both(store, month: str, **how) -> tuple[pd.DataFrame, pd.DataFrame]:
    keys = ["customer_id", "month_index"] if how.get("by_month") else ["customer_id"]
    direct = frame(customer_ledger(store, month, config=CONFIG, **how)).sort_values(keys)
    with one_run(store):
        _plan(store)
        assert how.get("by_month") or planned(store, period(month, how.get("view", "month"))) is not None
        summed = frame(customer_ledger(store, month, config=CONFIG, **how)).sort_values(keys)
    return direct.reset_index(drop=True), summed.reset_index(drop=True)


@pytest.mark.parametrize("view", ["month", "ttm", "lifetime"])
@pytest.mark.parametrize("currency", ["reporting", "customer"])
def test_every_period_is_the_same_summed_from_months(store, view, currency):
    load_fixture(store, eur_customer())
    rows = 0
    for month in MONTHS:
        direct, summed = _both(store, month, view=view, currency=currency)
        rows += len(direct)
        pd.testing.assert_frame_equal(summed, direct)
        # and the values as exact decimals, digit for digit
        assert [tuple(map(str, r)) for r in summed.itertuples(index=False)] == [
            tuple(map(str, r)) for r in direct.itertuples(index=False)
        ]
    assert rows >= 5


def test_the_referral_margin_grows_with_the_period_end_in_a_run_too(store):
    load_fixture(store)
    with one_run(store):
        plan_periods(store, [period("2024-03"), period("2024-04", "lifetime")])
        assert planned(store, period("2024-03")) is not None
        march = frame(customer_ledger(store, "2024-03", config=CONFIG)).set_index("customer_id")
        life = frame(customer_ledger(store, "2024-04", view="lifetime", config=CONFIG))
    life = life.set_index("customer_id")
    assert str(march.loc["C", "advocacy_value"]) == "30.0000"  # D's margin known at the end of March
    assert str(life.loc["C", "advocacy_value"]) == "45.0000"  # and of April


def test_monthly_series_in_a_run(store):
    load_fixture(store)
    direct, summed = _both(store, "2024-04", view="lifetime", by_month=True)
    pd.testing.assert_frame_equal(summed, direct)


def test_cost_coverage_and_the_rate_check_in_a_run(store):
    extra = {
        "time_logs": pd.DataFrame(
            [{"customer_id": "A", "staff_id": "S1", "started_at": "2023-12-31T10:00:00Z", "minutes": "5"}]
        )
    }
    load_fixture(store, extra)
    for month in MONTHS:
        for view in ("month", "ttm", "lifetime"):
            per = period(month, view)
            assert cost_coverage(store, per) == _in_run(store, lambda p=per: cost_coverage(store, p))
    with pytest.raises(KeepwiseInputError) as outside:
        _check_rates(store, period("2023-12"))
    with pytest.raises(KeepwiseInputError) as inside:
        _in_run(store, lambda: _check_rates(store, period("2024-03", "lifetime")))
    assert str(inside.value) == str(outside.value)
    assert "1 time log(s)" in str(inside.value) and "staff 'S1'" in str(inside.value)
    _in_run(store, lambda: _check_rates(store, period("2024-03")))  # the log is outside March: no error


def _in_run(store, fn):
    with one_run(store):
        _plan(store)
        return fn()


def test_a_plan_covers_its_periods_only(store):
    load_fixture(store)
    with one_run(store):
        plan_periods(store, [period("2024-03"), period("2024-03", "ttm")])
        plan_periods(store, [period("2024-05")])  # the first plan of a run holds
        assert planned(store, period("2024-03"))[1:] == (2, 2)
        assert planned(store, period("2024-03", "ttm"))[1:] == (1, 2)
        assert planned(store, period("2024-05")) is None
        assert planned(store, period("2024-03", "lifetime")) is None  # no lifetime planned
    assert planned(store, period("2024-03")) is None  # outside a run
