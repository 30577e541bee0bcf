"""The Python face of the commands: ``keepwise.load``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import connect
from keepwise.store.ingest import LoadResult, load_file, load_frame, load_path


def load(table: str | None, data: Any, *, db: str | Any | None = None) -> list[LoadResult]:
    """Load a DataFrame, a CSV/Parquet file or a folder into the store, validated and all-or-nothing.

    Parameters
    ----------
    table:
        The contract table to load into (``None`` for a folder, or a file named ``TABLE.csv``).
    data:
        A pandas DataFrame, an Arrow table, or a path.
    db:
        A store URL, an Ibis backend from :func:`keepwise.store.connect`, or ``None`` for the default store.

    Returns
    -------
    list of LoadResult
        One per table loaded: rows, new, updated, unchanged.
    """
    own = db is None or isinstance(db, str)
    backend: Any = connect(db) if db is None or isinstance(db, str) else db
    try:
        if isinstance(data, str | Path):
            if table is None:
                return load_path(backend, data, show_progress=False)
            return [load_file(backend, table, data, show_progress=False)]
        if table is None:
            raise KeepwiseInputError("keepwise.load: name the table when loading a DataFrame")
        return [load_frame(backend, table, data)]
    finally:
        if own:
            backend.disconnect()
