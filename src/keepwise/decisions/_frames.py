"""Typed columns for the frames the decisions stage writes through the Store (money kept exact).

Money is ``DECIMAL(18, 4)`` in the store. A pandas column of Arrow decimals makes a new table's column
``DECIMAL(18, 4)`` and carries empty values as NULL; Ibis's PySpark backend cannot take such a column with
empty values (it maps ``Decimal`` over them), so on Spark money goes as floats rounded to 4 decimals, which
the Store casts to the table's decimal type (NaN becomes NULL).
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
import pyarrow as pa

from keepwise.store import Store

#: The store's money type as a pandas dtype.
MONEY = pd.ArrowDtype(pa.decimal128(18, 4))
_SCALE = Decimal("0.0001")


def money(values: Sequence[Any], store: Store | None = None) -> pd.Series:
    """Amounts (``Decimal``, numbers, text or ``None``) as a money column for ``store``'s engine."""
    exact = [None if v is None else Decimal(str(v)).quantize(_SCALE, ROUND_HALF_UP) for v in values]
    if store is not None and store.is_spark:
        return pd.Series([float("nan") if v is None else float(v) for v in exact], dtype="float64")
    return pd.Series(exact, dtype=MONEY)


def text(values: Sequence[Any]) -> pd.Series:
    """Text (or ``None``) as a string column."""
    return pd.Series(list(values), dtype="string")


def stamps(values: Sequence[Any]) -> pd.Series:
    """Moments (datetimes, ISO text or ``None``) as a UTC timestamp column."""
    return pd.to_datetime(pd.Series(list(values), dtype=object), utc=True)
