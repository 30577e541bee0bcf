"""Section ``[clv]``: customer lifetime value, and keepwise's one annual discount rate."""

from __future__ import annotations

from dataclasses import dataclass, field

from keepwise.config.fields import DISCOUNT_RATE, about

__all__ = ["ClvAssumptions"]


@dataclass(frozen=True)
class ClvAssumptions:
    """How future margin is valued (section ``[clv]``): the CLV horizon and the annual discount rate.

    ``discount_rate`` is keepwise's one annual discount rate: customer lifetime value (``keepwise clv``), the
    discounted lifetime value of a lost customer (the review) and the worth of keeping a customer (the
    decisions) all use it; older files may still set it as ``[review]`` or ``[decisions] discount_rate``.

    ``next_purchase_min_p_alive`` is the chance of still being a customer below which ``keepwise clv`` gives
    no expected next purchase date (a date for someone who has almost surely left would contradict their
    P(alive)).
    """

    horizon_months: int = field(
        default=12,
        metadata=about(
            "Months ahead that customer lifetime value counts (keepwise clv; --horizon-months overrides it).",
            "convention: one year ahead, the usual planning horizon",
        ),
    )
    discount_rate: float = field(
        default=DISCOUNT_RATE,
        metadata=about(
            "Annual discount rate of future margin (0.1 = 10% a year): customer lifetime value, the "
            "discounted lifetime value of a lost customer (the review) and the worth of keeping a customer "
            "(concessions, service). Older files may set it as [review] or [decisions] discount_rate.",
            "convention: 10% a year",
        ),
    )
    next_purchase_min_p_alive: float = field(
        default=0.05,
        metadata=about(
            "Chance of still being a customer (P(alive)) below which keepwise clv leaves a customer's "
            "expected next purchase date empty: the date assumes they are still a customer, which the model "
            "then thinks unlikely.",
            "convention: below a 1 in 20 chance the customer has most likely left, the 5% level of common "
            "statistical practice",
        ),
    )
