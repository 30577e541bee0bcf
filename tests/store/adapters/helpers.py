"""Shared by the importer tests: the fixture folder and plain views of what the store holds."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

FIXTURES = Path(__file__).parents[2] / "fixtures" / "imports"


def rows(store, table: str, columns: list[str]) -> list[tuple]:
    """The table's rows (only ``columns``), as text, sorted."""
    frame = store.read(table, columns=columns)
    out = []
    for r in frame.itertuples(index=False):
        out.append(tuple(_text(v) for v in r))
    return sorted(out, key=repr)


def _text(v):
    import pandas as pd

    if v is None or v is pd.NaT or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, Decimal):
        text = f"{v:f}"
        return text.rstrip("0").rstrip(".") if "." in text else text
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return str(v)


def total(store, table: str, expr: str) -> Decimal:
    """A sum over the table: ``expr`` is ``quantity*unit_price``, ``minutes`` or ``amount``."""
    frame = store.read(table)
    if frame.empty:
        return Decimal(0)
    if expr == "quantity*unit_price":
        values = [
            Decimal(str(q)) * Decimal(str(p))
            for q, p in zip(frame["quantity"], frame["unit_price"], strict=True)
        ]
    else:
        values = [Decimal(str(v)) for v in frame[expr]]
    return sum(values, Decimal(0)).quantize(Decimal("0.01"))
