"""The chance of winning back a lost customer: a beta-binomial by exit reason, lowered by their own failures.

See :mod:`keepwise.decisions.winback` for the whole rule; this module holds step 4 (the chance).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from scipy import stats

from keepwise.config import DecisionAssumptions
from keepwise.exceptions import KeepwiseInputError

__all__ = ["INTERVAL", "ReasonRate", "beta_prior", "own_chance", "posterior"]

#: Central probability mass of the interval given with each chance.
INTERVAL = 0.90


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _about(x: float) -> str:
    """A chance rounded for a sentence: ``about 30%`` (``under 1%`` below half a percent)."""
    return "under 1%" if 0 < x < 0.005 else f"about {x * 100:.0f}%"


def _whole(x: float) -> str:
    """A weight of evidence as a whole number of customers (``20``, ``21.5`` as ``22``)."""
    return f"{x:,.0f}"


@dataclass(frozen=True)
class ReasonRate:
    """The chance of winning back a customer who left for ``reason``: prior, own attempts, posterior."""

    reason: str
    prior_a: float
    prior_b: float
    attempts: int
    won: int
    a: float
    b: float
    mean: float
    low: float
    high: float
    own_failed: int = 0
    reason_mean: float | None = None

    @property
    def source(self) -> str:
        """Where the chance comes from, in plain words with rounded figures (exact ones in the JSON).

        ``about 30%: no past win-back attempts ...; the commonly cited 20-40% for lost customers, counted as
        20 comparable customers' worth of evidence``; with the business's own attempts ``7 of 10 ...``.
        """
        words = self._reason_source()
        if self.own_failed == 0 or self.reason_mean is None:
            return words
        return (
            f"{words}; their own {self.own_failed} failed attempt(s) since their last order lower it to "
            f"{_about(self.mean)} (the reason's rate counted as {_whole(self.a + self.b - self.own_failed)} "
            f"customers' worth of evidence, plus {self.own_failed} failure(s) of their own)"
        )

    def _reason_source(self) -> str:
        weight = _whole(self.prior_a + self.prior_b)
        prior = (
            f"the commonly cited {self.prior_a / (self.prior_a + self.prior_b) * 100:.0f}% of lost customers "
            f"won back, counted as {weight} comparable customers' worth of evidence"
        )
        mean = self.mean if self.reason_mean is None else self.reason_mean
        if self.attempts == 0:
            return (
                f"{_about(mean)}: no past win-back attempts on customers who left over '{self.reason}', "
                f"so {prior}"
            )
        return (
            f"{_about(mean)}: {self.won} of {self.attempts} past win-back attempts on customers who left "
            f"over '{self.reason}' succeeded, weighed together with {prior}"
        )

    def to_json(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "reason": self.reason,
            "prior": {"a": self.prior_a, "b": self.prior_b},
            "attempts": self.attempts,
            "won_back": self.won,
            "posterior": {"a": self.a, "b": self.b},
            "chance": round(self.mean, 4),
            "interval": [round(self.low, 4), round(self.high, 4)],
            "source": self.source,
        }


def beta_prior(cfg: DecisionAssumptions) -> tuple[float, float]:
    """``(a0, b0)``: mean ``(winback_low + winback_high) / 2``, weight ``winback_prior_weight`` attempts."""
    mean = (cfg.winback_low + cfg.winback_high) / 2
    weight = float(cfg.winback_prior_weight)
    return round(mean * weight, 6), round((1 - mean) * weight, 6)


def posterior(reason: str, attempts: int, won: int, cfg: DecisionAssumptions) -> ReasonRate:
    """The beta-binomial posterior ``Beta(a0 + won, b0 + attempts - won)`` and its central interval."""
    if not 0 <= won <= attempts:
        raise KeepwiseInputError(f"won back ({won}) must be between 0 and the attempts ({attempts})")
    a0, b0 = beta_prior(cfg)
    if a0 <= 0 or b0 <= 0:
        raise KeepwiseInputError(
            "[decisions] winback_prior_weight must be at least 1 and winback_low/high strictly between 0 "
            "and 1"
        )
    a, b = a0 + won, b0 + attempts - won
    low, high = _interval(a, b)
    return ReasonRate(reason, a0, b0, attempts, won, a, b, a / (a + b), low, high)


def _interval(a: float, b: float) -> tuple[float, float]:
    tail = (1 - INTERVAL) / 2
    low, high = (float(v) for v in stats.beta.ppf([tail, 1 - tail], a, b))
    return low, high


def own_chance(rate: ReasonRate, failed: int, cfg: DecisionAssumptions) -> ReasonRate:
    """The chance for one customer whose own ``failed`` past win-back attempts all failed.

    The customer's own chance ``p`` is drawn around their exit reason's rate ``m`` (the mean of ``rate``):
    ``p ~ Beta(m w, (1 - m) w)`` with ``w = winback_prior_weight``, the weight the cited range is given.
    Each failed attempt on them is a Bernoulli failure of ``p``, so their posterior is
    ``Beta(m w, (1 - m) w + failed)`` with mean ``m w / (w + failed)``: never above ``m``, lower with every
    failure. ``w`` and not the reason posterior's own weight ``w + attempts``: the business's attempts
    pin down the *average* rate of a reason, not how far one customer's chance can sit from it (with the
    latter, one failure would move a customer's chance by less and less as the business records attempts).
    With no failed attempt the reason's rate is returned unchanged.
    """
    if failed < 0:
        raise KeepwiseInputError(f"failed attempts must not be negative ({failed})")
    if failed == 0:
        return rate
    w = float(cfg.winback_prior_weight)
    a = round(rate.mean * w, 6)
    b = round((1 - rate.mean) * w, 6) + failed
    low, high = _interval(a, b)
    return replace(
        rate, a=a, b=b, mean=a / (a + b), low=low, high=high, own_failed=failed, reason_mean=rate.mean
    )
