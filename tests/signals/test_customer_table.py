"""The review's customer table gives every reader the figures of the queries it stands in for.

``signals.run`` computes the lost status, the warning rules' summary, P(alive)'s inputs, aov_decline's sums,
the business's margin and revenue retention from one customer table (``signals.customers``); each function
still computes them from the orders when called without it. Both ways, on a simulated business with exits
(and a customer with an exit and no order, and one with only a return), must give the same values.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from keepwise import features
from keepwise.datasets.simulate import simulate
from keepwise.signals import ReviewPeriod, build_ledger, compute_metrics, lost_status, p_alive, prepare
from keepwise.signals.customers import aov_columns, customer_table, days_with_gaps, rft_columns, scalars
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order


@pytest.fixture(scope="module")
def world():
    biz = simulate(customers=800, months=24, seed=5)
    b = connect("duckdb://:memory:")
    for name in load_order(list(biz.tables)):
        load_frame(b, name, biz.tables[name])
    con = b.con
    con.execute(
        "INSERT INTO customers (customer_id, acquired_at, currency) VALUES "
        "('ZZ-EXIT', '2024-03-01', 'USD'), ('ZZ-RETURN', '2024-03-01', 'USD')"
    )
    con.execute(
        "INSERT INTO exits (customer_id, lost_at, reason_code, competitor) VALUES "
        "('ZZ-EXIT', '2025-06-01 10:00:00+00', 'price', 'BeanCo')"
    )
    con.execute(
        "INSERT INTO orders (order_id, line_no, customer_id, ordered_at, product_id, category, quantity, "
        "unit_price, unit_cost, currency) SELECT 'ZZ-R1', '1', 'ZZ-RETURN', "
        "TIMESTAMPTZ '2025-05-02 09:00:00+00', "
        "product_id, category, -1, unit_price, unit_cost, currency FROM orders LIMIT 1"
    )
    period = ReviewPeriod.of("2025-12")
    lines = features.order_lines(b, period.end)
    ords = b.materialize(features.orders(lines), "_t_orders")
    days = b.materialize(days_with_gaps(ords), "_t_days")
    rows = b.materialize(customer_table(ords, days, period, b.table("exits")), "_t_customers").to_pyarrow()
    return b, period, lines, ords, days, rows


def _same(a: pd.DataFrame, b: pd.DataFrame, key: str = "customer_id") -> None:
    a = a.sort_values(key, ignore_index=True)
    b = b.sort_values(key, ignore_index=True)
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b)
    for col in a.columns:
        for x, y in zip(a[col].tolist(), b[col].tolist(), strict=True):
            if pd.isna(x) is True or pd.isna(y) is True:
                assert pd.isna(x) is True and pd.isna(y) is True, (col, x, y)
            else:
                assert x == y, (col, x, y)


def test_the_lost_status_is_the_same_both_ways(world):
    b, period, _, ords, days, rows = world
    old = lost_status(b, ords, period, days=days)
    new = lost_status(b, ords, period, days=days, customers=rows)
    _same(old, new)
    exit_only = new[new["customer_id"] == "ZZ-EXIT"].iloc[0]
    assert exit_only["lost"] and exit_only["how"] == "exit" and exit_only["competitor"] == "BeanCo"
    assert int(new["lost"].sum()) > 0


def test_the_warning_summary_is_the_same_both_ways(world):
    _, period, lines, ords, _, rows = world
    lost = set()
    old = prepare(lines, ords, period, lost).summary
    new = prepare(lines, ords, period, lost, customers=rows).summary
    assert "ZZ-RETURN" not in set(new["customer_id"])  # a return is not a purchase
    _same(old, new)


def test_p_alive_inputs_and_order_value_sums_are_the_same_both_ways(world):
    _, period, _, ords, days, rows = world
    now, before = p_alive._rft_pair(days, period.end, period.start)
    now2, before2 = p_alive._rft_frames(rft_columns(rows))
    _same(now, now2)
    _same(before.reset_index(drop=True), before2.reset_index(drop=True))
    old = features.aov_windows(ords, period.recent_start).to_pyarrow().to_pandas()
    _same(old, aov_columns(rows)[list(old.columns)])


def test_the_business_totals_are_the_same_both_ways(world):
    b, period, _, ords, days, rows = world
    figures = scalars(rows)
    status = lost_status(b, ords, period, days=days)
    old = build_ledger(b, ords, period, status=status)
    new = build_ledger(b, ords, period, status=status, figures=figures)
    assert new.business_margin == old.business_margin and isinstance(new.business_margin, Decimal)
    assert compute_metrics(ords, period, days=days) == compute_metrics(
        ords, period, days=days, figures=figures
    )
