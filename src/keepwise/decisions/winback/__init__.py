"""Win-back ranking: which lost customers to approach, with what offer, and what each is worth.

For every customer in the lost-customer ledger of the month (:func:`keepwise.signals.build_ledger`: exits
plus the inactivity rule of ``[review]``), keepwise decides, in this order:

1. **Not a candidate** when their exit reason is in ``[decisions] winback_not_candidates`` (moved away,
   closed down): listed with that reason, never ranked, whatever their value.
2. **Already won back** when a ``winback_attempts`` row on or after their ``lost_at`` says ``won_back``.
3. **Wanted back?** First what the business recorded: ``exits.wanted_back`` of the exit the ledger uses
   (only for customers lost by a recorded exit). ``false`` means **not wanted**, whatever the figures;
   ``true`` is said in the reasons and keeps them wanted even in the lead tier (the expected value still
   decides the contact); empty (unknown) leaves it to their lifetime profitability
   (:func:`keepwise.value.profitability.profitability`, view ``lifetime``: gross margin less cost to serve
   and concessions, plus advocacy value; tiers of :mod:`keepwise.value.tiers`): a customer in the *lead*
   tier (profit below ``[value] lead_below_profit``) is **not wanted**. Not wanted means a graceful goodbye
   (a thank-you without an offer), so they part on good terms and still speak well of the business.
4. **Chance of winning them back**, by exit reason: a Beta prior centred on the commonly cited range
   (Griffin and Lowenstein, *Customer Winback*, 2001: 20-40% of lost customers come back, against 5-20% of
   prospects), mean ``m = (winback_low + winback_high) / 2`` and weight ``w = winback_prior_weight``, i.e.
   ``Beta(a0 = m w, b0 = (1 - m) w)``; updated by the business's own ``winback_attempts`` with that exit
   reason (``k`` won back of ``n``) to the beta-binomial posterior ``Beta(a0 + k, b0 + n - k)``, whose mean
   ``(a0 + k) / (w + n)`` is the reason's chance, with its central 90% interval. A customer the business
   already tried to win back without success (``winback_attempts`` rows for them after their last order,
   none won back: ``f`` of them) gets their own chance (:func:`own_chance`): the reason's chance ``m`` as
   the mean of a Beta prior worth ``w`` attempts, each own attempt a Bernoulli failure, so
   ``Beta(m w, (1 - m) w + f)`` with mean ``m w / (w + f)`` (its interval is shown instead).
5. **The offer**: from the latest stored conjoint study when there is one, chosen per customer
   (:mod:`~keepwise.decisions.winback.menu`): each allowed offer's cost is the sum of its lines (each level's
   one-off cost and monthly cost over ``winback_months``, and the price cut from the offer the customer left;
   :mod:`keepwise.conjoint.terms`), paid only if they come back, and it moves the odds of coming back:
   ``chance(o) = c OR / (1 - c + c OR)``, ``OR`` the odds ratio of the offer's share of preference against
   staying lost to the lost offer's (Train 2009, *Discrete Choice Methods with Simulation*, ch. 3: the
   logit's utility difference); the customer gets the offer
   of highest ``chance(o) x (value if back - cost(o)) - contact cost``, and no offer when none is positive.
   Offers are worded from the study's per-level labels (English and Polish). The candidates are the study's
   allowed offers
   (:func:`keepwise.conjoint.simulator.candidate_offers`): by the prohibitions of its YAML file when one is
   given (``keepwise winback --study FILE``), else by those stored with it (``keepwise conjoint estimate
   --save NAME --study FILE``), else, for a study saved without them, every level combination of the coding
   (said in the offer's source and the notes). Otherwise ``[decisions] offers``
   by exit reason with its cost from ``[decisions] offer_costs`` (``unknown`` for reasons not listed).
6. **Expected value** = chance x value if back - offer cost - contact cost, where value if back = monthly
   profit x ``winback_months`` and monthly profit = lifetime operating profit (gross margin less cost to
   serve and concessions) / their months as a customer, the customer's one honest value
   (:func:`keepwise.value.worth.customer_worth`, the same years as the review's ledger: first to last
   purchase plus one mean gap, at least a year, so a one-time buyer is valued by their one purchase).
   Candidates with a positive expected value are ranked by it (**contact**); the rest are
   **not worth a contact**.

Every row carries ``reasons`` quoting the figures of its JSON, and the ranking lists the assumptions it used.
:func:`contacts` reads the stored ranking back for the message flows: whom to contact, with which offer (in
their language) and why.

The package is split by concern: :mod:`~keepwise.decisions.winback.rate` (the chance),
:mod:`~keepwise.decisions.winback.offers` (the offer), :mod:`~keepwise.decisions.winback.decide` (one
customer), :mod:`~keepwise.decisions.winback.ranking` (the whole ranking) and
:mod:`~keepwise.decisions.winback.stage` (the front door :func:`run`, which also writes the ``winback`` table
and the stage document, and :func:`offer_for`, the message flows' hook).
"""

from keepwise.decisions.winback.contacts import contacts
from keepwise.decisions.winback.decide import LostCustomer, Status, WinbackRow, decide, order_rows
from keepwise.decisions.winback.menu import OfferMenu, conjoint_menu
from keepwise.decisions.winback.offers import Offer, map_offer
from keepwise.decisions.winback.ranking import WinbackRanking, rank_winback
from keepwise.decisions.winback.rate import INTERVAL, ReasonRate, beta_prior, own_chance, posterior
from keepwise.decisions.winback.stage import TABLE, WinbackResult, offer_for, rows_frame, run

__all__ = [
    "INTERVAL",
    "TABLE",
    "LostCustomer",
    "Offer",
    "OfferMenu",
    "ReasonRate",
    "Status",
    "WinbackRanking",
    "WinbackResult",
    "WinbackRow",
    "beta_prior",
    "conjoint_menu",
    "contacts",
    "decide",
    "map_offer",
    "offer_for",
    "order_rows",
    "own_chance",
    "posterior",
    "rank_winback",
    "rows_frame",
    "run",
]
