"""Feature expressions on a hand-made history, checked against figures computed by hand."""

from __future__ import annotations

from datetime import UTC, datetime

import ibis
import pytest

from keepwise import features
from keepwise.features.customer import mean_money
from keepwise.store import connect

AS_OF = datetime(2024, 4, 1, tzinfo=UTC)


@pytest.fixture
def store():
    b = connect("duckdb://:memory:")
    b.con.execute("INSERT INTO customers (customer_id) VALUES ('A'), ('B')")
    b.con.execute("INSERT INTO products (product_id, category, unit_cost) VALUES ('p', 'tea', 3)")
    b.con.execute(
        """INSERT INTO orders (order_id, line_no, customer_id, ordered_at, product_id, category, quantity,
        unit_price, unit_cost, currency) VALUES
        ('1', '1', 'A', '2024-01-05T10:00:00Z', 'x', 'coffee', 1, 10, 4, 'USD'),
        ('1', '2', 'A', '2024-01-05T10:00:00Z', 'x', 'tea', 2, 5, 2, 'USD'),
        ('2', '1', 'A', '2024-02-04T09:00:00Z', 'x', 'coffee', 1, 10, 4, 'USD'),
        ('3', '1', 'A', '2024-03-10T12:00:00Z', 'x', 'tea', 1, 5, 2, 'USD'),
        ('4', '1', 'A', '2024-03-12T12:00:00Z', 'x', 'tea', -1, 5, 2, 'USD'),
        ('5', '1', 'B', '2024-01-10T00:00:00Z', 'p', 'tea', 1, 8, NULL, 'USD'),
        ('6', '1', 'B', '2024-05-10T00:00:00Z', 'p', 'tea', 1, 8, NULL, 'USD')"""
    )
    return b


def _by_customer(expr):
    return expr.to_pandas().set_index("customer_id")


def test_rfm(store):
    lines = features.order_lines(store, AS_OF)
    r = _by_customer(features.rfm(features.orders(lines), AS_OF))
    # A: purchase orders 1 (20), 2 (10), 3 (5); order 4 is a return (-5): revenue 30, margin 12+6+3-3 = 18
    assert r.loc["A", "n_orders"] == 3
    assert float(r.loc["A", "revenue"]) == 30
    assert float(r.loc["A", "margin"]) == 18
    assert r.loc["A", "recency_days"] == pytest.approx(21.5)  # 2024-03-10 12:00 -> 2024-04-01 00:00
    # B: the May order is after AS_OF; no unit cost on the line: the product's standard cost 3 is used
    assert r.loc["B", "n_orders"] == 1
    assert float(r.loc["B", "margin"]) == 5


def test_cadence(store):
    lines = features.order_lines(store, AS_OF)
    c = _by_customer(features.cadence(features.orders(lines), AS_OF))
    # purchase days 01-05, 02-04, 03-10: gaps 30 and 35 days
    assert c.loc["A", "n_gaps"] == 2
    assert c.loc["A", "mean_gap_days"] == pytest.approx(32.5)
    assert c.loc["A", "current_gap_days"] == pytest.approx(22.0)
    assert c.loc["B", "n_gaps"] == 0


def test_category_runs_and_cadence(store):
    lines = features.order_lines(store, AS_OF)
    runs = (
        features.category_runs(lines, features.orders(lines))
        .to_pandas()
        .set_index(["customer_id", "category"])
    )
    # A's purchase orders in time order: 1 (coffee, tea), 2 (coffee), 3 (tea)
    assert runs.loc[("A", "coffee"), "n_with"] == 2
    assert runs.loc[("A", "coffee"), "last_idx"] == 2
    assert runs.loc[("A", "coffee"), "orders_after"] == 1
    assert runs.loc[("A", "tea"), "orders_after"] == 0
    cad = features.category_cadence(lines, AS_OF).to_pandas().set_index(["customer_id", "category"])
    assert cad.loc[("A", "tea"), "n_days"] == 2
    assert cad.loc[("A", "tea"), "mean_gap_days"] == 65  # purchase days 01-05 -> 03-10


def test_monthly_aov_and_mix(store):
    lines = features.order_lines(store, AS_OF)
    m = features.monthly_aov(features.orders(lines)).to_pandas()
    march = m[(m.customer_id == "A") & (m.month.astype(str).str.startswith("2024-03"))].iloc[0]
    assert march["n_orders"] == 1 and float(march["revenue"]) == 0 and march["aov"] == 5
    mix = features.category_mix(lines).to_pandas()
    jan = mix[(mix.customer_id == "A") & (mix.month.astype(str).str.startswith("2024-01"))]
    assert sorted(zip(jan.category, jan.revenue.astype(float), strict=True)) == [
        ("coffee", 10.0),
        ("tea", 10.0),
    ]


