"""``keepwise status``: what the store holds."""

from __future__ import annotations

import typer
from rich.table import Table

from keepwise.commands.common import DbOption, JsonOption, out, print_json
from keepwise.store.connection import DEFAULT_URL, redacted
from keepwise.store.status import store_status


def status(db: DbOption = DEFAULT_URL, json_: JsonOption = False) -> None:
    """Show what the store holds: tables, rows, date ranges and customers, and the inputs it lacks."""
    # a URL: a DuckDB file is read with DuckDB alone (no Ibis, no pandas); shown without its password
    doc = {"db": redacted(db), **store_status(db)}
    if json_:
        print_json(doc)
        return
    grid = Table(title=f"keepwise store {doc['db']}", title_justify="left")
    for heading in ("table", "rows", "customers", "from", "to"):
        grid.add_column(heading, justify="right" if heading in ("rows", "customers") else "left")
    for name, row in doc["tables"].items():
        grid.add_row(
            name,
            f"{row['rows']:,}",
            f"{row['customers']:,}" if "customers" in row else "",
            (row.get("first") or "")[:10],
            (row.get("last") or "")[:10],
        )
    out.print(grid)
    if doc["notes"]:
        out.print("Not in the store (every command works without them; `keepwise schema --inputs` says how):")
        for note in doc["notes"]:
            out.print(
                f"  {note['input']}: {note['missing']}; {note['instead']}", markup=False, highlight=False
            )


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("status")(status)
