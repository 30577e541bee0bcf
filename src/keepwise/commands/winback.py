"""``keepwise winback``: which lost customers to win back, with what offer, ranked by expected value."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.config import load_config
from keepwise.exceptions import KeepwiseInputError
from keepwise.money import shown
from keepwise.store.connection import DEFAULT_URL, connect

MonthOption = Annotated[
    str | None,
    typer.Option(
        "--month",
        help="Lost customers of the twelve months to this month, YYYY-MM (default: the last complete month).",
        show_default=False,
    ),
]
StudyOption = Annotated[
    Path | None,
    typer.Option(
        "--study",
        help="The stored conjoint study's YAML file: its prohibited offers are never proposed (default: the "
        "prohibitions saved with the study by keepwise conjoint estimate --save NAME --study FILE).",
        show_default=False,
    ),
]
TopOption = Annotated[
    int,
    typer.Option("--top", help="List this many customers worth a contact (0: all).", show_default=True),
]
SaveOption = Annotated[
    bool,
    typer.Option(
        "--save/--no-save",
        help="Store the ranking in the store's winback table and its document for the dashboard, replacing "
        "the month's rows.",
    ),
]


def winback(
    month: MonthOption = None,
    top: TopOption = 20,
    study: StudyOption = None,
    save: SaveOption = True,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Rank lost customers by the expected value of winning them back, with the offer and the reasons.

    Moved-away and closed-down customers are listed, never ranked; unprofitable ones, and those the business
    marked exits.wanted_back = false, get a graceful goodbye. Failed past attempts on a customer lower their
    chance. With a stored conjoint study the offer comes from it (--study FILE leaves prohibited offers out).
    The figures behind it are in keepwise.toml [decisions] (winback_low, winback_high, winback_prior_weight,
    winback_months, contact_cost, offers, offer_costs, winback_not_candidates); the output lists them.
    The ranking is saved in the store's winback table for the dashboard (--no-save: don't).
    """
    from keepwise.decisions import winback as stage

    if top < 0:
        raise KeepwiseInputError(f"--top must be 0 (all) or more, not {top}")
    read_only = not save and db.startswith("duckdb:///") and Path(db.removeprefix("duckdb:///")).exists()
    store = connect(db, read_only=read_only)
    try:
        doc = stage.run(store, month, config=load_config(), top=top or None, study=study, save=save).to_json()
    finally:
        store.disconnect()
    if json_:
        print_json(doc)
        return
    cur = doc["currency"]
    counts = doc["counts"]
    out.print(
        f"[bold]Win-back, {doc['month']}[/bold]: {doc['lost_customers']} lost customers; "
        f"{counts['contact']} worth a contact, {counts['not_worth_contact']} not worth one, "
        f"{counts['not_wanted']} not wanted (goodbye), {counts['not_candidate']} not candidates "
        f"(moved or closed), {counts['won_back']} already won back."
    )
    for row in doc["ranked"]:
        out.print(
            f"\n{row['rank']:>3}. [bold]{row['customer_id']}[/bold]  expected value "
            f"{shown(row['expected_value'], cur)}  chance {row['chance'] * 100:.1f}%  "
            f"offer: {escape(row['offer']['text'])}"
        )
        for reason in row["reasons"]:
            out.print(f"     - {escape(reason)}")
    out.print(f"\nOffer: {escape(doc['offer_source'])}")
    err.print(f"rule: {doc['rule']}")
    for note in doc["notes"]:
        err.print(escape(f"note: {note['input']}: {note['missing']}; {note['instead']}"))


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("winback")(winback)
