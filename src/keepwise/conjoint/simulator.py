"""Market simulation and the win-back offer optimiser.

A market is a list of offers ``{attribute: level}`` (ours and competitors'), plus the "none of these" option
when the model has one. Three rules turn part-worths into shares (Orme 2010, *Getting Started with Conjoint
Analysis*, chapter 10):

* *share of preference*: logit shares per respondent, averaged (for a latent-class result: per class,
  weighted by the class shares, :meth:`ConjointResult.average`);
* *first choice*: each respondent takes the offer of highest utility (with a single MNL row of part-worths
  everyone makes the same choice, so prefer hierarchical Bayes here);
* *randomized first choice*: first choice repeated over draws in which every part-worth gets normal error
  (attribute variability, so offers that share levels compete more with each other than logit's IIA allows)
  and every offer a Gumbel error (product variability) (Huber, Orme and Miller 1999, "Dealing with product
  similarity in conjoint simulations", Sawtooth Software Conference).

:func:`best_offer` is what the win-back ranking calls: among candidate offers with their costs, the one with
the highest expected margin ``take-up x (price - cost)`` per lost customer approached, where take-up is the
offer's share against "none" (staying lost) and any competitors.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from keepwise.conjoint.coding import Coding
from keepwise.conjoint.design import Design
from keepwise.conjoint.results import ConjointResult
from keepwise.conjoint.study import Study
from keepwise.exceptions import KeepwiseInputError

__all__ = [
    "OfferChoice",
    "acceptance",
    "best_offer",
    "candidate_offers",
    "first_choice",
    "randomized_first_choice",
    "share_of_preference",
    "simulate_answers",
    "simulate_shares",
]

Rule = Literal["share", "first_choice", "rfc"]


def _market(result: ConjointResult, offers: Sequence[Mapping[str, Any]], none: bool) -> np.ndarray:
    """Coefficient-space rows of the offers (and of "none" as the last row when asked)."""
    if not offers:
        raise KeepwiseInputError("a market needs at least one offer")
    coding = result.coding
    rows = [coding.profile_vector(dict(o)) for o in offers]
    if none:
        if coding.none is None:
            raise KeepwiseInputError("the model has no 'none' column, so it cannot predict staying out")
        vector = np.zeros(len(coding.names))
        vector[coding.slices[coding.none]] = 1.0
        rows.append(vector)
    return np.stack(rows)


def _labels(offers: Sequence[Mapping[str, Any]], none: bool) -> list[str]:
    labels = [str(o.get("name", f"offer {i + 1}")) for i, o in enumerate(offers)]
    return [*labels, "none"] if none else labels


def _strip(offer: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in offer.items() if k != "name"}


def share_of_preference(
    result: ConjointResult, offers: Sequence[Mapping[str, Any]], none: bool = True
) -> pd.Series:
    """Logit shares of the offers (and none), averaged over respondents."""
    Z = _market(result, [_strip(o) for o in offers], none)
    u = result.betas() @ Z.T
    u -= u.max(axis=1, keepdims=True)
    p = np.exp(u)
    p /= p.sum(axis=1, keepdims=True)
    return pd.Series(result.average(p), index=_labels(offers, none), name="share")


def acceptance(result: ConjointResult, offers: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Each offer's share of preference when it is the only offer against "none of these" (staying lost).

    ``A(o) = mean over respondents of exp(V_o) / (exp(V_o) + exp(V_none))`` (share-weighted over latent
    classes): the logit probability of choosing the offer over staying out (Train 2009, *Discrete Choice
    Methods with Simulation*, 2nd ed., ch. 3, eq. 3.6), one offer at a time. Needs a "none" column.
    """
    coding = result.coding
    if coding.none is None:
        raise KeepwiseInputError("the model has no 'none' column, so it cannot predict staying out")
    if not offers:
        return np.zeros(0)
    Z = np.stack([coding.profile_vector(_strip(o)) for o in offers])
    z_none = np.zeros(len(coding.names))
    z_none[coding.slices[coding.none]] = 1.0
    betas = result.betas()
    gap = betas @ z_none[:, None] - betas @ Z.T  # V_none - V_o, (rows, offers)
    return np.asarray(result.average(1.0 / (1.0 + np.exp(np.clip(gap, -700, 700)))), dtype=float)


