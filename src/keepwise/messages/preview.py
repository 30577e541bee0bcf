"""A message as it would be sent, without queueing it: what ``keepwise messages compose`` shows.

:func:`preview` composes an adjustment letter about an incident, or any kind of message for a customer,
from the same facts the flows use (the incident's remedy and the advisor's gesture, the customer's latest
exit reason and the win-back offer, the last order, the acquisition date, a confirm link).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from keepwise.config import Config, load_config
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.messages.audience import plain
from keepwise.messages.compose import KINDS, Composed
from keepwise.messages.flows import decided_gesture, decided_offer
from keepwise.messages.prepare import confirm_facts, customer_record, incident_facts, prepare
from keepwise.store.store import Store, as_store

__all__ = ["preview", "preview_facts"]


def preview_facts(
    store: Store, kind: str, customer_id: str, *, config: Config, at: datetime, secret: str | None
) -> tuple[str, dict[str, Any]]:
    """The cause (``preview``) and the facts of a ``kind`` message to ``customer_id``."""
    store = as_store(store)
    customer = customer_record(store, customer_id)
    if kind == "winback":
        e = store.table("exits")
        e = e.filter(e.customer_id == customer_id)
        reason = store.to_pandas(e.reason_code.argmax(e.lost_at))
        return "preview", {"reason": plain(reason), "offer": decided_offer(store, customer_id)}
    if kind == "reengagement":
        o = store.table("orders")
        last = plain(store.to_pandas(o.filter(o.customer_id == customer_id).ordered_at.max()))
        if last is None:
            raise KeepwiseInputError(f"customer '{customer_id}' has no orders to re-engage about")
        return "preview", {"last_order_at": last, "offer": None}
    if kind == "thanks":
        return "preview", {"customer_since": customer["acquired_at"] or at, "offer": None}
    if kind == "confirm":
        return "preview", confirm_facts(config.messages, secret or "PREVIEW-NOT-SIGNED-0000", customer_id, at)
    if kind == "goodbye":
        e = store.table("exits")
        reason = store.to_pandas(e.filter(e.customer_id == customer_id).reason_code.argmax(e.lost_at))
        return "preview", {"reason": plain(reason)}
    if kind in ("reprice", "partways"):
        from keepwise.messages.outreach_letters import outreach_facts

        return outreach_facts(store, customer_id, kind)
    if kind == "adjustment":
        raise BadInput("kind", "an adjustment letter is about an incident: give the incident, not a customer")
    raise BadInput("kind", f"is not a message kind; the kinds are: {', '.join(KINDS)}", kind)


def preview(
    store: Store,
    *,
    incident: str | None = None,
    customer: str | None = None,
    kind: str | None = None,
    config: Config | None = None,
    secret: str | None = None,
    at: datetime | None = None,
) -> Composed:
    """Compose one message without queueing it: about ``incident``, or of ``kind`` to ``customer``.

    Parameters
    ----------
    store:
        The store (read only).
    incident:
        An adjustment letter about this incident (with its remedy and the advisor's extra gesture).
    customer, kind:
        Otherwise, a message of this kind to this customer.
    config:
        The configuration (default: ``keepwise.toml``).
    secret:
        Signing secret for the links; ``None`` writes placeholder links.
    at:
        The moment of composing (default: now).
    """
    store = as_store(store)
    config = config or load_config()
    cfg = config.messages
    at = at or datetime.now(UTC)
    if (incident is None) == (customer is None):
        raise BadInput("incident", "give an incident, or a customer and a kind, not both or neither")
    if incident is not None:
        customer_id, facts = incident_facts(store, incident)
        language = str(customer_record(store, customer_id)["language"] or "en")
        facts["gesture"] = decided_gesture(store, customer_id, incident, facts["remedy"], language)
        message, _link = prepare(store, cfg, "adjustment", customer_id, incident, facts, secret=secret, at=at)
        return message
    assert customer is not None
    if kind is None:
        raise BadInput("kind", f"is needed with a customer (one of: {', '.join(KINDS)})")
    cause, facts = preview_facts(store, kind, customer, config=config, at=at, secret=secret)
    message, _link = prepare(store, cfg, kind, customer, cause, facts, secret=secret, at=at)
    return message
