"""The offers of a stored conjoint study, each with its full cost and its effect on the win-back chance.

See :mod:`keepwise.decisions.winback` (step 5) for the rule; this module prices every allowed offer of the
study once (:func:`conjoint_menu`), and :meth:`OfferMenu.best` picks one customer's offer.

The chance under an offer ``o`` moves the customer's odds of coming back as the offer moves the study's
odds of taking it over "none of these" (Train 2009, *Discrete Choice Methods with Simulation*, 2nd ed., ch. 3:
in a logit the log-odds of an alternative against another is their difference in utility, so the offer
adds ``V(o) - V(lost)`` to the customer's log-odds)::

    OR(o) = [A(o) / (1 - A(o))] / [A(lost) / (1 - A(lost))] = exp(V(o) - V(lost))
    chance(o) = chance_base x OR(o) / (1 - chance_base + chance_base x OR(o))

where ``chance_base`` is the customer's chance by exit reason (step 4: the chance under what they had),
``A(o)`` the offer's acceptance, its share of preference against "none of these" (staying lost) predicted
by the study's model (:func:`keepwise.conjoint.simulator.acceptance`), and ``A(lost)`` the acceptance of the
offer the customer left (the study's ``lost_offer``, default: first levels at the highest price). The chance
stays below 1 however strong the offer (scaling the chance itself by ``A(o) / A(lost)`` reached 100% with a
strong study, which no manager would believe). The
offer's cost is the sum of its lines (:meth:`keepwise.conjoint.terms.OfferTerms.cost_lines`): each level's
one-off cost plus its monthly cost over ``winback_months``, and the price cut; it is paid only by a customer
who comes back, so::

    expected value(o) = chance(o) x (value if back - cost(o)) - contact cost

and the customer's offer is the one with the highest expected value; when none is positive they are not
worth a contact ("no offer").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

import numpy as np

from keepwise.decisions.winback.offers import Offer
from keepwise.exceptions import KeepwiseInputError
from keepwise.money import shown
from keepwise.store import Store

if TYPE_CHECKING:
    from keepwise.conjoint.results import ConjointResult
    from keepwise.conjoint.study import Study
    from keepwise.conjoint.terms import OfferTerms

__all__ = ["OfferMenu", "conjoint_menu"]

_CENT = Decimal("0.01")
#: The reference the chance formula cites.
CITATION = "Train 2009, Discrete Choice Methods with Simulation, ch. 3: logit share ratio"


@dataclass(frozen=True)
class OfferMenu:
    """Every allowed offer of a study with its cost and its acceptance relative to the lost offer.

    Attributes
    ----------
    offers:
        The candidate offers (their ``cost`` is the total over ``months``, ``lines`` its lines).
    ratios:
        ``OR(o)``, the odds ratio of each offer's acceptance against the lost offer's (1 for all when the
        model cannot predict staying lost); :func:`scaled` applies it to a chance.
    lost:
        The offer a lost customer left, ``{attribute: level}``, and its words and acceptance.
    months:
        The months monthly costs are counted over (``[decisions] winback_months``).
    source:
        Where the offers come from, in words.
    notes:
        What the ranking should say about them (prohibitions, missing costs or words).
    """

    offers: tuple[Offer, ...]
    ratios: np.ndarray
    lost: dict[str, Any]
    lost_words: str
    lost_acceptance: float | None
    months: int
    source: str
    notes: tuple[str, ...] = ()
    costs: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def best(self, chance: float, value: Decimal, contact: Decimal) -> tuple[int, float]:
        """Index of the offer with the highest expected value for one customer, and its chance.

        Ties go to the cheaper offer, then to the earlier one.
        """
        p = scaled(chance, self.ratios)
        ev = p * (float(value) - self.costs) - float(contact)
        order = np.lexsort((np.arange(len(ev)), self.costs, -np.round(ev, 6)))
        i = int(order[0])
        return i, float(p[i])


def _lost_offer(result: ConjointResult, terms: OfferTerms | None) -> dict[str, Any]:
    """The lost offer: the study's, else every first level at the highest price."""
    coding = result.coding
    out: dict[str, Any] = {}
    for attr in coding.attributes:
        if attr.name == coding.none:
            continue
        given = None if terms is None or terms.lost_offer is None else terms.lost_offer.get(attr.name)
        if attr.numeric:
            out[attr.name] = float(given) if given is not None else max(float(v) for v in attr.values)
        else:
            out[attr.name] = str(given) if given is not None else attr.levels[0]
    return out


