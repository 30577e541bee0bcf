"""``keepwise outreach``: each tier's service level and this month's actions, with their reasons.

``keepwise outreach`` saves the plan in the store's ``outreach_actions`` table (``--no-save``: don't), and
``keepwise outreach done CUSTOMER_ID --month M --action KIND`` (or ``skip``) records what became of an action.
Each reprice-or-part-ways action names its letter (``keepwise messages compose --customer ID --kind reprice``
or ``partways``), composed from the saved plan.
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
        help="Store the plan in the store's outreach_actions table, replacing the month's planned rows; rows "
        "marked done or skipped are kept.",
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
    from keepwise.decisions import outreach as stage
    from keepwise.decisions.service import ACTIONS
    from keepwise.messages.outreach_letters import KIND_OF

    exists = db.startswith("duckdb:///") and Path(db.removeprefix("duckdb:///")).exists()
    store = connect(db, read_only=exists and not save)
    try:
        result = stage.run(store, month, config=load_config(), top=top or None, save=save)
    finally:
        store.disconnect()
    doc = result.to_json()
    saved = doc["saved"]
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
        shown = result.shown(kind)
        if not shown:
            continue
        out.print(f"\n[bold]{kind.replace('_', ' ')}[/bold] ({len(shown)} of {len(rows)})")
        for a in shown:
            out.print(
                f"[bold]{a['customer_id']}[/bold] ({a['tier']}, {a['recommendation']}): "
                + " ".join(a["reasons"])
            )
            letter = KIND_OF.get(a["recommendation"]) if kind == "reprice_or_part_ways" else None
            if letter and saved is not None:
                out.print(
                    f"  letter: keepwise messages compose --customer {a['customer_id']} --kind {letter}",
                    markup=False,
                )
    err.print("assumptions: " + ", ".join(f"{a['name']}={a['value']}" for a in doc["assumptions"]))
    for n in doc.get("notes", []):
        err.print(f"note: {n['input']}: {n['missing']}; {n['instead']}", markup=False)
    if saved is not None:
        err.print(
            f"{saved['saved']:,} planned actions stored in outreach_actions for {doc['month']} "
            f"({saved['kept']:,} done or skipped kept)"
        )


def mark_document(row: dict[str, Any]) -> dict[str, Any]:
    """An ``outreach_actions`` row as ``keepwise outreach done|skip --json`` prints it.

    Lives in :func:`keepwise.decisions.outreach.mark_document`; kept importable from here.
    """
    from keepwise.decisions.outreach import mark_document as document

    return document(row)


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
    from keepwise.decisions import outreach as stage
    from keepwise.decisions.service import ACTIONS
    from keepwise.value.profitability import parse_month

    parse_month(month)
    if action not in ACTIONS:
        raise KeepwiseInputError(f"--action must be one of {', '.join(ACTIONS)}, not '{action}'")
    when = None
    if at is not None:
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise KeepwiseInputError(
                f"--at must be a date or time such as 2024-07-02T09:00Z, not '{at}'"
            ) from None
    store = connect(db)
    try:
        doc = stage.mark(store, customer_id, month, status, action, note, at=when).to_json()
    finally:
        store.disconnect()
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
