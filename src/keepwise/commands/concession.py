"""``keepwise concession CUSTOMER_ID --cost AMOUNT``: whether a representative may spend this on a problem."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL, connect


def concession(
    customer_id: Annotated[str, typer.Argument(help="The customer with the problem.")],
    cost: Annotated[str, typer.Option("--cost", help="The concession asked for, e.g. 200.00.")],
    incident: Annotated[
        str | None, typer.Option("--incident", help="The incident it is about (default: their latest).")
    ] = None,
    at: Annotated[
        str | None,
        typer.Option("--at", help="When the question was asked, e.g. 2024-03-01T10:00Z (default: now)."),
    ] = None,
    no_log: Annotated[
        bool, typer.Option("--no-log", help="Dry run: do not record the recommendation in the decision log.")
    ] = False,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Approve, refuse or counter a concession, with the figures and the reasons.

    Every recommendation is recorded in the store's decision log (its id is printed); record what you did
    with `keepwise concessions record`.
    """
    import pandas as pd

    from keepwise.decisions import concession as stage

    when = None
    if at is not None:
        try:
            stamp = pd.Timestamp(at)
        except ValueError:
            raise KeepwiseInputError(
                f"--at must be a date or time such as 2024-03-01T10:00Z, not {at!r}"
            ) from None
        when = (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()
    store = connect(db, read_only=no_log)
    try:
        doc = stage.advise(store, customer_id, cost, incident=incident, log=not no_log, at=when).to_json()
    finally:
        store.disconnect()
    if json_:
        print_json(doc)
        return
    out.print(
        f"[bold]{doc['decision'].upper()}[/bold]  asked {doc['asked']} {doc['currency']}, "
        f"recommended {doc['recommended']} {doc['currency']}"
    )
    for reason in doc["reasons"]:
        out.print(f"- {reason}")
    if doc["decision_id"]:
        out.print(
            f"Decision {doc['decision_id']}: record what you did with `keepwise concessions record "
            f"{doc['decision_id']} --action granted|refused`."
        )
    err.print(f"effect: {doc['effect']['description']}")
    for note in doc["notes"]:
        err.print(escape(f"note: {note['input']}: {note['missing']}; {note['instead']}"))


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("concession")(concession)
