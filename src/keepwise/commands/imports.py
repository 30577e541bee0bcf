"""``keepwise import``: read the exports of the tools a business already uses into the store.

Shopify, Stripe, WooCommerce, Toggl, Harvest, Clockify, Zendesk, Freshdesk, or any CSV through a mapping file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from keepwise.commands.common import DbOption, JsonOption, err, print_json
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.store.connection import DEFAULT_URL

if TYPE_CHECKING:
    from keepwise.store.adapters import ImportReport

_OPTIONS = {"timezone": "--timezone", "date_format": "--date-format"}


def import_(
    source: Annotated[
        str,
        typer.Argument(
            help="shopify-orders, shopify-customers, stripe-payments, woocommerce-orders, toggl, harvest, "
            "clockify, zendesk, freshdesk, mapping (then the mapping FILE.yaml), or detect."
        ),
    ],
    files: Annotated[list[Path], typer.Argument(help="The export files (for mapping: FILE.yaml first).")],
    db: DbOption = DEFAULT_URL,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report what would be loaded and every problem; change nothing.")
    ] = False,
    timezone: Annotated[
        str | None,
        typer.Option(
            "--timezone",
            help="Zone of exports written in local time, e.g. Europe/Warsaw.",
            show_default=False,
        ),
    ] = None,
    date_format: Annotated[
        str | None,
        typer.Option(
            "--date-format",
            help="Format of the export's dates when they could be read two ways.",
            show_default=False,
        ),
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Import exports of the tools you use: orders, payments, staff time, tickets.

    Every import is validated and all-or-nothing, like keepwise load; importing the same export twice changes
    nothing. Guest checkouts and customers that cannot be matched for sure are reported, never guessed.
    `keepwise import detect FILE` names the source whose export a file is.
    """
    from keepwise.store import adapters

    if source == "detect":
        ranked = {f.name: adapters.detect(f) for f in files}
        if json_:
            docs = [{"file": name, "fits": fits} for name, fits in ranked.items()]
            print_json(docs if len(docs) > 1 else docs[0])
            return
        for name, fits in ranked.items():
            best = fits[0]
            if best["fit"] == 0:
                raise KeepwiseInputError(f"{name}: no importer fits this header; use keepwise import mapping")
            _say(f"{name}: {best['source']} (fit {best['fit']:.0%})")
        return
    try:
        if source == "mapping":
            from keepwise.store.adapters.mapping import load_mapping

            if len(files) < 2:
                raise KeepwiseInputError(
                    "keepwise import mapping needs the mapping FILE.yaml and then the exports"
                )
            spec, files = load_mapping(files[0]), files[1:]
            target: str | adapters.Adapter = spec
        else:
            target = source
        from keepwise.store.connection import connect

        store = connect(db)
        try:
            report = adapters.import_files(
                store, target, files, timezone=timezone, date_format=date_format, dry_run=dry_run
            )
        finally:
            store.disconnect()
    except BadInput as exc:
        raise KeepwiseInputError(exc.phrased(_OPTIONS.get(exc.field, exc.field))) from None
    if json_:
        print_json(report.as_dict())
        return
    _print(report)


def _print(report: ImportReport) -> None:
    """The report in words on stderr."""
    doing = "would load" if report.dry_run else "loaded"
    state = "dry run: nothing changed" if report.dry_run else "imported"
    _say(f"{report.source}: {', '.join(report.files)} ({state})")
    for table, counts in report.tables.items():
        parts = ", ".join(f"{v:,} {k}" for k, v in counts.items() if k != "rows")
        _say(f"  {table}: {doing} {counts['rows']:,} rows ({parts})")
    _say(f"  customers: {report.customers['new']:,} new, {report.customers['known']:,} known")
    if report.first:
        _say(f"  dates: {report.first[:10]} to {report.last[:10] if report.last else ''}")
    for label, figures in (
        ("revenue", report.revenue),
        ("refunds", report.refunds),
        ("charges", report.charges),
    ):
        if figures:
            _say(f"  {label}: " + ", ".join(f"{v} {k}" for k, v in figures.items()))
    if report.minutes:
        _say(f"  staff time: {report.minutes} minutes")
    for reason, n in report.skipped.items():
        _say(f"  left out: {n:,} {reason}")
    for p in report.problems:
        _say(f"  problem ({p.kind}): {p}")


def _say(text: str) -> None:
    err.print(text, highlight=False, soft_wrap=True, markup=False)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("import")(import_)
