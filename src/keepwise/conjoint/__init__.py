"""Choice-based conjoint analysis: designs, estimation (MNL, hierarchical Bayes), willingness to pay, offers.

A study (:mod:`~keepwise.conjoint.study`) lists the attributes and levels of an offer; :mod:`design` builds
the choice tasks; :mod:`coding` turns answers into model columns; :mod:`mnl` and :mod:`hb` estimate
part-worths; :mod:`results` reports importance and willingness to pay; :mod:`simulator` predicts shares and
finds the offer with the best expected margin.
"""

from keepwise.conjoint.coding import AttributeCoding, ChoiceData, Coding, choice_data
from keepwise.conjoint.mnl import ConditionalLogit
from keepwise.conjoint.study import Attribute, Study, load_study

__all__ = [
    "Attribute",
    "AttributeCoding",
    "ChoiceData",
    "Coding",
    "ConditionalLogit",
    "Study",
    "choice_data",
    "load_study",
]
