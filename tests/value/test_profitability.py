"""Profit per customer against figures computed by hand on the fixture of conftest.py.

Hand computation, March 2024 (UTC), reporting currency USD, review_value = 20.00:

A (returns, a concession, staff time across a rate change)
  O1   3 x 20.00 = 60.00 revenue, 3 x 12.00 = 36.00 cogs
  O2  -1 x 20.00 = -20.00 revenue (a return), -1 x 12.00 = -12.00 cogs
  O3   2 x 15.50 = 31.00 revenue, no line cost: product P2's 7.25 -> 2 x 7.25 = 14.50 cogs
  O4   01:30 on 1 April at +02:00 = 23:30 on 31 March UTC: 1 x 10.00 = 10.00 revenue, 4.00 cogs
  O5   00:30 on 1 March at +02:00 = 29 February UTC: not March
  revenue 60 - 20 + 31 + 10 = 81.00; cogs 36 - 12 + 14.50 + 4 = 42.50; gross margin 38.50
  time: 30 min on 10 March at 48.00/h = 24.00; 30 min on 20 March at 60.00/h (from 16 March) = 30.00
  cost to serve 54.00; concession I1 (resolved 2 March) 10.00
  profit 38.50 - 54.00 - 10.00 = -25.50
B (staff time only, no orders)
  45 min at 60.00/h = 45.00; 7 min at 50.00/h = 5.83333... -> 5.8333; cost to serve 50.8333
  profit -50.8333
C (referred D on 5 March)
  O6 100.00 revenue, 40.00 cogs, gross margin 60.00
  referral: D's first-year gross margin known at the end of March = O7 = 2 x (25 - 10) = 30.00
  profit 60.00 + 30.00 = 90.00  (I2 has no concession amount: 0)
D  O7 revenue 50.00, cogs 20.00, gross margin 30.00; profit 30.00
E  a review at the configured 20.00 and a case study with its own 150.00: advocacy 170.00; profit 170.00

Totals: revenue 231.00, cogs 102.50, gross margin 128.50, cost to serve 104.8333, concessions 10.00,
advocacy 200.00, profit 213.6667 (= -25.50 - 50.8333 + 90 + 30 + 170), operating profit 13.6667.

Unused capacity in March (31 days), S1: 48.00/h for 15 days, 60.00/h for 16 days, 6000 practical minutes a
month: supplied 6000 x 15/31 = 2903.2258 min at 0.80/min and 6000 x 16/31 = 3096.7742 min at 1.00/min;
supplied cost 72000/31 + 96000/31 = 168000/31 = 5419.3548; used 105 min costing 24 + 30 + 45 = 99.00;
unused 5895 min costing 5320.3548. S2: 1000 min at 50.00/h = 833.3333 supplied, 7 used (5.8333), 993
unused = 827.5000.
"""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from keepwise.config import Config, ValueAssumptions
from keepwise.exceptions import KeepwiseInputError
from keepwise.value import profitability
from keepwise.value.profitability import customer_ledger, latest_month, period, totals, unused_capacity

from .conftest import CONFIG, eur_customer, load_fixture

D = Decimal

EXPECTED_MARCH = {
    #     revenue   cogs    margin   to serve    concess.  advocacy  profit
    "A": ("81.00", "42.50", "38.50", "54.00", "10.00", "0", "-25.50"),
    "B": ("0", "0", "0", "50.8333", "0", "0", "-50.8333"),
    "C": ("100.00", "40.00", "60.00", "0", "0", "30.00", "90.00"),
    "D": ("50.00", "20.00", "30.00", "0", "0", "0", "30.00"),
    "E": ("0", "0", "0", "0", "0", "170.00", "170.00"),
}
FIELDS = ("revenue", "cogs", "gross_margin", "cost_to_serve", "concessions", "advocacy_value", "profit")


def test_march_profit_matches_the_hand_computation(shop):
    df = profitability(shop, month="2024-03", config=CONFIG)
    assert list(df["customer_id"]) == ["E", "C", "D", "A", "B"]  # most profitable first
    for _, row in df.iterrows():
        expected = EXPECTED_MARCH[row["customer_id"]]
        got = tuple(row[f] for f in FIELDS)
        assert got == tuple(D(x) for x in expected), row["customer_id"]
        assert all(isinstance(v, Decimal) for v in got)  # money never comes back as float
    assert df.attrs["month"] == "2024-03"
    assert df.attrs["start"] == "2024-03-01T00:00:00+00:00"