def first_choice(result: ConjointResult, offers: Sequence[Mapping[str, Any]], none: bool = True) -> pd.Series:
    """Share of respondents whose highest-utility option is each offer (ties split evenly)."""
    Z = _market(result, [_strip(o) for o in offers], none)
    u = result.betas() @ Z.T
    top = np.isclose(u, u.max(axis=1, keepdims=True))
    return pd.Series(
        result.average(top / top.sum(axis=1, keepdims=True)), index=_labels(offers, none), name="share"
    )


def randomized_first_choice(
    result: ConjointResult,
    offers: Sequence[Mapping[str, Any]],
    none: bool = True,
    draws: int = 500,
    attribute_sd: float = 0.3,
    product_scale: float = 0.5,
    seed: int = 0,
) -> pd.Series:
    """Randomized first choice: first choice over ``draws`` perturbed copies of every respondent.

    ``attribute_sd`` is the sd of the normal error added to each coefficient (shared by offers with the same
    level), ``product_scale`` the scale of the Gumbel error added to each offer's utility.
    """
    rng = np.random.default_rng(seed)
    Z = _market(result, [_strip(o) for o in offers], none)
    betas = result.betas()
    R, K = betas.shape
    M = Z.shape[0]
    counts = np.zeros(M)
    for _ in range(draws):
        noisy = betas + rng.normal(0.0, attribute_sd, (R, K))
        u = noisy @ Z.T + product_scale * rng.gumbel(size=(R, M))
        counts += result.average(np.eye(M)[u.argmax(axis=1)])
    return pd.Series(counts / draws, index=_labels(offers, none), name="share")


def simulate_shares(
    result: ConjointResult, offers: Sequence[Mapping[str, Any]], rule: Rule = "share", none: bool = True
) -> pd.Series:
    """Shares of the offers by ``rule``: ``share`` (of preference), ``first_choice`` or ``rfc``."""
    if rule == "share":
        return share_of_preference(result, offers, none)
    if rule == "first_choice":
        return first_choice(result, offers, none)
    if rule == "rfc":
        return randomized_first_choice(result, offers, none)
    raise KeepwiseInputError(f"unknown simulation rule '{rule}': use share, first_choice or rfc")


