"""Decisions: the concession advisor, the win-back ranking, service tiers and this month's outreach.

Each decision has one front door taking the store, the month and the settings:

- :func:`keepwise.decisions.winback.run`: the win-back ranking (table ``winback``, document ``winback``);
- :func:`keepwise.decisions.outreach.run` and :func:`keepwise.decisions.outreach.mark`: the outreach plan
  (table ``outreach_actions``, document ``outreach``) and what became of its actions;
- :func:`keepwise.decisions.concession.advise`: may a representative spend this on a customer's problem
  (table ``decision_log``), and :func:`keepwise.decisions.concession_log.report`: how concessions worked out.

Every recommendation carries its reasons.
"""