def test_totals_match_the_hand_computation(shop):
    t = totals(customer_ledger(shop, "2024-03", config=CONFIG))
    assert t == {
        "revenue": D("231.00"),
        "cogs": D("102.50"),
        "gross_margin": D("128.50"),
        "cost_to_serve": D("104.8333"),
        "concessions": D("10.00"),
        "advocacy_value": D("200.00"),
        "profit": D("213.6667"),
        "operating_profit": D("13.6667"),
    }


def test_unused_capacity_is_its_own_line_and_not_on_customers(shop):
    cap = unused_capacity(shop, "2024-03", config=CONFIG).set_index("staff_id")
    assert cap.loc["S1", "supplied_minutes"] == D("6000.0000")
    assert cap.loc["S1", "used_minutes"] == D("105.0000")
    assert cap.loc["S1", "supplied_cost"] == D("5419.3548")
    assert cap.loc["S1", "used_cost"] == D("99.0000")
    assert cap.loc["S1", "unused_cost"] == D("5320.3548")
    assert cap.loc["S2", "unused_minutes"] == D("993.0000")
    assert cap.loc["S2", "unused_cost"] == D("827.5000")
    # customers carry only the time they used: 54.00 + 50.8333 = 104.8333, not a share of 6147.85
    t = totals(customer_ledger(shop, "2024-03", config=CONFIG))
    assert t["cost_to_serve"] == cap["used_cost"].sum()


def test_february_holds_the_order_placed_after_midnight_in_utc_plus_2(shop):
    df = profitability(shop, month="2024-02", config=CONFIG).set_index("customer_id")
    # O5 (1000.00, cost 0) only; I1 was opened in February but resolved in March, so no concession here
    assert list(df.index) == ["A"]
    assert df.loc["A", "revenue"] == D("1000.00")
    assert df.loc["A", "concessions"] == D("0")


def test_lifetime_and_trailing_twelve_months(shop):
    # Up to April 2024: A adds O5 (February, +1000.00); D adds O8 (April: revenue 25, margin 15), so C's
    # referral is worth D's first-year margin known by the end of April: 30 + 15 = 45.
    life = profitability(shop, month="2024-04", view="lifetime", config=CONFIG).set_index("customer_id")
    assert life.loc["A", "profit"] == D("-25.50") + D("1000.00")
    assert life.loc["D", "revenue"] == D("75.00")
    assert life.loc["C", "advocacy_value"] == D("45.00")
    assert life.loc["C", "profit"] == D("105.00")
    # Trailing twelve months ending February 2025: March 2024 to February 2025, so O5 (February 2024) is out
    # and O9 (March 2025) is after the end.
    ttm = profitability(shop, month="2025-02", view="ttm", config=CONFIG).set_index("customer_id")
    assert ttm.loc["A", "profit"] == D("-25.50")
    assert ttm.loc["D", "revenue"] == D("75.00")
    assert ttm.attrs["start"] == "2024-03-01T00:00:00+00:00"


def test_monthly_series_adds_up_to_lifetime(shop):
    monthly = customer_ledger(shop, "2024-04", view="lifetime", by_month=True, config=CONFIG).to_pandas()
    life = (
        customer_ledger(shop, "2024-04", view="lifetime", config=CONFIG).to_pandas().set_index("customer_id")
    )
    sums = monthly.groupby("customer_id")["revenue"].sum()
    for cid, value in sums.items():
        assert value == life.loc[cid, "revenue"]
    a = monthly[monthly.customer_id == "A"].set_index("month_index")["revenue"]
    assert a.to_dict() == {2024 * 12 + 1: D("1000.00"), 2024 * 12 + 2: D("81.00")}


def test_referral_and_reviews_can_use_configured_values(shop):
    cfg = Config(value=ValueAssumptions(referral_value=D("75.00"), review_value=D("0")))
    df = profitability(shop, "2024-03", config=cfg).set_index("customer_id")
    assert df.loc["C", "advocacy_value"] == D("75.00")
    assert df.loc["E", "advocacy_value"] == D("150.00")  # only the case study's own value


