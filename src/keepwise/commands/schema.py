"""``keepwise schema``: print the data contract, or (``--inputs``) what keepwise needs from your data."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table as RichTable

from keepwise.commands.common import JsonOption, out, print_json
from keepwise.store import schema as contract

#: What keepwise does without a required table (it cannot do without it).
_WITHOUT_REQUIRED = "required: every command needs it (load it first)"


def inputs_document() -> list[dict[str, Any]]:
    """Each input keepwise reads: the required tables, then every optional input of ``INPUTS``."""
    from keepwise.store.inventory import INPUTS, REQUIRED  # imports Ibis: only when asked

    rows: list[dict[str, Any]] = [
        {
            "input": name,
            "required": True,
            "what": contract.table(name).description,
            "used_by": ["every command"],
            "without": _WITHOUT_REQUIRED,
        }
        for name in REQUIRED
    ]
    rows += [
        {"input": i.name, "required": False, "what": i.what, "used_by": list(i.used_by), "without": i.without}
        for i in INPUTS
    ]
    return rows


def inputs_markdown() -> str:
    """The README's table "What keepwise needs from your data", generated from ``INPUTS``."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| data | what it is | used by | without it |", "|---|---|---|---|"]
    for row in inputs_document():
        used = ", ".join(u if u == "every command" else f"`{u}`" for u in row["used_by"])
        lines.append(f"| `{row['input']}` | {cell(row['what'])} | {used} | {cell(row['without'])} |")
    return "\n".join(lines) + "\n"


def schema(
    table: Annotated[str | None, typer.Argument(help="Show only this table.")] = None,
    inputs: Annotated[
        bool,
        typer.Option(
            "--inputs",
            help="Print what keepwise needs from your data: each input, the commands that use it and what "
            "they do without it (markdown; --json: a list).",
        ),
    ] = False,
    json_: JsonOption = False,
) -> None:
    """Print the data contract: every table, its columns, types, keys and constraints."""
    if inputs:
        if json_:
            print_json(inputs_document())
        else:
            typer.echo(inputs_markdown(), nl=False)
        return
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
