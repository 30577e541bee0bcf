"""``keepwise concessions record|report``: what the representative did, and how concessions worked out."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from keepwise.commands.common import DbOption, JsonOption, out, print_json
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL, connect

sub = typer.Typer(
    help="The concession decision log: record what was done, read the trends.", no_args_is_help=True
)


@sub.command("record")
def record(
    decision_id: Annotated[str, typer.Argument(help="The decision id printed by keepwise concession.")],
    action: Annotated[str, typer.Option("--action", help="What you did: granted or refused.")],
    amount: Annotated[
        str | None,
        typer.Option("--amount", help="Amount granted (default: the amount recommended, or asked)."),
    ] = None,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Record what the representative did about a concession decision."""
    from keepwise.decisions.concession_log import record_action, recorded_document

    if action not in ("granted", "refused"):
        raise KeepwiseInputError(f"--action must be granted or refused, not '{action}'")
    store = connect(db)
    try:
        row = record_action(store, decision_id, action, amount)
    finally:
        store.disconnect()
    doc = recorded_document(row)
    if json_:
        print_json(doc)
        return
    what = f"granted {doc['granted']} {doc['currency']}" if action == "granted" else "refused"
    advice = "following the advice" if doc["followed"] else "overriding the advice"
    out.print(f"{doc['decision_id']}: {what}, {advice} ({doc['recommendation']}).")


@sub.command("report")
def report(
    since: Annotated[
        str | None, typer.Option("--since", help="First month, YYYY-MM (default: everything logged).")
    ] = None,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Granted, refused, advice followed or overridden, outcomes and money spent vs margin kept, by month."""
    from keepwise.config import load_config
    from keepwise.decisions import concession_log

    config = load_config()
    store = connect(db)
    try:
        doc = concession_log.report(store, since, config=config).to_json()
    finally:
        store.disconnect()
    if json_:
        print_json(doc)
        return
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(
        "month",
        "decisions",
        "granted",
        "refused",
        "followed",
        "overrode",
        "stayed",
        "left",
        "quiet",
        box=box.SIMPLE,
    )
    table.add_column(f"spent ({doc['currency']})", justify="right")
    table.add_column("margin after", justify="right")
    for m in doc["months"]:
        g = m["outcomes"]["granted"]
        table.add_row(
            m["month"],
            *(str(v) for v in (m["decisions"], m["granted"], m["refused"], m["followed"], m["overrode"])),
            *(str(g[k]) for k in ("stayed", "left", "quiet")),
            m["spent"],
            m["margin_after_granted"],
        )
    if doc["months"]:
        Console(width=max(out.width, 120)).print(table)
        out.print("(stayed, left and quiet: of those granted a concession)")
    for reason in doc["reasons"]:
        out.print(f"- {reason}")
    for note in doc["notes"]:
        out.print(escape(f"note: {note['input']}: {note['missing']}; {note['instead']}"))


def register(app: typer.Typer) -> None:
    """Add ``keepwise concessions`` to the CLI."""
    app.add_typer(sub, name="concessions")
