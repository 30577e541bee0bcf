"""keepwise's one JSON encoding: decimals and timestamps as strings, NumPy scalars as numbers.

The CLI's ``--json`` output, the web API and the documents stored by the stages all use :func:`dumps`, so
a figure reads the same everywhere.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

__all__ = ["default", "dumps", "jsonable"]


def default(value: Any) -> Any:
    """How a value JSON does not know is written: Decimal as its string, dates ISO 8601, NumPy as Python."""
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    return str(value)


def dumps(document: Any, *, indent: int | None = 2) -> str:
    """``document`` as JSON text (UTF-8 characters kept, ``indent`` spaces; ``None`` for one line)."""
    return json.dumps(document, indent=indent, default=default, ensure_ascii=False)


def jsonable(value: Any) -> Any:
    """``value`` with every leaf JSON knows, as :func:`dumps` would write it (a round trip through JSON)."""
    return json.loads(dumps(value, indent=None))
