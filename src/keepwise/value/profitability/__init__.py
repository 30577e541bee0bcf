"""Customer profitability: what each customer really brings in, month by month.

For each customer and month, all in the engine (Ibis over the store, nothing per row in Python):

- ``revenue``: sum of quantity x unit price over order lines; returns are negative quantities, so revenue is
  net of returns;
- ``cogs``: sum of quantity x unit cost (the line's own cost, else the product's standard cost, else zero;
  a returned unit takes its cost back out);
- ``gross_margin`` = revenue - cogs;
- ``cost_to_serve``: time-driven activity-based costing (Kaplan and Anderson, "Time-Driven Activity-Based
  Costing", Harvard Business Review, November 2004): minutes logged on the customer x the cost per minute of
  the staff member *at the time of the log* (``staff_rates`` row with the latest ``valid_from`` not after
  ``started_at``; a rate change in the middle of a month prices each log at its own rate). The cost per minute
  is the cost of capacity supplied over practical capacity, i.e. ``hourly_cost / 60`` when ``hourly_cost`` is
  the cost of one hour of practical capacity. Capacity paid for but not used is *not* put on customers: it is
  its own line, :func:`unused_capacity`;
- ``concessions``: ``incidents.concession_amount``, in the month the incident was resolved (opened, if it is
  not resolved yet);
- ``advocacy_value``: for a referral, its own ``value`` if given, else the configured referral value, else the
  gross margin of the referred customer's first year (the 365 days from their ``acquired_at``, or first
  order; as much of it as the store knows at the end of the period); case studies and reviews: their own
  ``value``, else the configured value. Counted in the month of the advocacy;
- ``profit`` = gross_margin - cost_to_serve - concessions + advocacy_value.

Totals over customers are therefore the customers' *value*: a referred customer's first-year margin counts
once in their own gross margin and once in the referrer's advocacy value. ``operating_profit`` (profit without
advocacy value) sums to what the books show.

Money stays exact: ``DECIMAL`` in the engine and :class:`decimal.Decimal` in Python. Line amounts are exact
8-place products in 64-bit decimals (an overflow is an error, never a wrong figure), summed unrounded, and
each figure of a result row (a customer, or a customer and month) is rounded once to 4 places at the end,
half away from zero. The one division, minute-cost / 60, is exact with half-up rounding (see ``_div60``).
So a lifetime figure is the exact total rounded once; the monthly figures add up to it to within 0.0001
per month (cost to serve and converted amounts only: sums of prices x quantities need no rounding).

Currencies: every amount carries its currency. Amounts are converted to the reporting currency (or to each
customer's own currency) with the fixed rates in ``keepwise.toml`` (``[value.fx]``, 1 unit = rate reporting
currency; the cross rate between two non-reporting currencies is rate_a / rate_b to 12 decimal places). A
currency without a rate is an error that names it. A customer without a currency, and an incident or
advocacy row without one, is taken to be in the customer's currency, else the reporting currency.

Months are calendar months in UTC.

The package is split by concern: :mod:`.base` (periods, the exact money arithmetic in the engine),
:mod:`.ledger` (order lines, concessions, advocacy, currencies: the customer ledger), :mod:`.cost_to_serve`
(staff time and unused capacity), :mod:`.periods` (every period a run asks for as one ranked table: what a
review's month, twelve months and tier movements read) and :mod:`.document` (the JSON of ``keepwise
profit``).
"""

from keepwise.value.profitability.base import (
    COMPONENTS,
    FIELDS,
    MONEY,
    CurrencyView,
    Period,
    View,
    _div60,
    frame,
    latest_month,
    month_label,
    parse_month,
    period,
)
from keepwise.value.profitability.cost_to_serve import unused_capacity
from keepwise.value.profitability.currency import reporting_currency, resolve_currency
from keepwise.value.profitability.document import customer_rows, profit_document
from keepwise.value.profitability.ledger import customer_ledger, profitability, totals

__all__ = [
    "COMPONENTS",
    "FIELDS",
    "MONEY",
    "CurrencyView",
    "Period",
    "View",
    "_div60",
    "customer_ledger",
    "customer_rows",
    "frame",
    "latest_month",
    "month_label",
    "parse_month",
    "period",
    "profit_document",
    "profitability",
    "reporting_currency",
    "resolve_currency",
    "totals",
    "unused_capacity",
]
