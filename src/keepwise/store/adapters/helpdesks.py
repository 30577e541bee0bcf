"""Ticket exports of Zendesk and Freshdesk -> ``incidents``.

Both write the account's local time without a zone, so an import needs the zone. The requester is matched
to a customer by e-mail (or by the helpdesk's user id linked before); a requester who is no customer is
reported. Statuses map to the contract's three: new, open, pending, on-hold and waiting -> ``open``; solved
and resolved -> ``resolved``; closed -> ``closed``. A ticket merged into another (Zendesk tags it
``closed_by_merge``; in Freshdesk, tag merged tickets ``merged``: its export does not mark them) is not a
complaint of its own and is left out (counted).
"""

from __future__ import annotations

import pandas as pd

from keepwise.store.adapters.base import ROW, Adapter, Context, Mapped
from keepwise.store.adapters.values import as_utc, blank, normal_email, timestamps

__all__ = ["FRESHDESK", "ZENDESK"]

_STATUS = {
    "new": "open",
    "open": "open",
    "pending": "open",
    "hold": "open",
    "on-hold": "open",
    "waiting on customer": "open",
    "waiting on third party": "open",
    "solved": "resolved",
    "resolved": "resolved",
    "closed": "closed",
}


def _incidents(
    f: pd.DataFrame, ctx: Context, out: Mapped, *, source: str, merged_tag: str, cols: dict[str, str]
) -> None:
    tags = f[cols["tags"]].str.lower().str.split(r"[\s,]+", regex=True)
    merged = tags.map(lambda t: merged_tag in t).astype(bool)
    out.skip("tickets merged into another", int(merged.sum()))
    f = f[~merged].reset_index(drop=True)
    status = f[cols["status"]].str.strip().str.lower()
    opened = as_utc(timestamps(f, cols["opened"], ctx.name, ctx.timezone))
    resolved = timestamps(f, cols["resolved"], ctx.name, ctx.timezone)
    if "closed" in cols:
        resolved = resolved.fillna(timestamps(f, cols["closed"], ctx.name, ctx.timezone))
    out.tables["incidents"] = pd.DataFrame(
        {
            "incident_id": f"{source}:" + f[cols["id"]],
            "opened_at": opened,
            "category": f[cols["type"]].str.lower().where(~blank(f[cols["type"]]), None),
            "description": f[cols["subject"]].where(~blank(f[cols["subject"]]), None),
            "status": status.map(_STATUS).fillna(status),
            "resolved_at": as_utc(resolved),
            ROW: f[ROW],
            "_email": normal_email(f[cols["email"]]),
            "_ext": f[cols["requester"]],
            "_client": "",
            "_name": f[cols["name"]],
        }
    )
    out.columns["incidents"] = {
        "incident_id": cols["id"],
        "opened_at": cols["opened"],
        "status": cols["status"],
        "resolved_at": cols["resolved"],
        "_email": cols["email"],
        "_ext": cols["requester"],
    }


_ZENDESK = {
    "id": "Id",
    "email": "Requester email",
    "requester": "Requester id",
    "name": "Requester",
    "subject": "Subject",
    "tags": "Tags",
    "status": "Status",
    "type": "Ticket type",
    "opened": "Created at",
    "resolved": "Solved at",
}

_FRESHDESK = {
    "id": "Ticket ID",
    "email": "Email",
    "requester": "Contact ID",
    "name": "Full name",
    "subject": "Subject",
    "tags": "Tags",
    "status": "Status",
    "type": "Type",
    "opened": "Created time",
    "resolved": "Resolved time",
    "closed": "Closed time",
}


def map_zendesk(frame: pd.DataFrame, ctx: Context) -> Mapped:
    """Map a Zendesk tickets CSV export."""
    out = Mapped()
    _incidents(frame, ctx, out, source="zendesk", merged_tag="closed_by_merge", cols=_ZENDESK)
    return out


def map_freshdesk(frame: pd.DataFrame, ctx: Context) -> Mapped:
    """Map a Freshdesk tickets CSV export."""
    out = Mapped()
    _incidents(frame, ctx, out, source="freshdesk", merged_tag="merged", cols=_FRESHDESK)
    return out


ZENDESK = Adapter(
    name="zendesk",
    title="Zendesk tickets",
    where="Zendesk Admin Center > Account > Tools > Reports > Export > CSV export (tickets)",
    required=(("Id",), ("Requester email",), ("Status",), ("Created at",)),
    signature=(
        "Summation column",
        "Id",
        "Requester",
        "Requester id",
        "Requester email",
        "Requester domain",
        "Subject",
        "Tags",
        "Status",
        "Priority",
        "Via",
        "Ticket type",
        "Created at",
        "Solved at",
    ),
    reads=tuple(dict.fromkeys(_ZENDESK.values())),
    map=map_zendesk,
    creates_customers=False,
    needs_timezone=True,
)

FRESHDESK = Adapter(
    name="freshdesk",
    title="Freshdesk tickets",
    where="Freshdesk > Tickets > Export (CSV), with the contact fields Full name, Contact ID and Email",
    required=(("Ticket ID",), ("Email",), ("Status",), ("Created time",)),
    signature=(
        "Ticket ID",
        "Subject",
        "Status",
        "Priority",
        "Source",
        "Type",
        "Agent",
        "Group",
        "Created time",
        "Resolved time",
        "Closed time",
        "Full name",
        "Contact ID",
        "Email",
    ),
    reads=tuple(dict.fromkeys(_FRESHDESK.values())),
    map=map_freshdesk,
    creates_customers=False,
    needs_timezone=True,
)
