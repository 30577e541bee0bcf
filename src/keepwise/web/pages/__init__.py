"""Dashboard pages, server-rendered for a business owner, and their part of the REST API (``/api/v1``).

- :mod:`~keepwise.web.pages.review`: the overview (``/``, ``/?print=1`` for a printed report), the warnings
  (``/warnings``) and the customers lost (``/lost``), cut from the stored review by
  :mod:`~keepwise.web.pages.reviewed`;
- :mod:`~keepwise.web.pages.decisions`: profitability, the concession advisor, win-back, offers (conjoint),
  outreach and wins;
- :mod:`~keepwise.web.pages.settings`: the assumptions in keepwise.toml (admin);
- :mod:`~keepwise.web.pages.apidocs`: ``/api/v1`` (the handlers of :mod:`keepwise.web.api` mounted there),
  its OpenAPI document and documentation page, and the public stylesheet ``/static/keepwise.css``.

Pages read what the commands stored (:mod:`keepwise.web.data`, :mod:`keepwise.web.stored`); a month nothing
is stored for says which command to run. Long tables come a page at a time (``?page=&per_page=``,
:mod:`keepwise.web.paging`). Every page needs a signed-in user; the manager's pages a manager, settings an
admin (:mod:`keepwise.web.access`).
"""

from keepwise.web.pages import apidocs, decisions, review, settings
from keepwise.web.pages.apidocs import public
from keepwise.web.pages.common import api, currency_of, router

#: The reporting currency of a store (the name :mod:`keepwise.web.customers` imports).
_currency = currency_of

__all__ = ["api", "apidocs", "decisions", "public", "review", "router", "settings"]
