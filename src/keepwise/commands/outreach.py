"""``keepwise outreach``: each tier's service level and this month's actions, with their reasons.

``keepwise outreach`` saves the plan in the store's ``outreach_actions`` table (``--no-save``: don't), and
``keepwise outreach done CUSTOMER_ID --month M --action KIND`` (or ``skip``) records what became of an action.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.config import load_config
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL, connect

MonthOption = Annotated[
    str | None,
    typer.Option(
        "--month",
        help="Actions as of the end of this month, YYYY-MM (default: the latest month with data).",
        show_default=False,
    ),
]
SaveOption = Annotated[
    bool,
    typer.Option(
        "--save/--no-save",
        help="Store the plan in the store's outreach_actions table (DuckDB stores), replacing the month's "
        "planned rows; rows marked done or skipped are kept.",
    ),
]
TopOption = Annotated[
    int, typer.Option("--top", min=0, help="Show this many actions of each kind (0: all); --json has all.")
]


sub = typer.Typer(
    invoke_without_command=True,
    help="Service levels by tier and this month's actions; record what was done.",
)


@sub.callback()
def outreach(
    ctx: typer.Context,
    month: MonthOption = None,
    top: TopOption = 20,
    save: SaveOption = True,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Service levels by tier; this month's contacts due, reprice-or-part-ways and re-engagement.

    The rules and their defaults are in keepwise.toml [decisions] (service_contact_days,
    service_response_hours, service_handler, unprofitable_periods, unprofitable_period_months,
    reprice_min_loss, reprice_max_increase, dormant_days); the output lists the ones used. Proactive
    contacts need consent in force (the consent table); without it the action waits for their next
    inbound contact.
    """
    if ctx.invoked_subcommand is not None:
        return

    from keepwise.decisions.service import ACTIONS, save_plan
    from keepwise.decisions.service import outreach as plan_outreach
    from keepwise.value.profitability import parse_month

    if month is not None:
        parse_month(month)
    config = load_config()
    exists = db.startswith("duckdb:///") and Path(db.removeprefix("duckdb:///")).exists()
    backend = connect(db, read_only=exists and not save)
    saved = None
    try:
        plan = plan_outreach(backend, month, config=config)
        if save and getattr(backend, "name", "") == "duckdb":
            saved = {"table": "outreach_actions", **save_plan(backend, plan)}
        elif save:
            err.print("the outreach_actions table is kept on DuckDB stores only: plan not stored")
    finally:
        backend.disconnect()
    doc = {**plan.to_json(), "saved": saved}
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
        f"{counts['re_engage']} to re-engage, {counts['contact']} proactive contacts due; "
        f"{counts['no_consent']} of them without consent to contact wait for their next inbound contact."
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
    if saved is not None:
        err.print(
            f"{saved['saved']:,} planned actions stored in outreach_actions for {doc['month']} "
            f"({saved['kept']:,} done or skipped kept)"
        )


def mark_document(row: dict[str, Any]) -> dict[str, Any]:
    """An ``outreach_actions`` row as ``keepwise outreach done|skip --json`` prints it (and the API too)."""
    return {
        "month": row["month"],
        "customer_id": row["customer_id"],
        "action": row["action"],
        "recommendation": row["recommendation"],
        "status": row["status"],
        "note": row["note"],
        "recorded_at": row["recorded_at"].isoformat(),
    }


def _mark(
    status: str,
    customer_id: str,
    month: str,
    action: str,
    note: str | None,
    at: str | None,
    db: str,
    json_: bool,
) -> None:
    from keepwise.decisions.service import mark
    from keepwise.value.profitability import parse_month

    parse_month(month)
    when = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise KeepwiseInputError(
                f"--at must be a date or time such as 2024-07-02T09:00Z, not '{at}'"
            ) from None
    backend = connect(db)
    try:
        row = mark(backend, month, customer_id, action, status, note=note, at=when)
    finally:
        backend.disconnect()
    doc = mark_document(row)
    if json_:
        print_json(doc)
        return
    out.print(f"{customer_id}: {action} of {month} marked {status} at {doc['recorded_at']}")


CustomerArg = Annotated[str, typer.Argument(help="The customer the action is about.")]
MarkMonth = Annotated[str, typer.Option("--month", help="Month of the plan, YYYY-MM.")]
ActionOption = Annotated[str, typer.Option("--action", help="reprice_or_part_ways, re_engage or contact.")]
NoteOption = Annotated[str | None, typer.Option("--note", help="What was done, in words.")]
AtOption = Annotated[str | None, typer.Option("--at", help="When, e.g. 2024-07-02T09:00Z (default: now).")]


@sub.command("done")
def done(
    customer_id: CustomerArg,
    month: MarkMonth,
    action: ActionOption = "contact",
    note: NoteOption = None,
    at: AtOption = None,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Record that a saved action was done (a contact done counts for the next months' cadence)."""
    _mark("done", customer_id, month, action, note, at, db, json_)


@sub.command("skip")
def skip(
    customer_id: CustomerArg,
    month: MarkMonth,
    action: ActionOption = "contact",
    note: NoteOption = None,
    at: AtOption = None,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Record that a saved action was skipped (a rerun of the month keeps it skipped)."""
    _mark("skipped", customer_id, month, action, note, at, db, json_)


def register(app: typer.Typer) -> None:
    """Add the command group to the CLI."""
    app.add_typer(sub, name="outreach")
