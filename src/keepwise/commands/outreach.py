"""``keepwise outreach``: each tier's service level and this month's actions, with their reasons."""

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
        help="Actions as of the end of this month, YYYY-MM (default: the latest month with data).",
        show_default=False,
    ),
]
TopOption = Annotated[
    int, typer.Option("--top", min=0, help="Show this many actions of each kind (0: all); --json has all.")
]


def outreach(
    month: MonthOption = None,
    top: TopOption = 20,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Service levels by tier; this month's contacts due, reprice-or-part-ways and re-engagement.

    The rules and their defaults are in keepwise.toml [decisions] (service_contact_days,
    service_response_hours, service_handler, unprofitable_periods, unprofitable_period_months,
    reprice_min_loss, reprice_max_increase, dormant_days); the output lists the ones used.
    """
    from keepwise.decisions.service import ACTIONS
    from keepwise.decisions.service import outreach as plan_outreach
    from keepwise.value.profitability import parse_month

    if month is not None:
        parse_month(month)
    config = load_config()
    read_only = db.startswith("duckdb:///") and Path(db.removeprefix("duckdb:///")).exists()
    backend = connect(db, read_only=read_only)
    try:
        plan = plan_outreach(backend, month, config=config)
    finally:
        backend.disconnect()
    doc = plan.to_json()
    if json_:
        print_json(doc)
        return
    levels = Table(title=f"Service levels (tiers on the twelve months to {doc['month']})")
    for col in ("tier", "customers", "contact every", "answer within", "handled by"):
        levels.add_column(col)
    for lv in doc["service_levels"]:
        levels.add_row(
            lv["tier"],
            f"{lv['customers']:,}",
            f"{lv['contact_every_days']} days",
            f"{lv['response_hours']} h",
            lv["handled_by"],
        )
    out.print(levels)
    counts = doc["counts"]
    out.print(
        f"As of {doc['as_of'][:10]}: {counts['reprice_or_part_ways']} to reprice or part ways, "
        f"{counts['re_engage']} to re-engage, {counts['contact']} proactive contacts due."
    )
    for kind in ACTIONS:
        rows = [a for a in doc["actions"] if a["action"] == kind]
        shown = rows if top == 0 else rows[:top]
        if not shown:
            continue
        out.print(f"\n[bold]{kind.replace('_', ' ')}[/bold] ({len(shown)} of {len(rows)})")
        for a in shown:
            out.print(
                f"[bold]{a['customer_id']}[/bold] ({a['tier']}, {a['recommendation']}): "
                + " ".join(a["reasons"])
            )
    err.print("assumptions: " + ", ".join(f"{a['name']}={a['value']}" for a in doc["assumptions"]))


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("outreach")(outreach)
