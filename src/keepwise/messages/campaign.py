"""A win-back campaign a manager approves: the chosen customers' letters queued once, as the flow queues them.

:func:`approve_winback` takes customers from a stored win-back ranking (``keepwise winback``), checks each
one and queues their letters through the win-back flow's own machinery (:mod:`keepwise.messages.flows`):

- the same message as the flow writes: kind ``winback``, cause ``lapse-YYYY-MM-DD`` (the customer's last
  order), the ranking's offer in the customer's language and its reason, so the idempotency key is the
  flow's and a cron run of the flows never sends the same customer a second letter for the same lapse;
- the same control group: the flow's keyed holdout draw (``flow:winback``, ``holdout_share``); a customer
  in it gets a ``held_out`` outbox row and a ``holdout`` assignment, never a letter, so the campaign is
  measured against them (``keepwise experiment analyze flow:winback``);
- consent: a customer without marketing consent in force now, or whose address is on the suppression list,
  is left out (nothing is written for them: a later consent lets the flow write); the sender checks again
  when it sends;
- exactly once: a customer whose letter is already in the outbox (queued, sent or held out, by this or an
  earlier approval or by the flow) gets nothing new.

The approval itself is recorded, one row per chosen customer with its outcome, in ``winback_approvals``
(who approved, when, the ranking's month), in the same transaction as the messages. Queueing holds the
store lock ``outbox``, as a flow run does. The letters go out with the next ``keepwise messages send`` (or
``keepwise flows run``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pandas as pd

from keepwise.config import Config, load_config
from keepwise.exceptions import BadInput
from keepwise.messages import outbox
from keepwise.messages.audience import rhythms, with_address
from keepwise.messages.compose import Grant, message_id_for
from keepwise.messages.consent import Asking, permissions
from keepwise.messages.flows import Due, flow_settings, holdout_unit, queue_batch
from keepwise.store.outbox import require_transactions
from keepwise.store.secret import signing_secret
from keepwise.store.store import Store, as_store

__all__ = ["OUTCOMES", "TABLE", "Approval", "approval", "approve_winback"]

#: Where approvals are recorded, one row per chosen customer.
TABLE = "winback_approvals"

#: What an approval did for each chosen customer.
OUTCOMES = ("queued", "held_out", "already_queued", "not_allowed", "no_address")

#: The most customers one approval may name.
MAX_CUSTOMERS = 10_000


@dataclass
class Approval:
    """What one approval did: who approved which customers of which ranking, and each customer's outcome."""

    approval_id: str
    month: str
    approved_by: str
    approved_at: datetime
    customers: list[dict[str, Any]] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Customers by outcome (every outcome listed, zero or not)."""
        return {o: sum(1 for c in self.customers if c["outcome"] == o) for o in OUTCOMES}

    def to_json(self) -> dict[str, Any]:
        """The approval as the API returns it."""
        return {
            "approval_id": self.approval_id,
            "month": self.month,
            "approved_by": self.approved_by,
            "approved_at": self.approved_at.isoformat(),
            "counts": self.counts,
            "customers": self.customers,
            "next": "the queued letters go out with the next `keepwise messages send` "
            "(or `keepwise flows run`)",
        }


def _chosen(customer_ids: Sequence[str]) -> list[str]:
    ids = list(dict.fromkeys(str(c).strip() for c in customer_ids if str(c).strip()))
    if not ids:
        raise BadInput("customer_ids", "choose at least one customer")
    if len(ids) > MAX_CUSTOMERS:
        raise BadInput("customer_ids", f"at most {MAX_CUSTOMERS:,} customers per approval", len(ids))
    return ids


def _ranking(store: Store, month: str) -> pd.DataFrame:
    """The customers the ranking stored for ``month`` ranks worth a contact; refused when none is stored."""
    from keepwise.decisions.winback import contacts

    ranked = contacts(store, month, compute=False) if store.has_table("winback") else None
    if ranked is None or ranked.empty:
        raise BadInput(
            "month", f"no win-back ranking is stored for {month}; run `keepwise winback --month {month}`"
        )
    return ranked.set_index("customer_id")


def approve_winback(
    store: Store,
    customer_ids: Sequence[str],
    *,
    month: str,
    approved_by: str,
    config: Config | None = None,
    at: datetime | None = None,
) -> Approval:
    """Queue the win-back letters of the chosen customers of ``month``'s stored ranking, once each.

    Parameters
    ----------
    store:
        A transactional store (DuckDB, PostgreSQL) with a win-back ranking stored for ``month``.
    customer_ids:
        The customers the manager chose; each must be ranked worth a contact in ``month``.
    month:
        The ranking's month (``YYYY-MM``), as ``keepwise winback`` stored it.
    approved_by:
        Who approved (the signed-in user's name), recorded with the approval.
    config:
        Settings: ``[messages]`` and the win-back flow's ``holdout_share`` (default: ``keepwise.toml``).
    at:
        The moment of the approval (default: now): consent is checked then and every row stamped with it.

    Raises
    ------
    BadInput
        No customer chosen, no ranking stored for ``month``, or a customer it does not rank worth a contact
        (``field`` ``customer_ids`` or ``month``).
    LockBusy
        A flow run or a send holds the outbox; nothing was written.
    """
    store = as_store(store)
    config = config or load_config()
    at = at or datetime.now(UTC)
    ids = _chosen(customer_ids)
    ranked = _ranking(store, month)
    unknown = [c for c in ids if c not in ranked.index]
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise BadInput(
            "customer_ids", f"not ranked worth a contact in the win-back ranking of {month}: {shown}"
        )
    require_transactions(store)
    outbox.ensure_columns(store)
    cfg = config.messages
    secret = signing_secret(store, cfg.secret_env)
    share = float(flow_settings(config)["winback"]["holdout_share"])
    lapses = {r.customer_id: r for r in rhythms(store, at) if r.customer_id in set(ids)}
    addressed = with_address(store)
    digest = hashlib.sha256(f"{approved_by}\x1f{at.isoformat()}\x1f{','.join(ids)}".encode()).hexdigest()
    result = Approval(f"wb-{at:%Y%m%d%H%M%S}-{digest[:8]}", month, approved_by, at)
    lock = outbox.StoreLock(store, "outbox", timedelta(minutes=int(cfg.lock_minutes)))
    lock.acquire()
    try:
        known = outbox.known_keys(store)
        items: list[Due] = []
        for cid in ids:
            pick, rhythm = ranked.loc[cid], lapses.get(cid)
            cause = f"lapse-{rhythm.last_at:%Y-%m-%d}" if rhythm is not None else f"winback-{month}"
            facts = {
                "reason": None if rhythm is None else rhythm.reason,
                "offer": Grant("other", note=str(pick["offer"])),
                "ranking": str(pick["reason"]),
            }
            items.append(Due("winback", "winback", cid, cause, facts))
        recipients = _recipients(store, [d.customer_id for d in items])
        allowed = permissions(
            store,
            [Asking(d.customer_id, recipients.get(d.customer_id), d.kind, d.cause) for d in items],
            at=at,
            service_days=int(cfg.service_days),
        )
        batch: list[tuple[Due, bool]] = []
        for item, permission in zip(items, allowed, strict=True):
            key = f"{item.customer_id}:{item.kind}:{item.cause}"
            row: dict[str, Any] = {"customer_id": item.customer_id, "message_id": None, "detail": ""}
            if key in known:
                row.update(
                    outcome="already_queued", detail="already in the outbox (sent, queued or held out)"
                )
            elif item.customer_id not in addressed:
                row.update(outcome="no_address", detail="no e-mail address")
            elif not permission.allowed:
                row.update(outcome="not_allowed", detail=permission.reason.replace(" at send time", " now"))
            else:
                held = holdout_unit("flow:winback", item.cause, item.customer_id) < share
                batch.append((item, held))
                row.update(
                    outcome="held_out" if held else "queued",
                    detail="in the win-back flow's control group: never sent" if held else permission.reason,
                )
            if row["outcome"] in ("queued", "held_out", "already_queued"):
                row["message_id"] = message_id_for(key)
            result.customers.append(row)
        with store.transaction():
            if batch:
                queue_batch(store, cfg, batch, secret=secret, at=at)
            store.append(TABLE, _rows(result))
    finally:
        lock.release()
    return result


def _recipients(store: Store, ids: Sequence[str]) -> dict[str, str | None]:
    from keepwise.messages.prepare import customer_records

    return {cid: rec.get("email") for cid, rec in customer_records(store, ids).items()}


def _rows(result: Approval) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "approval_id": result.approval_id,
            "month": result.month,
            "approved_by": result.approved_by,
            "approved_at": pd.Timestamp(result.approved_at),
            "customer_id": [c["customer_id"] for c in result.customers],
            "outcome": [c["outcome"] for c in result.customers],
            "message_id": pd.Series([c["message_id"] for c in result.customers], dtype="string"),
            "detail": [c["detail"] for c in result.customers],
        }
    )


def approval(store: Store, approval_id: str) -> Approval | None:
    """An approval recorded by :func:`approve_winback`, or ``None``."""
    store = as_store(store)
    if not store.has_table(TABLE):
        return None
    rows = store.read(TABLE, where={"approval_id": approval_id})
    if rows.empty:
        return None
    first = rows.iloc[0]
    at = pd.Timestamp(first["approved_at"])
    at = at.tz_convert("UTC") if at.tzinfo else at.tz_localize("UTC")
    found = Approval(approval_id, str(first["month"]), str(first["approved_by"]), at.to_pydatetime())
    for r in rows.itertuples(index=False):
        message_id = None if pd.isna(cast(Any, r.message_id)) else str(r.message_id)
        found.customers.append(
            {"customer_id": str(r.customer_id), "outcome": str(r.outcome), "message_id": message_id,
             "detail": str(r.detail or "")}
        )  # fmt: skip
    return found