def test_aov_windows_sufficient_statistics(store):
    lines = features.order_lines(store, AS_OF)
    w = _by_customer(features.aov_windows(features.orders(lines), datetime(2024, 2, 1, tzinfo=UTC)))
    # A: order 1 (20) before; orders 2 (10, month 1) and 3 (5, month 2) in the window
    assert (w.loc["A", "n_h"], w.loc["A", "n_r"]) == (1, 2)
    assert w.loc["A", "sk"] == 3 and w.loc["A", "skk"] == 5
    assert w.loc["A", "aov_r"] == 7.5 and w.loc["A", "aov_h"] == 20.0


def test_features_are_lazy_ibis_expressions(store):
    lines = features.order_lines(store, AS_OF)
    assert isinstance(features.rfm(features.orders(lines), AS_OF), ibis.expr.types.Table)
    sql = ibis.to_sql(features.cadence(features.orders(lines), AS_OF), dialect="duckdb")
    assert "LAG" in sql.upper()


def test_mean_money_is_the_decimal_mean_rounded_half_up_once():
    """Against Python's decimals: half cents go up, a hair below half a cent down, 8 decimals, big sums."""
    import random
    from decimal import ROUND_HALF_UP, Decimal

    import pyarrow as pa

    rng = random.Random(5)
    cases = [
        (Decimal("20.01"), 2),  # 10.005: the float mean of 10.00 and 10.01 prints 10.00
        (Decimal("56.83"), 2),  # 28.415
        (Decimal("85.24499999"), 3),  # 28.41499999666...: down
        (Decimal("85.245"), 3),  # 28.415 exactly: up
        (Decimal("123456789012.34567891"), 7),
        (Decimal("0.00500000"), 1),
    ] + [(Decimal(rng.randrange(1, 10**12)) / 10**8, rng.randrange(1, 9)) for _ in range(300)]
    t = ibis.memtable(
        pa.table(
            {
                "total": pa.array([c[0] for c in cases] + [None], pa.decimal128(38, 8)),
                "n": pa.array([c[1] for c in cases] + [0], pa.int64()),
            }
        )
    )
    got = t.select(aov=mean_money(t.total, t.n)).to_pyarrow().column("aov").to_pylist()
    want = [float((total / n).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) for total, n in cases]
    assert got == [*want, None]
    assert f"{got[0]:.2f}" == "10.01" and f"{(10.00 + 10.01) / 2:.2f}" == "10.00"


def test_aov_windows_average_order_is_exact_to_the_cent():
    """Two past orders of 10.01 and 10.00: the average is 10.005, shown as 10.01 (half up), not 10.00."""
    orders = ibis.memtable(
        {
            "customer_id": ["C", "C", "C"],
            "ordered_at": [
                datetime(2024, 1, 3, tzinfo=UTC),
                datetime(2024, 1, 20, tzinfo=UTC),
                datetime(2024, 2, 5, tzinfo=UTC),
            ],
            "value": [10.01, 10.00, 4.995],
            "margin": [1.0, 1.0, 1.0],
        }
    ).mutate(value=ibis._.value.cast("decimal(36,8)"), margin=ibis._.margin.cast("decimal(36,8)"))
    w = features.aov_windows(orders, datetime(2024, 2, 1, tzinfo=UTC)).to_pandas().set_index("customer_id")
    assert (w.loc["C", "n_h"], w.loc["C", "n_r"]) == (2, 1)
    assert (w.loc["C", "aov_h"], w.loc["C", "aov_r"]) == (10.01, 5.00)


def test_priced_lines_resolve_the_unit_cost_once_for_every_stage(store):
    lines = features.priced_lines(store).to_pandas()
    costs = {(r.order_id, float(r.unit_price)): float(r.unit_cost) for r in lines.itertuples()}
    # the line's own cost, else the product's standard cost (B's tea: 3)
    assert costs[("1", 10.0)] == 4.0 and costs[("5", 8.0)] == 3.0
    assert set(lines["currency"]) == {"USD"}
    margin = features.order_lines(store, AS_OF).to_pandas().groupby("customer_id")["margin"].sum()
    # A: 6 + 6 + 6 + 3 - 3; B: 8 - 3 (the May order is after AS_OF)
    assert float(margin["A"]) == 18.0 and float(margin["B"]) == 5.0


def test_histograms_come_back_in_a_fixed_order(store):
    from keepwise.features.btyd import customer_summary, purchase_days_until, rft_histogram

    days, end = purchase_days_until(store, None)
    h = rft_histogram(customer_summary(days, end, "week"))
    assert list(h.columns) == ["x", "t_x", "T", "count"]
    assert h.equals(h.sort_values(["x", "t_x", "T"]).reset_index(drop=True))
