"""From the store to a composed, queued message: the customer's record, the facts of the case, the links.

:func:`prepare` reads the customer (name, address, language), adds the signed one-click unsubscribe link to
marketing messages and composes; :func:`queue` fixes the MIME text (:func:`mime_text`) and puts it in the
outbox once. A flow run reads its customers in one query (:func:`customer_records`) and queues a batch at
a time (:func:`keepwise.messages.outbox.enqueue_batch`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from keepwise.config import MessagesAssumptions
from keepwise.exceptions import KeepwiseInputError
from keepwise.messages.compose import MARKETING_KINDS, Composed, Grant, compose
from keepwise.messages.mime import to_mime
from keepwise.messages.outbox import enqueue
from keepwise.messages.tokens import issue
from keepwise.store.recipients import customer_row, customer_rows, incident_row
from keepwise.store.store import Store, as_store

__all__ = ["customer_record", "customer_records", "incident_facts", "mime_text", "prepare", "queue"]


def customer_record(store: Store, customer_id: str) -> dict[str, Any]:
    """Name, e-mail, language and acquisition date of one customer; an unknown id is an input error."""
    row = customer_row(as_store(store), customer_id)
    if row is None:
        raise KeepwiseInputError(f"no customer '{customer_id}' in the store")
    return row


def incident_facts(
    store: Store, incident_id: str, *, remedy: Grant | None = None, gesture: Grant | None = None
) -> tuple[str, dict[str, Any]]:
    """The customer and the facts of an adjustment letter about ``incident_id``.

    Without a ``remedy`` the incident's own ``concession_amount`` is worded as a credit; an incident with
    neither has nothing to grant and is an input error (an adjustment letter opens with what is granted).
    """
    row = incident_row(as_store(store), incident_id)
    if row is None:
        raise KeepwiseInputError(f"no incident '{incident_id}' in the store")
    customer_id, category, opened_at, status = (
        row[k] for k in ("customer_id", "category", "opened_at", "status")
    )
    amount, currency = row["concession_amount"], row["currency"]
    if remedy is None:
        if amount is None or Decimal(amount) <= 0 or not currency:
            raise KeepwiseInputError(
                f"incident '{incident_id}' has no concession_amount and currency; record the remedy first"
            )
        remedy = Grant("credit", Decimal(amount), str(currency))
    facts = {
        "incident": {"id": incident_id, "category": category, "opened_at": opened_at, "status": status},
        "remedy": remedy,
        "gesture": gesture,
    }
    return str(customer_id), facts


def prepare(
    store: Store,
    cfg: MessagesAssumptions,
    kind: str,
    customer_id: str,
    cause: str,
    facts: dict[str, Any],
    *,
    secret: str | None,
    at: datetime | None = None,
    customer: Mapping[str, Any] | None = None,
) -> tuple[Composed, str | None]:
    """Compose ``kind`` for ``customer_id``; returns the message and its unsubscribe link (marketing only).

    Parameters
    ----------
    store:
        The store.
    cfg:
        The ``[messages]`` settings.
    kind, customer_id, cause, facts:
        What to write, to whom, about what, from which facts.
    secret:
        Signing secret for the unsubscribe link; ``None`` writes a placeholder link (previews only).
    at:
        When the link is issued (default: now).
    customer:
        The customer's record (:func:`customer_record`) when the caller has read it already, e.g. for a
        whole batch with :func:`customer_records`.
    """
    if customer is None:
        customer = customer_record(store, customer_id)
    if not customer["email"]:
        raise KeepwiseInputError(f"customer '{customer_id}' has no e-mail address")
    link: str | None = None
    if kind in MARKETING_KINDS:
        token = issue(secret, customer_id, "unsubscribe", at=at) if secret else "PREVIEW-NOT-SIGNED"
        link = f"{cfg.unsubscribe_url}?token={token}"
    message = compose(
        kind,
        customer_id=customer_id,
        recipient=str(customer["email"]),
        customer_name=str(customer["name"] or customer["email"]),
        language=customer["language"],
        cause=cause,
        facts=facts,
        business_name=cfg.business_name,
        unsubscribe_url=link,
        templates_dir=cfg.templates_dir or None,
    )
    return message, link


def queue(
    store: Store, cfg: MessagesAssumptions, message: Composed, link: str | None, *, at: datetime | None = None
) -> bool:
    """Fix the MIME text of ``message`` and queue it once; False if its idempotency key was already queued."""
    at = at or datetime.now(UTC)
    return enqueue(store, message, mime_text(cfg, message, link, at=at), at=at)


def mime_text(cfg: MessagesAssumptions, message: Composed, link: str | None, *, at: datetime) -> str:
    """The MIME text :func:`queue` fixes for ``message``: sender, date and list headers from ``cfg``."""
    return to_mime(
        message, from_address=cfg.from_address, from_name=cfg.business_name, unsubscribe_url=link, at=at
    )


def customer_records(store: Store, customer_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """:func:`customer_record` of many customers in one query, by id; unknown ids are left out."""
    return customer_rows(as_store(store), customer_ids)


def confirm_facts(cfg: MessagesAssumptions, secret: str, customer_id: str, at: datetime) -> dict[str, Any]:
    """Facts of a double opt-in confirmation: the signed link and the day it expires."""
    token = issue(secret, customer_id, "confirm", at=at)
    return {
        "confirm_url": f"{cfg.confirm_url}?token={token}",
        "expires_at": at + timedelta(days=int(cfg.confirm_days)),
    }
