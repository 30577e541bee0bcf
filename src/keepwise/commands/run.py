"""``keepwise run``: the whole monthly loop (review, clv, profit, winback, outreach, flows) for one month.

The work is :func:`keepwise.operations.run`; this module parses the options, shows progress on stderr,
prints the summary and turns the outcome into the exit codes schedulers alert on (docs/operations.md):
0 done, 1 a step failed, 2 a user mistake, 75 another run holds the lock or the store is busy.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.store.connection import DEFAULT_URL, connect

StepsOption = Annotated[
    str | None,
    typer.Option(
        "--steps",
        help="Comma-separated steps to run, in the loop's order: review,clv,profit,winback,outreach,flows "
        "(default: all).",
        show_default=False,
    ),
]


def run(
    month: Annotated[
        str | None,
        typer.Option(
            "--month",
            help="Month to run, YYYY-MM (default: the data's last complete month, as keepwise review).",
            show_default=False,
        ),
    ] = None,
    steps: StepsOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Compute every step and print the summary; write nothing.")
    ] = False,
    again: Annotated[
        bool, typer.Option("--again", help="Do the steps already done for this month again.")
    ] = False,
    json_: JsonOption = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Run the monthly loop for one month, each step once, and record the run in the store.

    A rerun of the month skips the steps already done, so after a failure it continues where it stopped.
    Exit codes: 0 done; 1 a step failed; 2 a user mistake (bad option, missing setting); 75 another run
    holds the lock or the store is busy (nothing was done: try again later).
    """
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from keepwise.config import load_config
    from keepwise.messages.outbox import LockBusy
    from keepwise.operations import EXIT_BUSY, EXIT_FAILED, EXIT_USER, StepFailed, parse_steps
    from keepwise.operations import run as monthly
    from keepwise.store.connection import StoreBusy

    chosen = parse_steps(steps)  # a typo costs nothing
    config = load_config()
    progress = Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err, transient=True
    )
    task = progress.add_task("starting", total=len(chosen))

    def show(step: str, index: int, total: int) -> None:
        progress.update(task, description=f"step {index + 1}/{total}: {step}", completed=index)

    try:
        store = connect(db, read_only=False)
    except StoreBusy as exc:
        err.print(f"busy: {escape(str(exc))}", soft_wrap=True)
        raise typer.Exit(EXIT_BUSY) from None
    try:
        with progress:
            result = monthly(
                store, month, steps=chosen, dry_run=dry_run, again=again, config=config, on_step=show
            )
    except LockBusy as exc:
        err.print(f"busy: {escape(str(exc))}; nothing was done", soft_wrap=True)
        raise typer.Exit(EXIT_BUSY) from None
    except StepFailed as exc:
        if json_:
            print_json({"error": str(exc), "step": exc.step, "month": exc.month})
        err.print(f"error: {escape(str(exc))}", soft_wrap=True)  # one line, for the scheduler's log
        raise typer.Exit(EXIT_USER if exc.user else EXIT_FAILED) from None
    finally:
        store.disconnect()
    if json_:
        print_json(result.to_json())
        return
    title = f"[bold]keepwise run {result.month}[/bold]" + (" (dry run: nothing written)" if dry_run else "")
    out.print(title)
    for s in result.steps:
        took = f" ({s.seconds:.1f} s)" if s.outcome == "done" else ""
        what = "skipped (already done for this month)" if s.outcome == "skipped" else s.outcome
        out.print(f"  {s.step:<9} {what}{took}: {escape(s.headline)}", highlight=False, soft_wrap=True)
        for note in s.notes:
            err.print(f"    note: {escape(note)}", highlight=False, soft_wrap=True)
    for note in result.notes:
        err.print(f"note: {escape(note)}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("run")(run)
