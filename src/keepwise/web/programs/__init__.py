"""The programs' pages and API: experiments (design, status, results), the outbox, win-back approval.

Pages (a manager or above): ``/experiments`` (every experiment with its design, status and results, and a
form that designs a new one), ``/experiments/{id}`` (one experiment with its effects drawn), ``/outbox``
(messages by state, a page at a time) and ``POST /winback/approve`` (the win-back page's "Approve campaign"
form). The API (``/api/v1``): ``experiments``, ``experiments/{id}``, ``outbox`` and ``winback/approve``.
Routes are thin: the figures come from :mod:`keepwise.experiments.overview`, :mod:`keepwise.messages.listing`
and :mod:`keepwise.messages.campaign`, the same functions behind the commands.
"""

from keepwise.web.programs import experiments, outbox, winback
from keepwise.web.programs.common import api, router

__all__ = ["api", "experiments", "outbox", "router", "winback"]
