"""Money as people read it: exact decimals rounded once, half up, to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")


def cents(amount: Any) -> str:
    """An amount as JSON and ledgers show it: two decimals, half up, no separators (None is "0.00")."""
    value = Decimal(0) if amount is None else Decimal(str(amount))
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def shown(amount: Any, currency: str) -> str:
    """An amount for a sentence: ``$56,410.87`` in dollars, ``56,410.87 EUR`` otherwise."""
    value = Decimal(str(amount)).quantize(CENT, rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    text = f"{abs(value):,.2f}"
    return f"{sign}${text}" if currency == "USD" else f"{sign}{text} {currency}"
