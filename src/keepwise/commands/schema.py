"""``keepwise schema``: print the data contract."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table as RichTable

from keepwise.commands.common import JsonOption, out, print_json
from keepwise.store import schema as contract


def schema(
    table: Annotated[str | None, typer.Argument(help="Show only this table.")] = None,
    json_: JsonOption = False,
) -> None:
    """Print the data contract: every table, its columns, types, keys and constraints."""
    tables = [contract.table(table)] if table else list(contract.TABLES)
    if json_:
        doc = contract.as_dict()
        print_json({t.name: doc[t.name] for t in tables})
        return
    for t in tables:
        grid = RichTable(
            title=f"{t.name}  (key: {', '.join(t.key)})" + ("" if t.loadable else "  [written by keepwise]"),
            caption=t.description,
            title_justify="left",
            caption_justify="left",
        )
        for heading in ("column", "type", "required", "constraint", "meaning"):
            grid.add_column(heading)
        for c in t.columns:
            rules = []
            if c.min_value is not None:
                rules.append(f">= {c.min_value:g}")
            if c.allowed:
                rules.append("one of " + ", ".join(c.allowed))
            if c.references:
                rules.append("exists in " + ".".join(c.references))
            if c.type == "currency":
                rules.append("ISO 4217")
            grid.add_row(c.name, c.sql_type, "yes" if c.required else "", "; ".join(rules), c.description)
        out.print(grid)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("schema")(schema)
