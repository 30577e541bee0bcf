"""A small business whose customers each respond to a retention offer in their own, known way.

:func:`simulate_offers` draws customers with observable features and, for each customer and each offer, the
true probability of leaving in the next twelve months with and without the offer; :func:`run_trial` runs a
randomised trial on them (observed outcomes only); :func:`policy_profit` values any targeting policy with the
truth. The uplift tests and ``bench/uplift.py`` use it to check that uplift targeting earns more than treating
everyone, no one, or the customers most likely to leave.

The world (all draws from ``seed``):

- features: ``tenure_years ~ Gamma(2, 1.5)``, ``orders_12m ~ 1 + Poisson(Gamma(2, 3))``,
  ``aov ~ LogNormal(4, 0.5)``, ``days_since_last ~ Exp(365 / (orders_12m + 1))`` capped at 365,
  ``complaints_12m ~ Poisson(0.35)``, ``discount_share ~ Beta(1, 4)``, ``contract ~ Bernoulli(0.3)``;
- value if retained: ``V = 0.35 x orders_12m x aov`` (next year's margin);
- churn without an offer: ``logit p0 = -1.3 + 0.9 z(days) - 0.5 z(tenure) + 0.6 complaints
  + 2 discount_share - 1.0 contract``;
- ``call`` (a personal call): saves the share ``0.55 s(2 (complaints - 0.5)) (1 - lost)`` of would-be
  leavers, where ``lost = s((days - 150) / 30)`` (customers long gone do not pick up); for contract customers
  without complaints it *raises* churn by 0.05 (it reminds them their contract is up: "sleeping dogs");
- ``discount`` (a voucher): saves the share ``0.7 x discount_share / (discount_share + 0.15)`` of would-be
  leavers (price-sensitive customers respond), whatever else;
- costs: ``call`` 20.00, ``discount`` 45.00 per treated customer; ``s`` is the logistic function.

The outcome is the margin over the next twelve months: ``retained x V x Gamma(5, 1/5)`` noise (mean ``V``).
The expected incremental margin of offer ``a`` for customer ``i`` is ``V_i (p0_i - p_a,i)``: the truth.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["FEATURES", "OfferWorld", "policy_profit", "run_trial", "simulate_offers"]

#: Observable feature columns.
FEATURES: tuple[str, ...] = (
    "tenure_years",
    "orders_12m",
    "aov",
    "days_since_last",
    "complaints_12m",
    "discount_share",
    "contract",
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=float)


@dataclass(frozen=True)
class OfferWorld:
    """Customers, their features and the truth about each offer."""

    features: pd.DataFrame
    value: np.ndarray
    churn: pd.DataFrame
    costs: dict[str, float]

    @property
    def treatments(self) -> list[str]:
        """The offers (every column of ``churn`` but ``control``)."""
        return [c for c in self.churn.columns if c != "control"]

    @property
    def effect(self) -> pd.DataFrame:
        """True expected incremental margin of each offer per customer: ``V (p0 - p_offer)``."""
        return pd.DataFrame(
            {t: self.value * (self.churn["control"] - self.churn[t]) for t in self.treatments},
            index=self.features.index,
        )


def simulate_offers(n: int, seed: int = 0) -> OfferWorld:
    """Draw ``n`` customers of the offer world (see the module docstring)."""
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 1.5, n)
    orders = 1 + rng.poisson(rng.gamma(2.0, 3.0, n))
    aov = rng.lognormal(4.0, 0.5, n)
    days = np.minimum(rng.exponential(365.0 / (orders + 1)), 365.0)
    complaints = rng.poisson(0.35, n)
    discount = rng.beta(1.0, 4.0, n)
    contract = (rng.random(n) < 0.3).astype(float)
    features = pd.DataFrame(
        {
            "customer_id": [f"S{i:06d}" for i in range(n)],
            "tenure_years": tenure,
            "orders_12m": orders.astype(float),
            "aov": aov,
            "days_since_last": days,
            "complaints_12m": complaints.astype(float),
            "discount_share": discount,
            "contract": contract,
        }
    )
    value = 0.35 * orders * aov

    def z(x: np.ndarray) -> np.ndarray:
        return np.asarray((x - x.mean()) / x.std(), dtype=float)

    p0 = _sigmoid(-1.3 + 0.9 * z(days) - 0.5 * z(tenure) + 0.6 * complaints + 2.0 * discount - 1.0 * contract)
    lost = _sigmoid((days - 150.0) / 30.0)
    saved_call = 0.55 * _sigmoid(2.0 * (complaints - 0.5)) * (1.0 - lost)
    p_call = p0 * (1.0 - saved_call)
    sleeping = (contract == 1) & (complaints == 0)
    p_call = np.where(sleeping, np.minimum(p0 + 0.05, 1.0), p_call)
    p_discount = p0 * (1.0 - 0.7 * discount / (discount + 0.15))
    churn = pd.DataFrame({"control": p0, "call": p_call, "discount": p_discount})
    return OfferWorld(features=features, value=value, churn=churn, costs={"call": 20.0, "discount": 45.0})


def run_trial(world: OfferWorld, seed: int = 1) -> pd.DataFrame:
    """A randomised trial over every customer of ``world``: arms equally likely, observed outcomes only.

    Returns the features with ``arm``, ``retained`` (0/1), ``profit`` (margin over the next twelve months) and
    ``margin`` (next year's expected margin if retained, ``V``: what a business knows of each customer).
    """
    rng = np.random.default_rng(seed)
    arms = np.array(["control", *world.treatments])
    arm = arms[rng.integers(0, len(arms), len(world.features))]
    col = {name: j for j, name in enumerate(world.churn.columns)}
    p = world.churn.to_numpy()[np.arange(len(arm)), np.array([col[a] for a in arm])]
    retained = (rng.random(len(arm)) >= p).astype(float)
    profit = retained * world.value * rng.gamma(5.0, 0.2, len(arm))
    out = world.features.copy()
    out["arm"] = arm
    out["retained"] = retained
    out["profit"] = profit
    out["margin"] = world.value
    return out


def policy_profit(
    world: OfferWorld, policy: pd.Series | np.ndarray, costs: Mapping[str, float] | None = None
) -> float:
    """Expected incremental profit of giving each customer the offer ``policy`` names (``control``: none).

    ``sum_i [V_i (p0_i - p_{a_i, i}) - cost_{a_i}]`` over treated customers (true churn probabilities).
    """
    costs = dict(world.costs if costs is None else costs)
    a = np.asarray(policy, dtype=object)
    total = 0.0
    effect = world.effect
    for t in world.treatments:
        mask = a == t
        total += float(effect.loc[mask, t].sum() - costs[t] * mask.sum())
    return total
