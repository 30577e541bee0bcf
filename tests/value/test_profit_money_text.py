"""Money text in the reporting currency: its symbol, its minor unit, exact half-up rounding (issue 15)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from keepwise.charts import money_text
from keepwise.money import shown


@pytest.mark.parametrize(
    ("currency", "expected"),
    [
        ("USD", "$56,410.87"),
        ("TWD", "NT$56,410.87"),
        ("EUR", "€56,410.87"),
        ("GBP", "£56,410.87"),
        ("PLN", "56,410.87 zł"),
        ("JPY", "¥56,411"),  # no minor unit
        ("CHF", "56,410.87 CHF"),  # no symbol of its own here: the code
    ],
)
def test_shown_writes_each_currency_as_its_readers_do(currency, expected):
    assert shown(Decimal("56410.865"), currency) == expected


def test_negative_amounts_put_the_sign_first():
    assert shown(Decimal("-29824.40"), "TWD") == "-NT$29,824.40"
    assert shown(Decimal("-5"), "PLN") == "-5.00 zł"


def test_money_text_rounds_the_exact_amount_half_up_never_through_a_float():
    # 0.125 and 2.675 are not exact in binary: float formatting gives 0.12 and 2.67
    assert money_text(Decimal("0.125")) == "$0.13"
    assert money_text(Decimal("2.675"), "EUR") == "€2.68"
    assert money_text(Decimal("38199.5"), "TWD") == "NT$38,200"
    assert money_text("99.994", "GBP") == "£99.99"
    assert money_text(1234, "PLN") == "1,234 zł"