@dataclass
class OfferChoice:
    """The best offer and how it compares with the other candidates.

    Attributes
    ----------
    offer:
        The best candidate, ``{attribute: level}``.
    take_up:
        Share of lost customers approached who would take it (against none and competitors).
    margin:
        Margin per customer who takes it: price minus cost.
    expected_margin:
        ``take_up x margin``: what approaching one lost customer with this offer is worth.
    table:
        Every candidate with its price, cost, take-up, margin and expected margin, best first.
    reasons:
        The figures behind the choice, in words.
    """

    offer: dict[str, Any]
    take_up: float
    margin: float
    expected_margin: float
    table: pd.DataFrame
    reasons: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The document ``keepwise conjoint simulate --json`` prints."""
        return {
            "best_offer": self.offer,
            "take_up": self.take_up,
            "margin": self.margin,
            "expected_margin": self.expected_margin,
            "reasons": self.reasons,
            "candidates": self.table.to_dict(orient="records"),
        }


def candidate_offers(study: Study) -> list[dict[str, Any]]:
    """Every allowed offer of a study (all level combinations minus the prohibited ones)."""
    grid = np.array(list(itertools.product(*[range(n) for n in study.n_levels])))
    grid = grid[~study.prohibited(grid)]
    return [study.profile_labels(row) for row in grid]


def best_offer(
    result: ConjointResult,
    candidates: Sequence[Mapping[str, Any]],
    costs: Sequence[float] | Callable[[Mapping[str, Any]], float],
    competitors: Sequence[Mapping[str, Any]] = (),
    rule: Rule = "share",
    price: str | None = None,
    currency: str = "",
) -> OfferChoice:
    """The candidate offer that maximises expected margin ``take-up x (price - cost)`` per lost customer.

    Parameters
    ----------
    result:
        A fitted model (:func:`keepwise.conjoint.results.estimate`), ideally with a "none" column: take-up
        is the share of the offer against staying lost and the ``competitors``' offers.
    candidates:
        Offers ``{attribute: level}``; the price may be any amount (it enters utility linearly).
    costs:
        Cost of serving each candidate (same order), or a function of the offer.
    competitors:
        Competitors' offers in the market, ``{attribute: level}``.
    rule:
        Share rule (see :func:`simulate_shares`).
    price:
        The price attribute (default: the model's price column).
    currency:
        Shown in the reasons.
    """
    price = price or result.coding.price
    if price is None:
        raise KeepwiseInputError("the offer optimiser needs the model's price column")
    if not candidates:
        raise KeepwiseInputError("no candidate offers to choose from")
    has_none = result.coding.none is not None
    if not has_none and not competitors:
        raise KeepwiseInputError(
            "take-up needs an alternative: fit the model with a 'none' column or give competitors' offers"
        )
    cost_list = [float(costs(c)) for c in candidates] if callable(costs) else [float(c) for c in costs]
    if len(cost_list) != len(candidates):
        raise KeepwiseInputError(f"{len(candidates)} candidate offers but {len(cost_list)} costs")
    rows = []
    for candidate, cost in zip(candidates, cost_list, strict=True):
        if price not in candidate:
            raise KeepwiseInputError(f"candidate offer {dict(candidate)} has no '{price}'")
        shares = simulate_shares(result, [_strip(candidate), *map(_strip, competitors)], rule, has_none)
        take_up = float(shares.iloc[0])
        margin = float(candidate[price]) - cost
        rows.append(
            {
                **_strip(candidate),
                "cost": cost,
                "take_up": take_up,
                "margin": margin,
                "expected_margin": take_up * margin,
            }
        )
    table = pd.DataFrame(rows).sort_values("expected_margin", ascending=False, ignore_index=True)
    best = table.iloc[0]
    offer = {k: _plain(best[k]) for k in _strip(candidates[0])}
    money = f"{currency} " if currency else ""
    against = [
        *(["staying lost"] if has_none else []),
        *([f"{len(competitors)} competitor offer(s)"] * bool(competitors)),
    ]
    reasons = [
        f"{best['take_up']:.1%} of lost customers approached are predicted to take it "
        f"(share of preference against {' and '.join(against)})",
        f"each acceptance earns a margin of {money}{best['margin']:,.2f} "
        f"(price {money}{float(best[price]):,.2f} minus cost {money}{best['cost']:,.2f})",
        f"expected margin {money}{best['expected_margin']:,.2f} per customer approached, the best of "
        f"{len(table)} candidate offers",
    ]
    if len(table) > 1:
        reasons.append(
            f"the runner-up would earn {money}{table.iloc[1]['expected_margin']:,.2f} per customer"
        )
    return OfferChoice(
        offer, float(best["take_up"]), float(best["margin"]), float(best["expected_margin"]), table, reasons
    )


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def simulate_answers(design: Design, coding: Coding, betas: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Simulated answers of respondents with known part-worths (for tests and benchmarks).

    Respondent ``r`` (``betas[r]`` in the columns of ``coding``) answers version ``r mod V``, choosing the
    alternative of highest utility plus a standard Gumbel error, i.e. with logit probabilities. Returns the
    long format: ``respondent``, the design's columns and ``chosen``.
    """
    rng = np.random.default_rng(seed)
    frame = design.to_frame()
    X = coding.encode(frame)
    V = design.n_versions
    version = frame["version"].to_numpy() - 1
    parts = []
    for v in range(V):
        rows = np.flatnonzero(version == v)
        respondents = np.arange(v, len(betas), V)
        if respondents.size == 0:
            continue
        u = betas[respondents] @ X[rows].T + rng.gumbel(size=(respondents.size, rows.size))
        tasks = frame["task"].to_numpy()[rows]
        starts = np.flatnonzero(np.r_[True, tasks[1:] != tasks[:-1]])
        best = np.repeat(
            np.maximum.reduceat(u, starts, axis=1), np.diff(np.append(starts, rows.size)), axis=1
        )
        part = frame.iloc[np.tile(rows, respondents.size)].reset_index(drop=True)
        part.insert(0, "respondent", np.repeat(respondents + 1, rows.size))
        part["chosen"] = (u == best).astype(int).ravel()
        parts.append(part)
    return pd.concat(parts, ignore_index=True).sort_values(
        ["respondent", "task", "alternative"], ignore_index=True
    )
