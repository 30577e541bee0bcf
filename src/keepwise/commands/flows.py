"""``keepwise flows run [--dry-run]``: the automated message flows, safe to run from cron."""

from __future__ import annotations

from typing import Annotated

import typer

from keepwise.commands.common import DbOption, JsonOption, err, print_json
from keepwise.commands.messages import AsOfOption
from keepwise.config import load_config
from keepwise.store.connection import DEFAULT_URL, connect


def run(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be queued; change nothing.")
    ] = False,
    smtp: Annotated[
        str | None, typer.Option("--smtp", help="HOST:PORT of the SMTP server (overrides config).")
    ] = None,
    as_of: AsOfOption = None,
    json_: JsonOption = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Queue each flow's due messages once (holdouts kept out and recorded) and send them.

    With --as-of the run acts as of that moment (who is due, consent, every stamp): for back-filling a
    missed day, or for history that ends before today.
    """
    from keepwise.commands.messages import as_options
    from keepwise.messages import flows
    from keepwise.messages.outbox import LockBusy

    with as_options():
        moment = None if as_of is None else flows.parse_as_of(as_of)
    config = load_config()
    store = connect(db)
    try:
        with as_options():
            result = flows.run(
                store,
                as_of=moment,
                config=config,
                dry_run=dry_run,
                smtp=smtp,
                log=None if json_ else err.print,
            )
    except LockBusy as exc:
        if json_:
            print_json({"skipped": str(exc)})
        else:
            err.print(f"skipped: {exc}")
        return
    finally:
        store.disconnect()
    if json_:
        print_json(result.to_json())
        return
    for note in result.notes:
        err.print(f"note: {note}", highlight=False)
    for why in result.winback_reasons:
        err.print(f"winback {why['customer_id']}: {why['reason']}", highlight=False)
    by_flow = ", ".join(f"{k} {v}" for k, v in result.due.items()) or "none"
    err.print(
        f"as of {result.as_of:%Y-%m-%d %H:%M} UTC: due {sum(result.due.values())} ({by_flow}); "
        f"queued {result.queued}, held out {result.held_out}, already handled {result.already_known}"
        + (" (dry run: nothing written)" if dry_run else "")
    )


def register(app: typer.Typer) -> None:
    """Add ``keepwise flows`` to the app."""
    sub = typer.Typer(help="Automated message flows (win-back, at-risk, incident follow-up, thanks).")
    sub.command("run")(run)
    app.add_typer(sub, name="flows")
