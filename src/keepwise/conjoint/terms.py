"""The business side of a study's offers: each level's words and cost, the price's period, the lost offer.

A study file may say, per level, how to word it to a customer and what it costs the business, and which
offer a lost customer left (what a win-back offer is compared with)::

Attributes:
      - name: free_months
        levels:
          - {level: "0", label: "no free months", label_pl: "bez darmowych miesięcy"}
          - {level: "3", label: "3 months free", label_pl: "3 miesiące gratis", cost: {one_off: 87}}
      - name: support
        levels:
          - Email                       # a plain level: no words of its own, no cost
          - {level: Dedicated manager, label: "a dedicated account manager", cost: {per_month: 49}}
    price:
      name: price
      levels: [19, 29, 39, 49]
      per: month                        # the price is paid monthly (default: once)
      label: "{amount} a month"         # {amount} is the price in money
      label_pl: "{amount} miesięcznie"
    lost_offer: {plan: Standard, free_months: "0", support: Email, contract: Monthly, price: 49}

Words: ``label`` is English, ``label_<language>`` any other language (``label_pl``: Polish; flat keys beside
``level`` rather than a nested ``labels:`` mapping, so a level reads on one line); ``""`` says nothing of
the level (``0`` free months); a language without its label falls back to English, and a level without
any label to a readable ``free months: 3``
(the attribute's name with spaces, the level as written), never a raw ``free_months 3.0``.

Costs: ``cost: {one_off: X, per_month: Y}`` is what the level costs the business *beyond the offer the
customer left* (write nothing for what they already had), paid only by a customer who comes back: a one-off
amount, plus an amount each month for the ``[decisions] winback_months`` the win-back is valued over. The
price cut is a cost line too: the lost offer's price less the offer's price (never below zero), a month
when ``per: month``, once otherwise. An offer's cost is the sum of its lines, shown line by line
(:meth:`OfferTerms.cost_lines`).

The lost offer (``lost_offer``, default: the first level of every attribute at the highest price) is the
offer a win-back chance is measured against: the base chance of winning a customer back (by exit reason)
is the chance under what they had, and an offer scales it by its acceptance relative to that offer's
(:func:`keepwise.decisions.winback.menu`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, Literal

from keepwise.exceptions import KeepwiseInputError
from keepwise.money import shown

__all__ = [
    "CostLine",
    "LevelTerms",
    "OfferTerms",
    "number_text",
    "parse_level",
    "polish_money",
]

_CENT = Decimal("0.01")
PricePer = Literal["once", "month"]


def number_text(value: Any) -> str:
    """A number as written: ``49`` for ``49.0``, ``19.99`` for ``19.99`` (no exponent, no trailing zeros)."""
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


def polish_money(amount: Decimal, currency: str) -> str:
    """An amount as Polish is written: ``1 234,50 zł`` (PLN) or ``29,00 USD``."""
    text = f"{abs(amount):,.2f}".replace(",", " ").replace(".", ",")
    sign = "-" if amount < 0 else ""
    return f"{sign}{text} {'zł' if currency == 'PLN' else currency}"


def _money(amount: Decimal, currency: str, language: str) -> str:
    return polish_money(amount, currency) if language == "pl" else shown(amount, currency)


@dataclass(frozen=True)
class LevelTerms:
    """One level's words by language and its cost to the business (beyond what the customer left)."""

    labels: Mapping[str, str] = field(default_factory=dict)
    one_off: Decimal = Decimal(0)
    per_month: Decimal = Decimal(0)

    def to_json(self) -> dict[str, Any]:
        """Plain data (money as strings)."""
        return {"labels": dict(self.labels), "one_off": str(self.one_off), "per_month": str(self.per_month)}


