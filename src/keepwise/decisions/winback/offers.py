"""The win-back offer: from the latest stored conjoint study when there is one, else ``[decisions] offers``.

See :mod:`keepwise.decisions.winback` for the whole rule; this module holds step 5 (the offer).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keepwise.config import DecisionAssumptions
from keepwise.exceptions import KeepwiseInputError
from keepwise.money import cents

if TYPE_CHECKING:
    from keepwise.conjoint.study import Study

__all__ = ["Offer", "map_offer"]

_CENT = Decimal("0.01")


@dataclass(frozen=True)
class Offer:
    """What to offer: its words, its cost, where it came from, and the grant the messages word."""

    text: str
    cost: Decimal
    source: str
    grant: dict[str, Any]
    take_up: float | None = None
    notes: tuple[str, ...] = ()
    levels: dict[str, Any] | None = None
    #: a study's offer: its cost line by line (:class:`keepwise.conjoint.terms.CostLine`)
    lines: tuple[Any, ...] = ()
    #: a study's offer: its acceptance relative to the offer the customer left, ``A(o) / A(lost)``
    ratio: float | None = None
    #: a study's offer: its words by language (``en``, ``pl``)
    words: dict[str, str] | None = None

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        doc: dict[str, Any] = {"text": self.text, "cost": cents(self.cost), "source": self.source}
        if self.take_up is not None:
            doc["take_up"] = round(self.take_up, 4)
        if self.ratio is not None:
            doc["acceptance_ratio"] = round(self.ratio, 4)
        if self.levels is not None:
            doc["levels"] = {k: _level_text(v) for k, v in self.levels.items()}
        if self.words is not None:
            doc["words"] = dict(self.words)
        if self.lines:
            doc["cost_lines"] = [
                {"what": line.what, "one_off": cents(line.one_off), "per_month": cents(line.per_month)}
                for line in self.lines
            ]
        return doc


def map_offer(reason: str, cfg: DecisionAssumptions) -> Offer:
    """The configured offer for ``reason`` (``unknown`` when the reason has none)."""
    key = reason if reason in cfg.offers else "unknown"
    text = cfg.offers.get(key) or "a friendly check-in call"
    cost = Decimal(str(cfg.offer_costs.get(key, cfg.offer_costs.get("unknown", Decimal(0)))))
    source = f"[decisions] offers.{key} (no conjoint study in the store)"
    return Offer(text, cost, source, {"kind": "other", "note": text})


def _stored_study(result: Any) -> Study | None:
    """The stored study's design rebuilt from its coding and stored prohibitions (``None``: none stored)."""
    from keepwise.conjoint.study import Attribute, Study

    if result.prohibitions is None:
        return None
    coding = result.coding
    attributes = tuple(
        Attribute(a.name, tuple(a.values), numeric=True) if a.numeric else Attribute(a.name, tuple(a.levels))
        for a in coding.attributes
        if a.name != coding.none
    )
    names = [a.name for a in attributes]
    where = f"conjoint study '{result.study or 'latest'}'"
    rules: list[dict[int, int]] = []
    for i, rule in enumerate(result.prohibitions):
        coded: dict[int, int] = {}
        for name, level in rule.items():
            if name not in names:
                raise KeepwiseInputError(
                    f"{where}: stored prohibitions[{i}] names an unknown attribute {name}"
                )
            attr = attributes[names.index(name)]
            levels = [str(v) for v in attr.levels] if not attr.numeric else list(attr.levels)
            value = float(level) if attr.numeric else str(level)
            if value not in levels:
                raise KeepwiseInputError(
                    f"{where}: stored prohibitions[{i}]: '{level}' is not a level of {name}"
                )
            coded[names.index(name)] = levels.index(value)
        rules.append(coded)
    return Study(
        name=result.study or "latest", attributes=attributes, price=coding.price, prohibitions=tuple(rules)
    )


def _rules_text(study: Study) -> str:
    """The study's prohibitions in words: ``plan Basic & support Dedicated manager; ...``."""
    shown_rules = [
        " & ".join(
            f"{study.attributes[a].name} {_level_text(study.attributes[a].levels[level])}"
            for a, level in sorted(rule.items())
        )
        for rule in study.prohibitions
    ]
    return "; ".join(shown_rules) if shown_rules else "none"


def _level_text(level: Any) -> str:
    """A level as the study writes it (``49`` for ``49.0``)."""
    if isinstance(level, float):
        from keepwise.conjoint.terms import number_text

        return number_text(level)
    return str(level)


def _candidates(coding: Any, study: Study | None, where: str) -> tuple[list[dict[str, Any]], str]:
    """Candidate offers: the study's allowed offers when its design is known, else the coding's whole grid."""
    from keepwise.conjoint.simulator import candidate_offers

    if study is None:
        levels = []
        for attr in coding.attributes:
            if attr.name == coding.none:
                continue
            values = list(attr.values) if attr.numeric else list(attr.levels)
            levels.append([(attr.name, v) for v in values])
        grid = [dict(combo) for combo in itertools.islice(itertools.product(*levels), _MAX_CANDIDATES)]
        return grid, (
            f"the best of {len(grid)} level combinations (the study was saved without its prohibitions: give "
            "its file with --study, or save it with --study, to leave them out)"
        )
    coded = {a.name: a for a in coding.attributes if a.name != coding.none}
    if set(coded) != set(study.names):
        raise KeepwiseInputError(
            f"{where}: its attributes {sorted(study.names)} are not those of the stored study {sorted(coded)}"
        )
    for attr in study.attributes:
        known = coded[attr.name]
        if known.numeric != attr.numeric or (
            not attr.numeric and not {str(v) for v in attr.levels} <= set(known.levels)
        ):
            raise KeepwiseInputError(
                f"{where}: attribute '{attr.name}' has levels {list(attr.levels)}, the stored study "
                f"{list(known.values if known.numeric else known.levels)}"
            )
    allowed = [
        {k: (float(v) if coded[k].numeric else str(v)) for k, v in offer.items()}
        for offer in candidate_offers(study)
    ]
    if not allowed:
        raise KeepwiseInputError(f"{where}: its prohibitions leave no offer")
    allowed = allowed[:_MAX_CANDIDATES]
    left_out = int(study.n_levels.prod()) - len(allowed)
    return allowed, (
        f"the best of the study's {len(allowed)} allowed offers ({left_out} prohibited "
        f"combinations left out; prohibitions applied, from {where}: {_rules_text(study)})"
    )


#: At most this many candidate offers are priced.
_MAX_CANDIDATES = 20_000


def _study(study: Study | str | Path | None) -> tuple[Study | None, str]:
    """The study and how to name it in messages (its file when it was read from one)."""
    if study is None or not isinstance(study, (str, Path)):
        return study, f"study '{study.name}'" if study is not None else "study"
    from keepwise.conjoint.study import load_study

    return load_study(Path(study)), str(study)
