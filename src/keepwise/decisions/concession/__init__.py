"""The concession advisor: whether a representative may spend an amount to put a customer's problem right.

It weighs the concession against what losing the customer would cost::

    loss if they leave = expected future margin
                         + replacement cost (only for a customer worth replacing: future margin > 0)
                         + word-of-mouth loss (people told x trust in a friend's word x share who would have
                           become customers x the future margin of a typical customer)
    concession pays    = reduction in the chance of leaving it buys x loss if they leave

The expected future margin comes from :mod:`keepwise.decisions.facts` (gross margin if alive, less the
customer's cost to serve a week times the weeks they are expected to stay), with the drop-out model chosen
by holdout fit on the business's own history (:mod:`~keepwise.decisions.concession.dropout`: BG/NBD on every
customer or fitted apart on schedule buyers, Pareto/NBD as the fallback); the reduction from
:mod:`keepwise.decisions.effect` (the business's own incidents, with the effect's model chosen by
likelihood-ratio tests, or the documented default). The advice's JSON shows both choices and why
(``value_model``, ``effect.model``, ``effect.tests``). The answer:

- **approve** when the cost is at most what the concession pays;
- **counter** with the largest amount that still pays (rounded down to a whole unit) when that is at least
  ``counter_min_share`` of the cost asked for, plus an extra gesture that costs little;
- **refuse** otherwise.

So the decision can only move towards approve as the customer's value rises, and towards refuse as the cost
rises. The **break-even effect** is the reduction in the chance of leaving that would make the cost asked
for exactly pay: ``cost / loss if they leave``.

The rule itself, without a store, is :mod:`~keepwise.decisions.concession.rule`; the advisor on a store and
the stage's front door :func:`advise` are in :mod:`~keepwise.decisions.concession.advisor`.
"""

from keepwise.decisions.concession.advisor import ConcessionAdvisor, advise
from keepwise.decisions.concession.rule import (
    CENT,
    DEFAULT_GESTURE,
    GESTURES,
    ORDER,
    ConcessionAdvice,
    ConcessionFigures,
    Decision,
    decide,
    parse_cost,
    pct,
    to_cent,
)

__all__ = [
    "CENT",
    "DEFAULT_GESTURE",
    "GESTURES",
    "ORDER",
    "ConcessionAdvice",
    "ConcessionAdvisor",
    "ConcessionFigures",
    "Decision",
    "advise",
    "decide",
    "parse_cost",
    "pct",
    "to_cent",
]
