"""``keepwise load``: validated, all-or-nothing, idempotent loads of CSV and Parquet files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from keepwise.commands.common import DbOption, JsonOption, err, print_json
from keepwise.store.connection import DEFAULT_URL, connect


def load(
    target: Annotated[str, typer.Argument(help="TABLE (then FILE), or a FILE named TABLE.csv, or a folder.")],
    file: Annotated[Path | None, typer.Argument(help="The CSV or Parquet file to load into TABLE.")] = None,
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Load CSV or Parquet files into the store.

    One bad row loads nothing: the error names the file, row and column. Loading the same file twice changes
    nothing; rows whose key is already stored are updated. A folder is loaded as one all-or-nothing load,
    every TABLE.csv / TABLE.parquet in it, in dependency order.
    """
    from keepwise.store.ingest import load_file, load_path
    from keepwise.store.raw import is_duckdb_file, open_duckdb

    # a DuckDB file is loaded through DuckDB alone (no Ibis, no pandas: a second less of start-up)
    plain = is_duckdb_file(db)
    backend = open_duckdb(db) if plain else connect(db)
    try:
        if file is not None:
            results = [load_file(backend, target, file)]
        else:
            results = load_path(backend, target)
    finally:
        if plain:
            backend.close()
        else:
            backend.disconnect()
    if json_:
        print_json([r.as_dict() for r in results])
    else:
        for r in results:
            err.print(str(r), highlight=False)


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("load")(load)
