"""``keepwise wins``: why customers choose the business against why they leave, and the declared strengths."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.config import load_config
from keepwise.store.connection import DEFAULT_URL, connect

MonthOption = Annotated[
    str | None,
    typer.Option(
        "--month",
        help="Last month counted, YYYY-MM (default: the data's last month with an order, said in a note).",
        show_default=False,
    ),
]
MonthsOption = Annotated[
    int | None,
    typer.Option("--months", help="Only the trailing N months (default: all history).", show_default=False),
]
HtmlOption = Annotated[
    Path | None,
    typer.Option("--html", help="Also write the table and chart to FILE (offline HTML).", show_default=False),
]


def wins(
    month: MonthOption = None,
    months: MonthsOption = None,
    html: HtmlOption = None,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Reasons customers chose you (the wins table) against reasons they left (exits), by share.

    Declared strengths come from keepwise.toml: [decisions] strengths = ["service", "quality"].
    """
    from keepwise.decisions.wins import wins_against_losses
    from keepwise.report import check_report_path
    from keepwise.report.sections.wins import page
    from keepwise.value.profitability import parse_month

    if month is not None:
        parse_month(month)
    target = check_report_path(html) if html is not None else None
    config = load_config()
    read_only = db.startswith("duckdb:///") and Path(db.removeprefix("duckdb:///")).exists()
    backend = connect(db, read_only=read_only)
    try:
        result = wins_against_losses(backend, month, months=months, config=config)
    finally:
        backend.disconnect()
    if target is not None:
        target.write_text(page(result), encoding="utf-8")
        err.print(f"wrote {target}")
    doc = result.to_json()
    if json_:
        print_json(doc)
        return
    table = Table(title=f"Wins against losses to {doc['month']}")
    for col in ("reason", "strength", "won", "% of wins", "lost", "% of losses"):
        table.add_column(col)
    for r in doc["reasons"]:
        table.add_row(
            r["reason"],
            "declared" if r["declared_strength"] else "",
            str(r["won"]),
            f"{r['won_share']:.1f}%",
            str(r["lost"]),
            f"{r['lost_share']:.1f}%",
        )
    for note in result.notes:
        err.print(f"note: {note}", highlight=False)
    out.print(table)
    for finding in doc["findings"]:
        out.print(f"- {finding}")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("wins")(wins)