def test_customer_currency_and_reporting_currency(store):
    # F buys in EUR: 1 x 100.00, cost 50.00; 1 EUR = 1.10 USD.
    load_fixture(store, eur_customer())
    rep = profitability(store, "2024-03", config=CONFIG).set_index("customer_id")
    assert rep.loc["F", ["currency", "revenue", "cogs", "profit"]].tolist() == [
        "USD",
        D("110.00"),
        D("55.00"),
        D("55.00"),
    ]
    assert rep.loc["A", "profit"] == D("-25.50")  # USD amounts untouched by the conversion
    own = profitability(store, "2024-03", currency="customer", config=CONFIG).set_index("customer_id")
    assert own.loc["F", ["currency", "revenue", "profit"]].tolist() == ["EUR", D("100.00"), D("50.00")]
    assert own.loc["A", ["currency", "profit"]].tolist() == ["USD", D("-25.50")]
    # not set and no rates: the message names the currencies and the settings
    with pytest.raises(
        KeepwiseInputError,
        match=r"^orders are in EUR and USD: set \[value\] fx = \{EUR = <rate>\} in keepwise.toml to report "
        r"in USD \(reporting_currency",
    ):
        profitability(store, "2024-03", config=Config())
    # set, and a rate missing: the same words, after the currency without a rate
    eur = Config(value=ValueAssumptions(reporting_currency="EUR"))
    with pytest.raises(KeepwiseInputError, match=r"^no exchange rate for USD: amounts are in EUR and USD: "):
        profitability(store, "2024-03", config=eur)


def test_a_time_log_before_any_staff_rate_is_an_error_that_says_what_to_do(store):
    extra = {
        "time_logs": pd.DataFrame(
            [{"customer_id": "A", "staff_id": "S1", "started_at": "2023-12-31T10:00:00Z", "minutes": "5"}]
        )
    }
    load_fixture(store, extra)
    with pytest.raises(KeepwiseInputError, match=r"1 time log.*staff 'S1'.*add a staff_rates row"):
        profitability(store, "2023-12", config=CONFIG)


def test_latest_month_and_bad_month(shop):
    assert latest_month(shop) == "2025-03"
    with pytest.raises(KeepwiseInputError, match="month '2024-13' is not understood; write it as YYYY-MM"):
        period("2024-13")


def test_cost_to_serve_division_is_exact_half_up(store):
    # 1 minute at 0.03/h is 0.0005 exactly: half up gives 0.0005; 1 minute at 0.003/h is 0.00005 -> 0.0001.
    load_frame = __import__("keepwise.store.ingest", fromlist=["load_frame"]).load_frame
    load_frame(store, "customers", pd.DataFrame({"customer_id": ["X", "Y"]}))
    load_frame(
        store,
        "staff_rates",
        pd.DataFrame(
            {
                "staff_id": ["S8", "S9"],
                "hourly_cost": ["0.03", "0.003"],
                "currency": ["USD", "USD"],
                "valid_from": ["2024-01-01", "2024-01-01"],
            }
        ),
    )
    load_frame(
        store,
        "time_logs",
        pd.DataFrame(
            {
                "customer_id": ["X", "Y"],
                "staff_id": ["S8", "S9"],
                "started_at": ["2024-01-02", "2024-01-02"],
                "minutes": ["1", "1"],
            }
        ),
    )
    df = profitability(store, "2024-01", config=Config()).set_index("customer_id")
    assert df.loc["X", "cost_to_serve"] == D("0.0005")
    assert df.loc["Y", "cost_to_serve"] == D("0.0001")


def test_exact_division_by_60_against_python_decimal():
    # _div60 divides in floating point and corrects with the exact remainder; compare with Decimal on
    # 5,000 seeded amounts with 8 decimal places up to 10^9, plus every tie pattern near a few values.
    import random

    import ibis

    from keepwise.value.profitability import _div60

    rng = random.Random(7)
    values = [Decimal(rng.randrange(0, 10**17)) / Decimal(10**8) for _ in range(5000)]
    values += [
        Decimal(k) * Decimal("0.003") + e
        for k in range(1, 200)
        for e in (Decimal("-1e-8"), 0, Decimal("1e-8"))
    ]
    t = ibis.memtable(pd.DataFrame({"x": [str(v) for v in values]}))
    t = t.mutate(x=t.x.cast("decimal(18, 8)"))
    got = t.mutate(q=_div60(t.x)).to_pandas()
    expected = [(Decimal(str(v)) / 60).quantize(Decimal("0.0001"), rounding="ROUND_HALF_UP") for v in values]
    assert list(got["q"]) == expected
