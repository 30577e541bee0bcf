"""Engine settings keepwise needs for its own output (one statement each, per engine)."""

from __future__ import annotations

from keepwise.store.store import Store

__all__ = ["quiet"]


def quiet(store: Store) -> None:
    """Keep the engine from drawing on stdout: DuckDB shows a progress bar for long queries otherwise.

    stdout belongs to ``--json``; other engines draw nothing there, so this does nothing on them.
    """
    if store.is_duckdb:
        store.sql("SET enable_progress_bar = false")
