"""Money as people read it: exact decimals rounded once, half up, to the currency's minor unit.

:func:`shown` writes an amount the way a reader of that currency expects: ``$56,410.87``, ``NT$56,410.87``,
``€56,410.87``, ``£56,410.87``, ``¥56,411``, ``56,410.87 zł``, and ``56,410.87 CHF`` for a currency without a
symbol of its own here. Every money text keepwise writes (sentences, tables, charts) goes through it, so a
report of a store in New Taiwan dollars never shows a bare ``$``.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["CENT", "SUFFIX", "SYMBOL", "ZERO_DECIMAL", "cents", "shown", "symbol"]

CENT = Decimal("0.01")

#: Symbols written before the amount. A dollar other than the US one carries its country (``NT$``, ``A$``) so
#: that ``$`` alone always means US dollars.
SYMBOL: dict[str, str] = {
    "USD": "$",
    "EUR": "€",
    "GBP": "£",
    "JPY": "¥",
    "CNY": "CN¥",
    "TWD": "NT$",
    "HKD": "HK$",
    "SGD": "S$",
    "AUD": "A$",
    "NZD": "NZ$",
    "CAD": "CA$",
    "MXN": "MX$",
    "BRL": "R$",
    "INR": "₹",
    "KRW": "₩",
    "ILS": "₪",
    "PHP": "₱",
    "THB": "฿",
    "VND": "₫",
    "NGN": "₦",
    "UAH": "₴",
    "TRY": "₺",
}
#: Symbols written after the amount, as their readers write them.
SUFFIX: dict[str, str] = {"PLN": "zł", "CZK": "Kč"}
#: Currencies without a minor unit in use (ISO 4217 minor unit 0): amounts are shown whole.
ZERO_DECIMAL: frozenset[str] = frozenset({"JPY", "KRW", "VND", "CLP", "ISK", "PYG", "UGX", "XAF", "XOF"})


def cents(amount: Any) -> str:
    """An amount as JSON and ledgers show it: two decimals, half up, no separators (None is "0.00")."""
    value = Decimal(0) if amount is None else Decimal(str(amount))
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


def symbol(currency: str) -> str:
    """The symbol of ``currency`` (``NT$``, ``€``, ``zł``), or the code itself when it has none here."""
    return SYMBOL.get(currency) or SUFFIX.get(currency) or currency


def shown(amount: Any, currency: str, *, whole: bool = False) -> str:
    """An amount for a sentence in ``currency``: ``$56,410.87``, ``NT$56,410.87``, ``56,410.87 zł``.

    Parameters
    ----------
    amount:
        The amount (Decimal, int, float or a numeric string).
    currency:
        Its ISO 4217 code.
    whole:
        Round to whole units (charts and headline figures: ``NT$38,200``).
    """
    unit = Decimal(1) if whole or currency in ZERO_DECIMAL else CENT
    value = Decimal(str(amount)).quantize(unit, rounding=ROUND_HALF_UP)
    sign = "-" if value < 0 else ""
    text = f"{abs(value):,.0f}" if unit == 1 else f"{abs(value):,.2f}"
    if currency in SYMBOL:
        return f"{sign}{SYMBOL[currency]}{text}"
    if currency in SUFFIX:
        return f"{sign}{text} {SUFFIX[currency]}"
    return f"{sign}{text} {currency}"