def conjoint_menu(
    store: Store,
    months: int,
    currency: str,
    study: Study | None = None,
    where: str = "study",
) -> OfferMenu | None:
    """The priced offers of the latest stored conjoint study, or ``None`` (no study, or no price column).

    With ``study`` (its YAML, :func:`keepwise.conjoint.study.load_study`) only its allowed offers are
    candidates and its words and costs are used; else the prohibitions, words and costs stored with the
    study (``keepwise conjoint estimate --save NAME --study FILE``); a study saved without them has every
    level combination as a candidate and is costed by its price cut alone (its notes say so).
    """
    try:
        from keepwise.conjoint.simulator import acceptance
        from keepwise.conjoint.store import load_result
        from keepwise.conjoint.terms import OfferTerms
    except ImportError:
        return None
    from keepwise.decisions.winback.offers import _candidates, _rules_text, _stored_study

    result = load_result(store)
    if result is None:
        return None
    coding = result.coding
    price = coding.price
    if price is None:
        return None
    notes: list[str] = []
    if study is None:
        study = _stored_study(result)
        where = f"the prohibitions stored with conjoint study '{result.study or 'latest'}'"
        if study is None:
            notes.append(
                "the conjoint offer was chosen among every level combination: the study was saved without "
                "its prohibitions, so give the study file (keepwise winback --study FILE, or save it with "
                "keepwise conjoint estimate --save NAME --study FILE) to leave them out"
            )
    candidates, how = _candidates(coding, study, where)
    if study is not None and study.prohibitions:
        notes.append(f"prohibited offers left out ({where}): {_rules_text(study)}")
    terms = (study.terms if study is not None and study.terms is not None else None) or result.terms
    names = [a.name for a in coding.attributes if a.name != coding.none]
    if terms is None:
        terms = OfferTerms.plain(names, price)
        notes.append(
            "the study carries no costs or words of its levels (give them in its file, as in "
            "examples/conjoint/winback_study.yaml, and save it with --study FILE): each offer is costed by "
            "its price cut alone and worded from its attribute names"
        )
    elif not terms.has_costs:
        notes.append("the study gives no level a cost: each offer is costed by its price cut alone")
    lost = _lost_offer(result, terms)
    study_currency = result.currency or currency
    if result.currency and currency and result.currency != currency:
        notes.append(
            f"the study's prices are in {result.currency}, the ranking's money in {currency}: its costs are "
            "taken as they are, unconverted"
        )
    if coding.none is not None:
        shares = acceptance(result, [*candidates, lost])
        accept, lost_accept = shares[:-1], float(shares[-1])
        ratios = _odds(accept) / _odds(lost_accept) if 0 < lost_accept < 1 else np.ones(len(candidates))
    else:
        accept, lost_accept = np.full(len(candidates), np.nan), None
        ratios = np.ones(len(candidates))
        notes.append(
            "the study's model has no 'none of these' column, so it cannot say how an offer changes the "
            "chance of coming back: every offer keeps the chance by exit reason"
        )
    lost_price = float(lost[price])
    offers: list[Offer] = []
    for offer, a, r in zip(candidates, accept, ratios, strict=True):
        lines = tuple(terms.cost_lines(offer, lost_price, study_currency))
        total = sum((line.total(months) for line in lines), Decimal(0)).quantize(_CENT, ROUND_HALF_UP)
        words = {lang: terms.words(offer, lang, study_currency) for lang in ("en", "pl")}
        offers.append(
            Offer(
                words["en"],
                total,
                "",
                {"kind": "other", "note": words["en"]},
                take_up=None if np.isnan(a) else float(a),
                levels=dict(offer),
                lines=lines,
                ratio=float(r),
                words=words,
            )
        )
    name = result.study or "latest"
    lost_words = terms.words(lost, "en", study_currency)
    source = (
        f"conjoint study '{name}': for each customer, {how} by expected value"
        f"; each offer's cost is the sum of its lines (one-off, and monthly over {months} months, paid if "
        f"they come back), and it moves the odds of coming back as it moves the odds of taking it over the "
        f"offer they left ({lost_words}): chance = c x OR / (1 - c + c x OR), c the chance by exit reason, "
        f"OR the odds ratio of the offer's acceptance against the lost offer's ({CITATION})"
    )
    offers = [_with_source(o, source) for o in offers]
    if not offers:
        raise KeepwiseInputError(f"{where}: no offer to price")
    return OfferMenu(
        tuple(offers),
        np.asarray(ratios, dtype=float),
        lost,
        lost_words,
        lost_accept,
        months,
        source,
        tuple(notes),
        np.array([float(o.cost) for o in offers]),
    )


def scaled(chance: Any, odds_ratio: Any) -> np.ndarray:
    """``chance`` with its odds multiplied by ``odds_ratio``: ``c x OR / (1 - c + c x OR)``, never above 1."""
    c = np.asarray(chance, dtype=float)
    o = np.asarray(odds_ratio, dtype=float)
    return np.asarray(c * o / (1 - c + c * o))


def _odds(share: Any) -> Any:
    """``A / (1 - A)``, with the share kept strictly between 0 and 1."""
    a = np.clip(share, 1e-12, 1 - 1e-12)
    return a / (1 - a)


def _with_source(offer: Offer, source: str) -> Offer:
    from dataclasses import replace

    return replace(offer, source=source)


def chance_words(menu: OfferMenu, offer: Offer, base: float, chance: float) -> str:
    """How the offer moves the chance, in words: ``64% of the study's respondents would take it ...``."""
    if offer.take_up is None or menu.lost_acceptance is None:
        return f"the study cannot predict staying lost, so the chance stays at {base * 100:.1f}%"
    odds = (offer.take_up / (1 - offer.take_up)) / (menu.lost_acceptance / (1 - menu.lost_acceptance))
    return (
        f"the study predicts {offer.take_up * 100:.0f}% would take this offer against "
        f"{menu.lost_acceptance * 100:.0f}% for the offer they left ({menu.lost_words}): {odds:.2f} times "
        f"the odds, which moves the chance from {base * 100:.1f}% to {chance * 100:.1f}%"
    )


def cost_words(offer: Offer, currency: str, months: int) -> str:
    """The offer's cost line by line: ``cost $159.00 if they come back: 3 months free: $87.00 once; ...``."""
    if not offer.lines:
        return f"cost {shown(offer.cost, currency)}: nothing beyond what they had"
    lines = "; ".join(line.text(currency, months) for line in offer.lines)
    return f"cost {shown(offer.cost, currency)} if they come back: {lines}"
