"""The figures a load records (:mod:`keepwise.store.stats`), computed by PostgreSQL from the whole tables.

A load into PostgreSQL validates and upserts in DuckDB on a copy of only the stored rows it needs
(:mod:`keepwise.store.postgres_load`), so the figures DuckDB records there describe that copy, not the
table. They are computed here instead, after the load's rows are written, in the same transaction and with
the same queries as :func:`keepwise.store.stats.record` (in PostgreSQL's dialect), so ``keepwise status``
reads the same figures on both engines.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from keepwise.store.schema import SCHEMA
from keepwise.store.stats import COSTED, RECORDED, STATS_DDL, STATS_TABLE, costed_lines, live_counts, scan
from keepwise.store.store import Store

__all__ = ["record_figures"]


def record_figures(store: Store, tables: Sequence[str]) -> None:
    """Record the figures of ``tables`` (those of :data:`~keepwise.store.stats.RECORDED`) as they are now.

    Call inside the load's transaction, after its rows are written.
    """
    present = set(store.tables())
    names = [t for t in dict.fromkeys(tables) if t in RECORDED and t in present]
    sql = _postgres_sql(store)
    store.sql(STATS_DDL)
    figures: dict[str, dict[str, Any]] = {t: scan(sql, SCHEMA[t], stored=_columns(store, t)) for t in names}
    if {"orders", "products"} & set(names):
        counts = live_counts(sql, ["orders", "products"], present=present)
        figures[COSTED] = {
            "rows": int(counts.get("orders", 0)),
            "products": int(counts.get("products", 0)),
            "costed": costed_lines(sql),
        }
    if not figures:
        return
    marks = ", ".join("?" for _ in figures)
    store.sql(f"DELETE FROM {STATS_TABLE} WHERE table_name IN ({marks})", [*figures])
    for name, stats in figures.items():
        text = json.dumps(stats, sort_keys=True)
        store.sql(f"INSERT INTO {STATS_TABLE} VALUES (?, ?, ?)", [name, int(stats["rows"]), text])


def _postgres_sql(store: Store) -> Any:
    """``stats``' statements run on PostgreSQL (DuckDB's ``LIST`` is PostgreSQL's ``array_agg``)."""

    def sql(statement: str, params: Sequence[Any] | None = None) -> list[tuple[Any, ...]]:
        return store.sql(statement.replace("LIST(DISTINCT", "array_agg(DISTINCT"), params)

    return sql


def _columns(store: Store, name: str) -> dict[str, str]:
    """The stored columns of table ``name`` in order, with their PostgreSQL types."""
    rows = store.sql(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
        "AND table_schema = current_schema() AND table_catalog = current_database() "
        "ORDER BY ordinal_position",
        [name],
    )
    return {str(c): str(t) for c, t in rows}
