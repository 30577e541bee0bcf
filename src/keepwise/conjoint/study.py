"""A conjoint study: attributes and their levels, the price, a "none of these" option and prohibitions.

A study is written by hand as a small YAML file (see ``examples/conjoint/winback_study.yaml``)::

    name: Win-back offer
    alternatives_per_task: 3
    none_option: true
    none_label: I would not come back
    attributes:
      - name: plan
        levels: [Basic, Standard, Premium]
      - name: support
        levels: [Email, Phone, Dedicated manager]
    price:
      name: price
      levels: [19, 29, 39, 49]
      currency: USD
    prohibitions:
      - {plan: Basic, support: Dedicated manager}

Every attribute is categorical except the price, which is numeric and enters utility linearly (so that
willingness to pay is one ratio of coefficients). A prohibition is a partial profile: any offer that matches
all of its ``attribute: level`` pairs is never shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from keepwise.conjoint.terms import LevelTerms, OfferTerms, number_text, parse_level
from keepwise.exceptions import KeepwiseInputError

__all__ = ["Attribute", "Study", "level_text", "load_study", "lost_offer"]


@dataclass(frozen=True)
class Attribute:
    """One attribute of an offer.

    Parameters
    ----------
    name:
        Column name of the attribute in designs and answer files.
    levels:
        Level labels (categorical) or values (numeric, e.g. the price), in the study's order.
    numeric:
        True for the price (coded linearly), False for a categorical attribute (effects-coded).
    """

    name: str
    levels: tuple[Any, ...]
    numeric: bool = False

    @property
    def n_levels(self) -> int:
        """Number of levels."""
        return len(self.levels)


@dataclass(frozen=True)
class Study:
    """A choice-based conjoint study.

    Attributes
    ----------
    name:
        Title shown on the questionnaire.
    attributes:
        Every attribute, the price last when there is one.
    price:
        Name of the price attribute or ``None``.
    alternatives_per_task:
        Offers shown in each task (not counting the "none" option).
    none_option, none_label:
        Whether each task also offers "none of these", and its wording.
    prohibitions:
        Partial profiles never shown, each as ``{attribute index: level index}``.
    currency:
        Currency of the price (ISO 4217), for display.
    terms:
        Words and costs of the levels, the price's period and the lost offer
        (:class:`~keepwise.conjoint.terms.OfferTerms`); ``None`` for a study built without a file.
    """

    name: str
    attributes: tuple[Attribute, ...]
    price: str | None = None
    alternatives_per_task: int = 3
    none_option: bool = True
    none_label: str = "None of these"
    prohibitions: tuple[dict[int, int], ...] = field(default_factory=tuple)
    currency: str = "USD"
    terms: OfferTerms | None = None

    @property
    def names(self) -> list[str]:
        """Attribute names, in order."""
        return [a.name for a in self.attributes]

    @property
    def n_levels(self) -> np.ndarray:
        """Number of levels of each attribute."""
        return np.array([a.n_levels for a in self.attributes])

    def attribute(self, name: str) -> Attribute:
        """The attribute called ``name``."""
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeepwiseInputError(f"study '{self.name}' has no attribute '{name}' (it has {self.names})")

    def prohibited(self, profiles: np.ndarray) -> np.ndarray:
        """Boolean mask: which profiles (rows of level indices, last axis = attributes) are prohibited."""
        profiles = np.asarray(profiles)
        bad = np.zeros(profiles.shape[:-1], dtype=bool)
        for rule in self.prohibitions:
            match = np.ones(profiles.shape[:-1], dtype=bool)
            for a, level in rule.items():
                match &= profiles[..., a] == level
            bad |= match
        return bad

    def profile_labels(self, profile: Sequence[int]) -> dict[str, Any]:
        """``{attribute: level label}`` of one profile given as level indices."""
        return {a.name: a.levels[int(i)] for a, i in zip(self.attributes, profile, strict=True)}

    def level_index(self, offer: Mapping[str, Any], source: str = "offer") -> list[int]:
        """Level indices of an offer given as ``{attribute: level label}`` (every attribute required)."""
        out = []
        for a in self.attributes:
            if a.name not in offer:
                raise KeepwiseInputError(f"{source}: attribute '{a.name}' is missing")
            out.append(_find_level(a, offer[a.name], source))
        return out


#: A whole number written with a decimal part of zeros (``1.0``), as a spreadsheet or pandas writes a
#: numeric level read back from a column that also holds blanks.
_WHOLE = re.compile(r"^(-?[0-9]+)\.0+$")


def level_text(value: Any) -> str:
    """A categorical level as text, as the study writes it: ``1`` for ``1``, ``1.0`` and ``"1.0"``."""
    text = f"{value:g}" if isinstance(value, float) and np.isfinite(value) else str(value)
    whole = _WHOLE.match(text.strip())
    return whole.group(1) if whole else text


def _find_level(a: Attribute, value: Any, source: str) -> int:
    for i, level in enumerate(a.levels):
        numeric = a.numeric and _is_number(value) and float(value) == float(level)
        if numeric or str(level) == str(value) or level_text(level) == level_text(value):
            return i
    raise KeepwiseInputError(f"{source}: '{value}' is not a level of '{a.name}' (levels: {list(a.levels)})")


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def load_study(path: str | Path) -> Study:
    """Read and validate a study YAML file; mistakes raise a one-line error naming the file and the key."""
    path = Path(path)
    if not path.exists():
        raise KeepwiseInputError(f"{path}: no such study file")
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        raise KeepwiseInputError(f"{path}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    return study_from_dict(doc, source=str(path))


def study_from_dict(doc: Any, source: str = "<study>") -> Study:
    """Build a :class:`Study` from the parsed YAML document (see the module docstring for the shape)."""
    if not isinstance(doc, dict):
        raise KeepwiseInputError(f"{source}: a study is a mapping with 'attributes' (and usually 'price')")
    unknown = set(doc) - {
        "name",
        "attributes",
        "price",
        "alternatives_per_task",
        "none_option",
        "none_label",
        "prohibitions",
        "lost_offer",
    }
    if unknown:
        raise KeepwiseInputError(f"{source}: unknown key(s) {sorted(unknown)}")
    raw = doc.get("attributes")
    if not isinstance(raw, list) or not raw:
        raise KeepwiseInputError(f"{source}: 'attributes' must be a non-empty list of {{name, levels}}")
    attributes: list[Attribute] = []
    level_terms: dict[str, dict[str, LevelTerms]] = {}
    for i, item in enumerate(raw):
        where = f"{source}: attributes[{i}]"
        if not isinstance(item, dict) or "name" not in item or "levels" not in item:
            raise KeepwiseInputError(f"{where} needs 'name' and 'levels'")
        levels = item["levels"]
        if not isinstance(levels, list) or len(levels) < 2:
            raise KeepwiseInputError(f"{where} ('{item['name']}') needs at least two levels")
        parsed = [parse_level(v, f"{where}.levels[{j}]") for j, v in enumerate(levels)]
        labels = tuple(text for text, _ in parsed)
        if len(set(labels)) != len(labels):
            raise KeepwiseInputError(f"{where} ('{item['name']}') repeats a level")
        attributes.append(Attribute(str(item["name"]), labels))
        level_terms[str(item["name"])] = {text: t for text, t in parsed if t is not None}
    price_name: str | None = None
    currency = "USD"
    price_per = "once"
    price_labels: dict[str, str] = {}
    if doc.get("price") is not None:
        price = doc["price"]
        if not isinstance(price, dict) or not isinstance(price.get("levels"), list):
            raise KeepwiseInputError(f"{source}: 'price' needs 'levels' (a list of amounts)")
        unknown_price = set(price) - {"name", "levels", "currency", "per", "label"}
        unknown_price -= {k for k in price if str(k).startswith("label_")}
        if unknown_price:
            raise KeepwiseInputError(f"{source}: price: unknown key(s) {sorted(map(str, unknown_price))}")
        values = price["levels"]
        if len(values) < 2 or not all(_is_number(v) and not isinstance(v, bool) for v in values):
            raise KeepwiseInputError(f"{source}: price levels must be at least two numbers, got {values}")
        if len(set(map(float, values))) != len(values):
            raise KeepwiseInputError(f"{source}: price repeats a level")
        price_name = str(price.get("name", "price"))
        currency = str(price.get("currency", "USD"))
        price_per = str(price.get("per", "once"))
        if price_per not in ("once", "month"):
            raise KeepwiseInputError(f"{source}: price: 'per' is 'month' or 'once', got {price_per!r}")
        for key, value in price.items():
            if key == "label" or str(key).startswith("label_"):
                if not isinstance(value, str) or "{amount}" not in value:
                    raise KeepwiseInputError(
                        f"{source}: price: '{key}' must be words with {{amount}} in them, got {value!r}"
                    )
                price_labels["en" if key == "label" else str(key).removeprefix("label_")] = value
        attributes.append(Attribute(price_name, tuple(float(v) for v in values), numeric=True))
    names = [a.name for a in attributes]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise KeepwiseInputError(f"{source}: attribute name(s) {duplicated} used twice")
    n_alt = doc.get("alternatives_per_task", 3)
    if not isinstance(n_alt, int) or isinstance(n_alt, bool) or n_alt < 2:
        raise KeepwiseInputError(f"{source}: alternatives_per_task must be an integer >= 2, got {n_alt!r}")
    prohibitions: list[dict[int, int]] = []
    for i, rule in enumerate(doc.get("prohibitions") or []):
        where = f"{source}: prohibitions[{i}]"
        if not isinstance(rule, dict) or len(rule) < 2:
            raise KeepwiseInputError(f"{where} must map at least two attributes to a level each")
        coded: dict[int, int] = {}
        for key, value in rule.items():
            if key not in names:
                raise KeepwiseInputError(f"{where}: unknown attribute '{key}' (attributes: {names})")
            a = names.index(key)
            coded[a] = _find_level(attributes[a], value, where)
        prohibitions.append(coded)
    study = Study(
        name=str(doc.get("name", "Conjoint study")),
        attributes=tuple(attributes),
        price=price_name,
        alternatives_per_task=n_alt,
        none_option=bool(doc.get("none_option", True)),
        none_label=str(doc.get("none_label", "None of these")),
        prohibitions=tuple(prohibitions),
        currency=currency,
    )
    terms = OfferTerms(
        tuple(names),
        {k: v for k, v in level_terms.items() if v},
        price_name,
        "month" if price_per == "month" else "once",
        price_labels,
        _lost_offer(study, doc.get("lost_offer"), source),
    )
    study = replace(study, terms=terms)
    _check_every_level_allowed(study, source)
    return study


def _lost_offer(study: Study, raw: Any, source: str) -> dict[str, str] | None:
    """The study's ``lost_offer``, every attribute a level of the study, levels as written."""
    if raw is None:
        return None
    where = f"{source}: lost_offer"
    if not isinstance(raw, dict):
        raise KeepwiseInputError(f"{where} maps every attribute to a level, got {raw!r}")
    unknown = sorted(set(map(str, raw)) - set(study.names))
    if unknown:
        raise KeepwiseInputError(f"{where}: unknown attribute(s) {unknown} (attributes: {study.names})")
    index = study.level_index(raw, where)
    return {
        a.name: number_text(a.levels[i]) if a.numeric else str(a.levels[i])
        for a, i in zip(study.attributes, index, strict=True)
    }


def lost_offer(study: Study) -> dict[str, Any]:
    """The offer a lost customer left: the study's ``lost_offer``, else every first level at the top price."""
    if study.terms is not None and study.terms.lost_offer is not None:
        return dict(study.terms.lost_offer)
    return {a.name: (max(a.levels) if a.numeric else a.levels[0]) for a in study.attributes}


def _check_every_level_allowed(study: Study, source: str) -> None:
    """Every level must appear in at least one allowed profile, or no design can be balanced."""
    if not study.prohibitions or int(np.prod(study.n_levels)) > 2_000_000:
        return
    grids = np.stack(np.meshgrid(*[np.arange(n) for n in study.n_levels], indexing="ij"), axis=-1).reshape(
        -1, len(study.attributes)
    )
    allowed = grids[~study.prohibited(grids)]
    for a, attribute in enumerate(study.attributes):
        missing = sorted(set(range(attribute.n_levels)) - set(allowed[:, a].tolist()))
        if missing:
            labels = [attribute.levels[i] for i in missing]
            raise KeepwiseInputError(
                f"{source}: the prohibitions exclude every offer with {attribute.name} = {labels}"
            )
