"""customer_worth's money without a Decimal division per customer gives the per-customer Decimal figures.

The reference is the rule written out one customer at a time in ``Decimal`` (as customer_worth computed it
before): margin / Decimal(repr(years)), quantized half-even to cents. The inputs include exact ties (half a
cent), negative amounts that round to zero (``-0.00``), missing and non-finite margins.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np
import pandas as pd
import pyarrow as pa

from keepwise.value.worth import annual_margins, customer_worth, years_as_customer

CENT = Decimal("0.01")


def _q(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _margins(rng: np.random.Generator, n: int, years: np.ndarray) -> list[Decimal | None]:
    margins: list[Decimal | None] = [Decimal(int(v)).scaleb(-4) for v in rng.integers(-(10**8), 10**9, n)]
    for i in range(0, n // 10):  # ties: margin / years lands on half a cent exactly
        k = Decimal(int(rng.integers(-(10**6), 10**6))) / 100 + Decimal("0.005")
        margins[i] = (Decimal(repr(float(years[i]))) * k).quantize(Decimal("0.0001"))
    margins[-1] = None
    margins[-2] = Decimal("-0.0001")
    margins[-3] = Decimal("0.0000")
    return margins


def _same(a: list[Decimal | None], b: list[Decimal | None]) -> None:
    assert [repr(v) for v in a] == [repr(v) for v in b]  # value, sign and exponent


def test_annual_margins_equal_decimal_rule() -> None:
    rng = np.random.default_rng(5)
    n = 20_000
    years = np.maximum(rng.uniform(0.5, 4, n), 1.0)
    years[: n // 20] = 1.0
    years[n // 20 : n // 10] = 2.0
    margins = _margins(rng, n, years)
    got = annual_margins(pa.array(margins, type=pa.decimal128(38, 4)), years)
    want = [
        float(_q((m or Decimal(0)) / Decimal(repr(float(y))))) for m, y in zip(margins, years, strict=True)
    ]
    assert got.tolist() == want
    assert np.array_equal(np.signbit(got), np.signbit(np.array(want)))  # -0.00 stays negative


def test_customer_worth_equals_per_customer_decimals() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    first = pd.Timestamp("2020-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 900, n), unit="D")
    last = first + pd.to_timedelta(rng.integers(0, 2000, n), unit="D")
    days = rng.integers(0, 12, n)
    years = years_as_customer(days, first, last)
    margins = _margins(rng, n, years)
    ids = [f"C{i}" for i in range(n)]
    model_value = {c: Decimal(int(v)).scaleb(-2) for c, v in zip(ids, rng.integers(0, 10**6, n), strict=True)}
    model_value = {c: v for i, (c, v) in enumerate(model_value.items()) if i % 3}
    hist = pd.DataFrame(
        {
            "customer_id": ids,
            "margin": pd.Series(margins, dtype=object),
            "purchase_days": days,
            "first_day": first,
            "last_day": last,
        }
    )
    got = customer_worth(hist, model_value=model_value)
    exact = [m if m is not None else Decimal(0) for m in margins]
    per_year = [m / Decimal(repr(y)) for m, y in zip(exact, years.tolist(), strict=True)]
    _same(list(got["margin"]), [_q(m) for m in exact])
    _same(list(got["annual_margin"]), [_q(p) for p in per_year])
    _same(list(got["monthly_margin"]), [_q(p / 12) for p in per_year])
    _same(list(got["discounted_value"]), [model_value.get(c) for c in ids])
    _same(
        list(got["simple_value"]),
        [None if c not in model_value else _q(p * 20) for c, p in zip(ids, per_year, strict=True)],
    )
