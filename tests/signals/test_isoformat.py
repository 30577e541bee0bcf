"""The ledger's column-at-once ``isoformat`` against pandas' own ``Timestamp.isoformat``, value by value."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from keepwise.signals.ledger import isoformat


@pytest.mark.parametrize("unit", ["ns", "us", "ms", "s"])
def test_isoformat_writes_what_pandas_writes(unit):
    rng = np.random.default_rng(7)
    n = 5000
    seconds = rng.integers(0, 4_000_000_000, n) * 1_000_000_000
    fraction = np.select(
        [rng.random(n) < 0.3, rng.random(n) < 0.5],
        [0, rng.integers(0, 1_000_000, n) * 1000],
        rng.integers(0, 10**9, n),
    )
    s = pd.Series(pd.to_datetime(seconds + fraction, utc=True)).astype(f"datetime64[{unit}, UTC]")
    assert isoformat(s) == [v.isoformat() for v in s]


def test_other_zones_and_missing_times_are_written_value_by_value():
    london = pd.Series(pd.to_datetime(["2025-06-01T12:00:00"]).tz_localize("Europe/London"))
    assert isoformat(london) == ["2025-06-01T12:00:00+01:00"]
    assert isoformat(pd.Series(pd.to_datetime(["1969-12-31T23:59:59.5Z", None], utc=True))) == [
        "1969-12-31T23:59:59.500000+00:00",
        "NaT",
    ]
