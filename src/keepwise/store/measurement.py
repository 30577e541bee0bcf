"""The measurement stage's tables (experiments, assignments, conjoint studies): created on any engine.

:meth:`~keepwise.store.store.Store.append` creates a table of the contract with its DuckDB ``CREATE TABLE``
statement; a Spark (or other) store gets it here from the contract's columns as an Ibis schema instead, so
that experiments and conjoint studies can be written to every engine.
"""

from __future__ import annotations

from keepwise.store.schema import SCHEMA, ColumnType
from keepwise.store.store import Store

__all__ = ["IBIS_TYPES", "MEASUREMENT_TABLES", "ensure_tables"]

#: The tables the experiments and conjoint stages write.
MEASUREMENT_TABLES = ("experiments", "assignments", "conjoint_studies", "conjoint_estimates")

#: Ibis type of each logical column type (the engine's equivalent of :data:`keepwise.store.schema.SQL_TYPES`).
IBIS_TYPES: dict[ColumnType, str] = {
    "text": "string",
    "money": "decimal(18, 4)",
    "quantity": "decimal(18, 4)",
    "minutes": "decimal(18, 4)",
    "timestamp": "timestamp('UTC')",
    "boolean": "boolean",
    "currency": "string",
    "real": "float64",
}


def ensure_tables(store: Store, names: tuple[str, ...] = MEASUREMENT_TABLES) -> None:
    """Create the tables ``names`` of the contract that the store does not have yet (empty).

    On DuckDB every missing table of the contract is created, as :func:`keepwise.store.connection.
    ensure_tables` does for loads; on other engines only ``names``, from Ibis schemas.
    """
    import ibis

    if store.is_duckdb:
        from keepwise.store.connection import ensure_tables as ensure_contract

        ensure_contract(store)
        return
    existing = set(store.tables())
    for name in names:
        if name in existing:
            continue
        table = SCHEMA[name]
        schema = ibis.schema({c.name: ibis.dtype(IBIS_TYPES[c.type]) for c in table.columns})
        store.backend.create_table(name, schema=schema)
