"""Choice-based conjoint analysis: designs, estimation (MNL, hierarchical Bayes), willingness to pay, offers.

A study (:mod:`~keepwise.conjoint.study`) lists the attributes and levels of an offer; :mod:`design` builds
the choice tasks; :mod:`coding` turns answers into model columns; :mod:`mnl` and :mod:`hb` estimate
part-worths (:mod:`latent_class` finds segments); :mod:`results` reports importance and willingness to pay;
:mod:`simulator` predicts shares and finds the offer with the best expected margin; :mod:`store` saves a
fitted study and loads it back; :mod:`plotting` and :mod:`report` show it (the review's conjoint section and
the dashboard's conjoint page, with an offline what-if simulator).

The stage's front doors (:mod:`~keepwise.conjoint.run`) return objects whose ``to_json()`` is what the
matching command prints with ``--json``: :func:`estimate` (and :meth:`Estimate.save`), :func:`show` and
:func:`simulate` (with :func:`load_offers`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from keepwise._lazy import exports

if TYPE_CHECKING:
    from keepwise.conjoint.coding import AttributeCoding, ChoiceData, Coding, choice_data
    from keepwise.conjoint.latent_class import LatentClassMNL
    from keepwise.conjoint.mnl import ConditionalLogit
    from keepwise.conjoint.results import ConjointResult
    from keepwise.conjoint.run import Estimate, Shown, estimate, load_offers, read_answers, show, simulate
    from keepwise.conjoint.study import Attribute, Study, load_study

__all__ = [
    "Attribute",
    "AttributeCoding",
    "ChoiceData",
    "Coding",
    "ConditionalLogit",
    "ConjointResult",
    "Estimate",
    "LatentClassMNL",
    "Shown",
    "Study",
    "choice_data",
    "estimate",
    "load_offers",
    "load_study",
    "read_answers",
    "show",
    "simulate",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "AttributeCoding": "keepwise.conjoint.coding",
        "ChoiceData": "keepwise.conjoint.coding",
        "Coding": "keepwise.conjoint.coding",
        "choice_data": "keepwise.conjoint.coding",
        "LatentClassMNL": "keepwise.conjoint.latent_class",
        "ConditionalLogit": "keepwise.conjoint.mnl",
        "ConjointResult": "keepwise.conjoint.results",
        "Estimate": "keepwise.conjoint.run",
        "Shown": "keepwise.conjoint.run",
        "estimate": "keepwise.conjoint.run",
        "load_offers": "keepwise.conjoint.run",
        "read_answers": "keepwise.conjoint.run",
        "show": "keepwise.conjoint.run",
        "simulate": "keepwise.conjoint.run",
        "Attribute": "keepwise.conjoint.study",
        "Study": "keepwise.conjoint.study",
        "load_study": "keepwise.conjoint.study",
    },
)
