"""``keepwise profit``: each customer's real profit, the tiers and the whale curve for a month.

The stage is :func:`keepwise.value.profit.run`; this module parses the options, calls it and prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer
from rich.table import Table

from keepwise.commands.common import DbOption, JsonOption, _default, err, out, print_json
from keepwise.commands.fit import phrased_for_cli
from keepwise.config import load_config
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL, connect

if TYPE_CHECKING:
    from keepwise.value.profitability import View

MonthOption = Annotated[
    str | None,
    typer.Option(
        "--month", help="Month to report, YYYY-MM (default: the latest month with data).", show_default=False
    ),
]
ViewOption = Annotated[
    str,
    typer.Option("--view", help="month, ttm (trailing twelve months ending with --month) or lifetime."),
]
OutOption = Annotated[
    Path | None,
    typer.Option("--out", help="Also write the JSON document to FILE.", show_default=False),
]


def profit(
    month: MonthOption = None,
    view: ViewOption = "month",
    json_: JsonOption = False,
    out_file: OutOption = None,
    save: Annotated[
        bool,
        typer.Option(
            "--save/--no-save",
            help="Keep the per-customer rows (table profit; profit_ttm, profit_lifetime for the other views) "
            "and the document in the store for the dashboard, replacing the month's.",
        ),
    ] = True,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Each customer's profit after cost of goods, staff time and concessions; tiers and the whale curve.

    Assumptions (reporting currency, exchange rates, referral/review/case-study values, tier shares) come from
    keepwise.toml in the working directory; the output lists the ones used.
    """
    if view not in ("month", "ttm", "lifetime"):
        raise KeepwiseInputError(f"--view '{view}' is not one of: month, ttm, lifetime")
    from keepwise.value.profit import run

    config = load_config()
    exists = db.startswith("duckdb:///") and Path(db.removeprefix("duckdb:///")).exists()
    store = connect(db, read_only=exists and not save)
    try:
        with phrased_for_cli():
            result = run(store, month, config=config, save=save, view=cast("View", view))
    finally:
        store.disconnect()
    doc = result.to_json()
    if out_file is not None:
        out_file.write_text(
            json.dumps(doc, indent=2, default=_default, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        err.print(f"wrote {out_file}")
    if json_:
        print_json(doc)
        return
    _print(doc)


def _margin_label(doc: dict[str, Any]) -> str:
    """``Gross margin``, or what it really is when unit costs are missing or assumed (from the notes)."""
    from keepwise.value.profitability.notes import MARGIN_IS_REVENUE

    cost = next((n for n in doc.get("notes", []) if n["input"] == "orders.unit_cost"), None)
    if cost is None:
        return "Gross margin"
    if cost["instead"] == MARGIN_IS_REVENUE:
        return "Gross margin (= revenue: no unit costs)"
    if "default_margin_rate" in cost["instead"]:
        return "Gross margin (partly assumed)" if " of " in cost["missing"] else "Gross margin (assumed rate)"
    return "Gross margin (some lines without cost)"


def _print(doc: dict[str, Any]) -> None:
    from keepwise.value.profitability.notes import MARGIN_IS_REVENUE

    cur = doc["currency"]
    t = doc["totals"]
    grid = Table(
        title=f"Customer profitability, {doc['view']} to {doc['month']} ({cur})", title_justify="left"
    )
    grid.add_column("line")
    grid.add_column(cur, justify="right")
    for label, key in (
        ("Revenue (net of returns)", "revenue"),
        ("Cost of goods", "cogs"),
        (_margin_label(doc), "gross_margin"),
        ("Cost to serve (staff time)", "cost_to_serve"),
        ("Concessions", "concessions"),
        ("Operating profit", "operating_profit"),
        ("Advocacy value", "advocacy_value"),
        ("Profit incl. advocacy", "profit"),
    ):
        grid.add_row(label, t[key])
    over = doc["unused_capacity"]["cost"].startswith("-")  # worked over capacity: said in words below
    if not over:
        grid.add_row("Unused staff capacity (not on customers)", doc["unused_capacity"]["cost"])
    out.print(grid)
    if over:
        out.print(doc["unused_capacity"]["note"])
    out.print(doc["whale"]["sentence"])
    tiers = Table(title="Tiers", title_justify="left")
    for heading in ("tier", "customers", "% of customers", f"profit ({cur})"):
        tiers.add_column(heading, justify="left" if heading == "tier" else "right")
    for row in doc["tiers"]:
        tiers.add_row(row["tier"], f"{row['customers']:,}", f"{row['customer_share']:.1f}", row["profit"])
    out.print(tiers)
    if "movement" in doc:
        m = doc["movement"]
        out.print(
            f"Since {m['compared_with']}: {m['up']} up, {m['down']} down, {m['new']} new, {m['gone']} gone."
        )
    out.print(
        "Assumptions: " + "; ".join(f"{a['name']} = {a['value']} ({a['from']})" for a in doc["assumptions"])
    )
    notes = doc.get("notes", [])
    if any(n["instead"] == MARGIN_IS_REVENUE for n in notes):
        hint = "set [value] default_margin_rate in keepwise.toml to assume one"
        out.print(f"{MARGIN_IS_REVENUE.capitalize()} ({hint}).", markup=False, style="bold")
    if notes:
        out.print("Notes (inputs missing or assumed):")
        for n in notes:
            out.print(f"- {n['input']}: {n['missing']}; {n['instead']}", markup=False)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("profit")(profit)
