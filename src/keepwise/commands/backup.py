"""``keepwise backup DIR`` and ``keepwise restore DIR --db URL``: every table as Parquet with a manifest.

The work is :mod:`keepwise.store.backup`; this module parses the options and prints one line per table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keepwise.commands.common import DbOption, JsonOption, err, print_json
from keepwise.store.connection import DEFAULT_URL, connect

DirArgument = Annotated[Path, typer.Argument(help="The backup folder.", show_default=False)]


def backup(folder: DirArgument, json_: JsonOption = False, db: DbOption = DEFAULT_URL) -> None:
    """Write every table of the store to DIR as Parquet, with manifest.json (rows and SHA-256 digests)."""
    from keepwise.store.backup import backup as write

    store = connect(
        db, read_only=db.startswith("duckdb:///") and Path(db.removeprefix("duckdb:///")).exists()
    )
    try:
        manifest = write(store, folder)
    finally:
        store.disconnect()
    if json_:
        print_json(manifest.to_json())
        return
    for t in manifest.tables:
        err.print(f"{t.table}: {t.rows:,} rows  sha256 {t.sha256[:16]}", highlight=False)
    rows = sum(t.rows for t in manifest.tables)
    err.print(f"backed up {len(manifest.tables)} tables ({rows:,} rows) to {folder}", highlight=False)


def restore(folder: DirArgument, json_: JsonOption = False, db: DbOption = DEFAULT_URL) -> None:
    """Restore the backup in DIR into an empty store (--db), through the validated load; digests checked."""
    from keepwise.store.backup import restore as read

    store = connect(db)
    try:
        manifest = read(store, folder)
    finally:
        store.disconnect()
    if json_:
        print_json(manifest.to_json())
        return
    rows = sum(t.rows for t in manifest.tables)
    err.print(
        f"restored {len(manifest.tables)} tables ({rows:,} rows) from {folder}; every digest matches the "
        "manifest",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add ``keepwise backup`` and ``keepwise restore`` to the app."""
    app.command("backup")(backup)
    app.command("restore")(restore)
