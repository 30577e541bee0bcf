"""Every planned period's ledger, tiers, totals, whale curve and movement from one ranked query.

A review asks for four periods; :mod:`keepwise.value.profitability.periods` computes them as one table with a
period column and reads each document's figures from it. Each check compares it, period by period, with the
figures computed one period at a time outside a run (``profitability``, ``totals``, ``tier_summary``,
``whale_curve``, ``tier_movement``) on the hand-checked business of ``conftest.py`` (returns, a mid-month
staff rate change, a referral whose first-year margin grows with the period's end, a customer in EUR), digit
for digit.
"""

from __future__ import annotations

import pandas as pd
import pytest
from tests.value.conftest import CONFIG, eur_customer, load_fixture

from keepwise.store.memo import one_run
from keepwise.value.profitability import (
    customer_ledger,
    month_label,
    parse_month,
    period,
    profitability,
    totals,
)
from keepwise.value.profitability.periods import (
    curve_points,
    customers_of,
    movements,
    period_stats,
    ranked_periods,
)
from keepwise.value.profitability.streams import plan_periods
from keepwise.value.tiers import movement_summary, tier_movement, tier_summary
from keepwise.value.whale import whale_curve

MONTHS = ["2024-02", "2024-03", "2024-04", "2025-03"]
VIEWS = ("month", "ttm", "lifetime")


def _text(df: pd.DataFrame) -> list[tuple[str, ...]]:
    return [tuple(map(str, r)) for r in df.itertuples(index=False)]


@pytest.mark.parametrize("planned", [True, False])
def test_each_period_of_the_one_query_is_the_period_computed_alone(store, planned):
    load_fixture(store, eur_customer())
    periods = [period(m, v) for m in MONTHS for v in VIEWS]
    alone = {p: profitability(store, p.month, view=p.view, config=CONFIG) for p in periods}
    with one_run(store):
        if planned:  # else each period's own ledger, as outside a plan
            plan_periods(store, periods)
        ranked = ranked_periods(store, periods, CONFIG)
        assert set(ranked.periods) >= set(periods)
        stats = period_stats(store, ranked)
        moves = movements(store, ranked)
        seen = 0
        for p in periods:
            mine = customers_of(ranked, p)
            want = alone[p]
            assert list(mine.columns) == list(want.columns)
            assert _text(mine) == _text(want)
            assert mine.attrs == want.attrs
            least = customers_of(ranked, p, last=2)
            assert _text(least) == _text(want.tail(2))
            s = stats[ranked.pid(p)]
            assert s.customers == len(want)
            assert {k: str(v) for k, v in s.totals.items()} == {
                k: str(v)
                for k, v in totals(customer_ledger(store, p.month, view=p.view, config=CONFIG)).items()
            }
            assert [{**t, "profit": str(t["profit"])} for t in s.tiers] == [
                {**t, "profit": str(t["profit"])} for t in tier_summary(want)
            ]
            assert s.headline == whale_curve(want)[1]
            mine_curve = curve_points(ranked, p, s, points=3)
            assert _text(mine_curve) == _text(whale_curve(want, points=3)[0])
            earlier = period(month_label(parse_month(p.month) - 1), p.view)
            if earlier in periods:
                before = alone[earlier]
                got = moves[(ranked.pid(p), ranked.pid(earlier))]
                assert got == movement_summary(tier_movement(before, want))
                seen += 1
            else:
                assert all(a != ranked.pid(p) for a, _ in moves)
        assert seen == 6  # 2024-03 and 2024-04 against the month before, in each view
        assert sum(s.customers for s in stats.values()) >= 20


def test_a_period_without_customers(store):
    load_fixture(store)
    quiet = period("2023-06")
    with one_run(store):
        plan_periods(store, [quiet, period("2023-05")])
        ranked = ranked_periods(store, [quiet, period("2023-05")], CONFIG)
        s = period_stats(store, ranked)[ranked.pid(quiet)]
        assert s.customers == 0 and all(str(v) == "0.0000" for v in s.totals.values())
        assert s.headline == whale_curve(profitability(store, "2023-06", config=CONFIG))[1]
        assert customers_of(ranked, quiet).empty
        assert movements(store, ranked)[(0, 1)] == movement_summary(
            tier_movement(profitability(store, "2023-05", config=CONFIG), customers_of(ranked, quiet))
        )
