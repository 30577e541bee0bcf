"""The data contract: every table keepwise stores, declared once.

Each :class:`Table` lists its columns (name, type, whether a value is required, constraints), its key and the
tables it refers to. Loads validate against this declaration, ``keepwise schema`` prints it, the README
documents it and the store creates its tables from it; nothing else restates it.

Conventions (see DESIGN.md): money is an exact ``DECIMAL(18, 4)`` amount next to an ISO 4217 ``currency``
column; timestamps are ``TIMESTAMPTZ`` (a value without a zone is read as UTC); ids are text.

The package: :mod:`~keepwise.store.schema.columns` (types, :class:`Column`, :class:`Table`),
:mod:`~keepwise.store.schema.records` (the record tables a business loads) and
:mod:`~keepwise.store.schema.results` (win reasons, win-back attempts and the tables keepwise's stages write);
this module joins them into :data:`TABLES` and renders the contract.
"""

from __future__ import annotations

from keepwise.store.schema.columns import SQL_TYPES, TYPE_WORDS, Column, ColumnType, Table
from keepwise.store.schema.records import RECORD_TABLES
from keepwise.store.schema.results import RESULT_TABLES
from keepwise.store.schema.team import TEAM_TABLES

__all__ = [
    "SCHEMA",
    "SQL_TYPES",
    "TABLES",
    "TYPE_WORDS",
    "Column",
    "ColumnType",
    "Table",
    "as_dict",
    "load_order",
    "markdown",
    "table",
]

TABLES: tuple[Table, ...] = RECORD_TABLES + RESULT_TABLES + TEAM_TABLES

SCHEMA: dict[str, Table] = {t.name: t for t in TABLES}


def table(name: str) -> Table:
    """Return the declaration of table ``name``; unknown names raise ``KeepwiseInputError``."""
    from keepwise.exceptions import KeepwiseInputError

    try:
        return SCHEMA[name]
    except KeyError:
        known = ", ".join(t.name for t in TABLES if t.loadable)
        raise KeepwiseInputError(f"unknown table '{name}'; the tables are: {known}") from None


def load_order(names: list[str] | set[str] | None = None) -> list[str]:
    """Tables in dependency order (referenced tables first), restricted to ``names`` if given."""
    wanted = set(names) if names is not None else {t.name for t in TABLES}
    ordered: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for dep in sorted(SCHEMA[name].depends_on):
            visit(dep)
        ordered.append(name)

    for t in TABLES:
        if t.name in wanted:
            visit(t.name)
    return [n for n in ordered if n in wanted]


def as_dict() -> dict[str, object]:
    """The whole contract as plain data (``keepwise schema --json``)."""
    return {
        t.name: {
            "description": t.description,
            "key": list(t.key),
            "loadable": t.loadable,
            "columns": [
                {
                    "name": c.name,
                    "type": c.sql_type,
                    "required": c.required,
                    "description": c.description,
                    **({"min_value": c.min_value} if c.min_value is not None else {}),
                    **({"allowed": list(c.allowed)} if c.allowed else {}),
                    **({"references": ".".join(c.references)} if c.references else {}),
                }
                for c in t.columns
            ],
        }
        for t in TABLES
    }


def markdown() -> str:
    """The contract as Markdown, one section per loadable table with a small CSV example (for the README)."""
    parts: list[str] = []
    for t in TABLES:
        if not t.loadable:
            continue
        parts.append(f"### {t.name}\n\n{t.description} Key: `{', '.join(t.key)}`.\n")
        parts.append("| column | type | required | meaning |\n|---|---|---|---|")
        for c in t.columns:
            rule = []
            if c.min_value is not None:
                rule.append(f">= {c.min_value:g}")
            if c.allowed:
                rule.append("one of " + ", ".join(c.allowed))
            if c.references:
                rule.append("must exist in " + ".".join(c.references))
            meaning = c.description + (f" ({'; '.join(rule)})" if rule else "")
            parts.append(f"| `{c.name}` | {c.sql_type} | {'yes' if c.required else ''} | {meaning} |")
        header = ",".join(c.name for c in t.columns)
        example = ",".join(_csv_cell(c.example) for c in t.columns)
        parts.append(f"\n```csv\n{header}\n{example}\n```\n")
    return "\n".join(parts)


def _csv_cell(value: str) -> str:
    return f'"{value}"' if "," in value else value
