"""Letters for the outreach plan's "reprice or part ways" decisions: the facts of ``reprice``, ``partways``.

The outreach stage (:func:`keepwise.decisions.outreach.run`) recommends repricing an unprofitable customer,
or parting ways when no acceptable price would make them pay; its plan is saved in ``outreach_actions`` and
as the stage document ``outreach`` of its month. :func:`outreach_facts` turns the customer's latest such
action into the facts its letter needs (``keepwise messages compose --customer ID --kind reprice|partways``):

- ``reprice``: ``increase_percent`` = the break-even price increase rounded up to a whole percent (as the
  plan's reasons say it),
  ``effective_on`` = the decision's due date plus :data:`NOTICE_DAYS`, ``months`` = the months reviewed;
- ``partways``: ``last_day`` = the decision's due date plus :data:`NOTICE_DAYS` (orders are taken until
  then), ``months``.

Both templates own the relationship honestly (the loss is the business's pricing, not the customer's fault)
and keep the door open.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from keepwise.decisions.service.rules import whole_percent
from keepwise.exceptions import KeepwiseInputError
from keepwise.store import Store, as_store

__all__ = ["KIND_OF", "NOTICE_DAYS", "outreach_facts"]

#: Days of notice between the decision's due date and a new price, or the last day orders are taken.
NOTICE_DAYS = 30

#: The letter for each recommendation of a ``reprice_or_part_ways`` action.
KIND_OF: dict[str, str] = {"reprice": "reprice", "part_ways": "partways"}


def outreach_facts(
    store: Store, customer_id: str, kind: str, month: str | None = None
) -> tuple[str, dict[str, Any]]:
    """The cause (``outreach-YYYY-MM``) and the facts of the ``reprice`` or ``partways`` letter to a customer.

    The action is the customer's ``reprice_or_part_ways`` action of ``month`` (default: their latest one)
    in ``outreach_actions``; its figures come from that month's saved outreach document. A customer without
    one, or whose recommendation is the other letter, is an input error naming the letter that fits.
    """
    store = as_store(store)
    table = "outreach_actions"
    if not store.has_table(table):
        raise KeepwiseInputError("no outreach plan is saved yet: run keepwise outreach first")
    where: dict[str, Any] = {"customer_id": customer_id, "action": "reprice_or_part_ways"}
    if month is not None:
        where["month"] = month
    rows = store.read(table, where=where, columns=["month", "recommendation", "due_at"])
    if rows.empty:
        raise KeepwiseInputError(
            f"customer '{customer_id}' has no reprice-or-part-ways action in the saved outreach plan"
        )
    row = rows.sort_values("month").iloc[-1]
    month_of = str(row["month"])
    doc = store.load_document("outreach", month_of) or {}
    action = next(
        (
            a
            for a in doc.get("actions", [])
            if a["customer_id"] == customer_id and a["action"] == "reprice_or_part_ways"
        ),
        None,
    )
    figures = action["figures"] if action else {}
    planned = KIND_OF.get(str(action["recommendation"] if action else row["recommendation"]))
    if planned is not None and planned != kind:
        raise KeepwiseInputError(
            f"the outreach plan of {month_of} recommends the '{planned}' letter for customer "
            f"'{customer_id}', not '{kind}'"
        )
    due = action.get("due_on") if action else None
    due_on = date.fromisoformat(due) if due else row["due_at"].date()
    notice = due_on + timedelta(days=NOTICE_DAYS)
    months = int(figures.get("months") or 0) or 6
    if kind == "reprice":
        increase = figures.get("break_even_price_increase")
        percent = None if increase is None else whole_percent(increase)
        return f"outreach-{month_of}", {"increase_percent": percent, "effective_on": notice, "months": months}
    return f"outreach-{month_of}", {"last_day": notice, "months": months}
