"""``keepwise concession CUSTOMER_ID --cost AMOUNT``: whether a representative may spend this on a problem."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL, connect


def concession(
    customer_id: Annotated[str, typer.Argument(help="The customer with the problem.")],
    cost: Annotated[str, typer.Option("--cost", help="The concession asked for, e.g. 200.00.")],
    incident: Annotated[
        str | None, typer.Option("--incident", help="The incident it is about (default: their latest).")
    ] = None,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Approve, refuse or counter a concession, with the figures and the reasons."""
    from keepwise.decisions.concession import ConcessionAdvisor

    try:
        amount = Decimal(cost)
    except InvalidOperation:
        raise KeepwiseInputError(f"--cost must be an amount such as 200.00, not {cost!r}") from None
    if not amount.is_finite() or amount < 0:
        raise KeepwiseInputError(f"--cost must be an amount of at least 0, not {cost}")
    backend = connect(db)
    try:
        advice = ConcessionAdvisor(backend).advise(customer_id, amount, incident)
    finally:
        backend.disconnect()
    doc = advice.to_json()
    if json_:
        print_json(doc)
        return
    out.print(
        f"[bold]{doc['decision'].upper()}[/bold]  asked {doc['asked']} {doc['currency']}, "
        f"recommended {doc['recommended']} {doc['currency']}"
    )
    for reason in doc["reasons"]:
        out.print(f"- {reason}")
    err.print(f"effect: {doc['effect']['description']}")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("concession")(concession)