@dataclass(frozen=True)
class CostLine:
    """One line of an offer's cost: what it is, once and a month."""

    what: str
    one_off: Decimal
    per_month: Decimal

    def total(self, months: int) -> Decimal:
        """``one_off + per_month x months``."""
        return (self.one_off + self.per_month * months).quantize(_CENT, ROUND_HALF_UP)

    def text(self, currency: str, months: int) -> str:
        """``3 months free: $87.00 once`` / ``a dedicated manager: $49.00 a month x 12 = $588.00``."""
        parts = []
        if self.one_off:
            parts.append(f"{shown(self.one_off, currency)} once")
        if self.per_month:
            parts.append(
                f"{shown(self.per_month, currency)} a month x {months} = "
                f"{shown(self.per_month * months, currency)}"
            )
        return f"{self.what}: {' + '.join(parts) if parts else shown(0, currency)}"


def _amount(value: Any, where: str) -> Decimal:
    if isinstance(value, bool):
        raise KeepwiseInputError(f"{where}: expected an amount, got {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise KeepwiseInputError(f"{where}: expected an amount, got {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise KeepwiseInputError(f"{where}: a cost must be a number of zero or more, got {value!r}")
    return amount


def _labels(item: Mapping[str, Any], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in item.items():
        if key == "label" or key.startswith("label_"):
            if not isinstance(value, str):
                raise KeepwiseInputError(
                    f"{where}: '{key}' must be words (or \"\": say nothing), got {value!r}"
                )
            out["en" if key == "label" else key.removeprefix("label_")] = value.strip()
    return out


def parse_level(item: Any, where: str) -> tuple[str, LevelTerms | None]:
    """A level as written in the study (``Basic``, ``"3"``, or ``{level:, label:, label_pl:, cost:}``)."""
    if not isinstance(item, Mapping):
        if item is None or isinstance(item, list):
            raise KeepwiseInputError(f"{where}: a level is a value or {{level, label, cost}}, got {item!r}")
        return (number_text(item) if isinstance(item, float) else str(item)), None
    unknown = set(item) - {"level", "label", "cost"} - {k for k in item if str(k).startswith("label_")}
    if unknown:
        raise KeepwiseInputError(f"{where}: unknown key(s) {sorted(map(str, unknown))}")
    if "level" not in item or item["level"] is None:
        raise KeepwiseInputError(f"{where}: a level written as a mapping needs 'level'")
    value = item["level"]
    text = number_text(value) if isinstance(value, float) else str(value)
    cost = item.get("cost") or {}
    if not isinstance(cost, Mapping) or set(cost) - {"one_off", "per_month"}:
        raise KeepwiseInputError(f"{where}: 'cost' is {{one_off: X, per_month: Y}}, got {cost!r}")
    terms = LevelTerms(
        _labels(item, where),
        _amount(cost.get("one_off", 0), f"{where}: cost.one_off"),
        _amount(cost.get("per_month", 0), f"{where}: cost.per_month"),
    )
    return text, terms


@dataclass(frozen=True)
class OfferTerms:
    """Words and costs of a study's offers (see the module docstring).

    Attributes
    ----------
    attributes:
        The attribute names in the study's order (the price among them when there is one).
    levels:
        ``{attribute: {level as written: LevelTerms}}`` for the levels that have words or a cost.
    price:
        The price attribute, or ``None``.
    price_per:
        ``month`` when the price is paid monthly, else ``once``.
    price_labels:
        ``{language: "{amount} a month"}``: how to word the price.
    lost_offer:
        ``{attribute: level as written}``: the offer a lost customer left (``None``: the default).
    """

    attributes: tuple[str, ...]
    levels: Mapping[str, Mapping[str, LevelTerms]] = field(default_factory=dict)
    price: str | None = None
    price_per: PricePer = "once"
    price_labels: Mapping[str, str] = field(default_factory=dict)
    lost_offer: Mapping[str, str] | None = None

    @property
    def has_costs(self) -> bool:
        """Whether any level carries a cost."""
        return any(t.one_off or t.per_month for by in self.levels.values() for t in by.values())

    @property
    def has_labels(self) -> bool:
        """Whether any level (or the price) has words of its own."""
        return bool(self.price_labels) or any(t.labels for by in self.levels.values() for t in by.values())

    def term(self, attribute: str, level: Any) -> LevelTerms | None:
        """The terms of one level (``None``: it has neither words nor a cost)."""
        return self.levels.get(attribute, {}).get(_text(level))

    def cost_lines(
        self, offer: Mapping[str, Any], lost_price: float | None = None, currency: str = ""
    ) -> list[CostLine]:
        """The offer's cost, line by line: each level with a cost, then the price cut from ``lost_price``."""
        lines = []
        for name in self.attributes:
            if name == self.price or name not in offer:
                continue
            term = self.term(name, offer[name])
            if term is not None and (term.one_off or term.per_month):
                lines.append(
                    CostLine(self.level_words(name, offer[name], "en"), term.one_off, term.per_month)
                )
        if self.price is not None and self.price in offer and lost_price is not None:
            cut = max(Decimal(number_text(lost_price)) - Decimal(number_text(offer[self.price])), Decimal(0))
            if cut:
                was, now = Decimal(number_text(lost_price)), Decimal(number_text(offer[self.price]))
                if currency:
                    what = f"price cut from {shown(was, currency)} to {shown(now, currency)}"
                else:
                    what = f"price cut from {number_text(was)} to {number_text(now)}"
                if self.price_per == "month":
                    lines.append(CostLine(what, Decimal(0), cut))
                else:
                    lines.append(CostLine(what, cut, Decimal(0)))
        return lines

    def level_words(self, attribute: str, level: Any, language: str = "en", currency: str = "") -> str:
        """One level in words: its label in ``language`` (else English), else ``free months: 3``."""
        if attribute == self.price:
            amount = Decimal(number_text(level))
            money = _money(amount, currency, language) if currency else number_text(level)
            label = self.price_labels.get(language) or self.price_labels.get("en")
            if label:
                return label.replace("{amount}", money)
            return f"za {money}" if language == "pl" else f"at {money}"
        term = self.term(attribute, level)
        if term is not None and term.labels:
            return term.labels[language] if language in term.labels else term.labels.get("en", "")
        return f"{attribute.replace('_', ' ')}: {_text(level)}"

    def words(self, offer: Mapping[str, Any], language: str = "en", currency: str = "") -> str:
        """The whole offer in words, levels in the study's order: ``Premium plan, 3 months free, ...``."""
        parts = [self.level_words(n, offer[n], language, currency) for n in self.attributes if n in offer]
        return ", ".join(p for p in parts if p)

    def to_json(self) -> dict[str, Any]:
        """Plain data, as stored with a saved study."""
        return {
            "attributes": list(self.attributes),
            "levels": {a: {lv: t.to_json() for lv, t in by.items()} for a, by in self.levels.items()},
            "price": self.price,
            "price_per": self.price_per,
            "price_labels": dict(self.price_labels),
            "lost_offer": None if self.lost_offer is None else dict(self.lost_offer),
        }

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> OfferTerms:
        """The terms :meth:`to_json` wrote."""
        levels = {
            a: {
                lv: LevelTerms(dict(t["labels"]), Decimal(t["one_off"]), Decimal(t["per_month"]))
                for lv, t in by.items()
            }
            for a, by in doc.get("levels", {}).items()
        }
        lost = doc.get("lost_offer")
        return cls(
            tuple(doc["attributes"]),
            levels,
            doc.get("price"),
            doc.get("price_per", "once"),
            dict(doc.get("price_labels", {})),
            None if lost is None else dict(lost),
        )

    @classmethod
    def plain(cls, attributes: Sequence[str], price: str | None) -> OfferTerms:
        """Terms of a study that says nothing: readable words, the price cut (once) the only cost."""
        return cls(tuple(attributes), {}, price)


def _text(level: Any) -> str:
    """A level as the study writes it: ``1`` for ``1``, ``1.0`` and ``"1.0"``."""
    if isinstance(level, float | int) and not isinstance(level, bool):
        return number_text(level)
    text = str(level)
    whole = _WHOLE.match(text.strip())
    return whole.group(1) if whole else text


_WHOLE = re.compile(r"^(-?[0-9]+)\.0+$")
