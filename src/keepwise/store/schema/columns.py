"""The machinery of the data contract: column types, :class:`Column` and :class:`Table`.

Each :class:`Table` lists its columns (name, type, whether a value is required, constraints), its key and the
tables it refers to. Loads validate against this declaration, ``keepwise schema`` prints it, the README
documents it and the store creates its tables from it; nothing else restates it.

Conventions (see DESIGN.md): money is an exact ``DECIMAL(18, 4)`` amount next to an ISO 4217 ``currency``
column; timestamps are ``TIMESTAMPTZ`` (a value without a zone is read as UTC); ids are text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ColumnType = Literal["text", "money", "quantity", "minutes", "timestamp", "boolean", "currency", "real"]

#: SQL type each logical column type is stored as.
SQL_TYPES: dict[ColumnType, str] = {
    "text": "VARCHAR",
    "money": "DECIMAL(18,4)",
    "quantity": "DECIMAL(18,4)",
    "minutes": "DECIMAL(18,4)",
    "timestamp": "TIMESTAMPTZ",
    "boolean": "BOOLEAN",
    "currency": "VARCHAR",
    "real": "DOUBLE",
}

#: Bounds every load enforces (see docs/security.md, "Loads"): years of a timestamp, UTC offsets in minutes,
#: the length of an id and of any other text, and the largest product of two :attr:`Table.products` columns.
YEAR_RANGE: tuple[int, int] = (1900, 2200)
MAX_OFFSET_MINUTES = 14 * 60
MAX_ID_LENGTH = 200
MAX_TEXT_LENGTH = 10_000
LINE_TOTAL_LIMIT = 10**10

#: Words for each type in error messages and in ``keepwise schema``.
TYPE_WORDS: dict[ColumnType, str] = {
    "text": "text",
    "money": "a decimal amount",
    "quantity": "a number",
    "minutes": "a number of minutes",
    "timestamp": "a date or timestamp (ISO 8601; without a zone it is read as UTC)",
    "boolean": "true or false",
    "currency": "an ISO 4217 currency code",
    "real": "a floating-point number (model estimates)",
}


@dataclass(frozen=True)
class Column:
    """One column of the contract.

    ``min_value`` rejects values below it (e.g. a negative price); ``allowed`` restricts a text column to a
    set of values; ``references`` names ``(table, column)`` that every non-empty value must exist in.
    """

    name: str
    type: ColumnType
    description: str
    required: bool = False
    min_value: float | None = None
    allowed: tuple[str, ...] | None = None
    references: tuple[str, str] | None = None
    example: str = ""

    @property
    def sql_type(self) -> str:
        """The SQL type the column is stored as."""
        return SQL_TYPES[self.type]


@dataclass(frozen=True)
class Table:
    """One table of the contract: its columns, its key and what it describes."""

    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    loadable: bool = True
    notes: tuple[str, ...] = field(default_factory=tuple)
    #: Pairs of columns whose product must stay below :data:`LINE_TOTAL_LIMIT` (quantity x price is summed
    #: as ``DECIMAL(18, 8)`` by ``keepwise profit``, so a larger line would overflow there).
    products: tuple[tuple[str, str], ...] = ()
    #: ``(who, currency)``: every row of one file for the same ``who`` must use one currency.
    one_currency_per: tuple[str, str] | None = None

    def column(self, name: str) -> Column:
        """Return the column called ``name``."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> list[str]:
        """Column names in declaration order."""
        return [c.name for c in self.columns]

    @property
    def depends_on(self) -> set[str]:
        """Tables this one refers to (they must be loaded first)."""
        return {c.references[0] for c in self.columns if c.references and c.references[0] != self.name}

    def create_sql(self, name: str | None = None) -> str:
        """``CREATE TABLE`` statement for this table (no physical key: loads enforce the key)."""
        cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in self.columns)
        return f'CREATE TABLE IF NOT EXISTS "{name or self.name}" ({cols})'
