"""Checks of staged rows against the data contract, written as SQL so they run in the engine.

A staged table holds the rows of one file exactly as read (text for CSV, native types for Parquet and
DataFrames) plus ``_row``, the 1-based data row. :func:`first_problem` finds the earliest row that breaks
the contract in one scan and returns a :class:`~keepwise.exceptions.LoadError` describing it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from keepwise.exceptions import LoadError
from keepwise.store.currencies import ISO_4217
from keepwise.store.schema import Column, Table


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def typed_expr(col: Column, present: bool, qualifier: str = "") -> str:
    """SQL for the value of ``col`` converted to its contract type (NULL where it does not convert)."""
    if not present:
        return f"CAST(NULL AS {col.sql_type})"
    raw = (qualifier + "." if qualifier else "") + q(col.name)
    text = f"NULLIF(TRIM(CAST({raw} AS VARCHAR)), '')"
    if col.type == "text":
        return text
    if col.type == "currency":
        return f"UPPER({text})"
    if col.type == "timestamp":
        # ISO 8601 allows hours and minutes before a zone (09:00Z, 09:00+02:00); DuckDB wants seconds there
        minutes_only = (
            f"REGEXP_REPLACE(CAST({raw} AS VARCHAR), '([T ]\\d{{2}}:\\d{{2}})([Zz+-])', '\\1:00\\2')"
        )
        return f"COALESCE(TRY_CAST({raw} AS TIMESTAMPTZ), TRY_CAST({minutes_only} AS TIMESTAMPTZ))"
    if col.type == "boolean":
        return f"TRY_CAST({raw} AS BOOLEAN)"
    return f"TRY_CAST({raw} AS {col.sql_type})"


@dataclass(frozen=True)
class _Check:
    column: str
    condition: str  # true for a bad row
    problem: str  # message; {value} is replaced by the offending raw value


def _checks(table: Table, present: set[str]) -> list[_Check]:
    checks: list[_Check] = []
    for col in table.columns:
        if col.name not in present:
            continue
        raw = q(col.name)
        is_blank = f"NULLIF(TRIM(CAST({raw} AS VARCHAR)), '') IS NULL"
        typed = typed_expr(col, True)
        if col.required:
            checks.append(_Check(col.name, is_blank, f"missing value ({table.name}.{col.name} is required)"))
        if col.type in ("money", "quantity", "minutes"):
            checks.append(_Check(col.name, f"NOT {is_blank} AND {typed} IS NULL", "not a number: {value}"))
            checks.append(
                _Check(
                    col.name,
                    f"NOT {is_blank} AND TRY_CAST({raw} AS DECIMAL(18,8)) <> {typed}",
                    "more than 4 decimal places: {value}",
                )
            )
        elif col.type == "timestamp":
            checks.append(
                _Check(
                    col.name,
                    f"NOT {is_blank} AND {typed} IS NULL",
                    "unparseable date {value} (use ISO 8601, e.g. 2024-03-31 or 2024-03-31T14:05:00+02:00)",
                )
            )
        elif col.type == "boolean":
            checks.append(
                _Check(col.name, f"NOT {is_blank} AND {typed} IS NULL", "not true or false: {value}")
            )
        elif col.type == "currency":
            codes = ", ".join(lit(c) for c in sorted(ISO_4217))
            checks.append(
                _Check(
                    col.name,
                    f"NOT {is_blank} AND {typed} NOT IN ({codes})",
                    "unknown currency {value} (use an ISO 4217 code such as USD, EUR, PLN)",
                )
            )
        if col.min_value is not None:
            what = "price" if col.name == "unit_price" else "value"
            checks.append(
                _Check(
                    col.name,
                    f"{typed} < {col.min_value}",
                    f"negative {what} {{value}} ({col.name} must be {col.min_value:g} or more)",
                )
            )
        if col.allowed:
            allowed = ", ".join(lit(a) for a in col.allowed)
            checks.append(
                _Check(
                    col.name,
                    f"NOT {is_blank} AND {typed} NOT IN ({allowed})",
                    "unknown value {value} (allowed: " + ", ".join(col.allowed) + ")",
                )
            )
    return checks


def first_problem(con: Any, stage: str, table: Table, present: set[str], source: str) -> LoadError | None:
    """The earliest contract violation among the staged rows, or ``None`` when every row is valid."""
    checks = _checks(table, present)
    if checks:
        aggregates = ", ".join(f"MIN(_row) FILTER (WHERE {c.condition})" for c in checks)
        firsts = con.execute(f"SELECT {aggregates} FROM {q(stage)}").fetchone()
        found = [(row, i) for i, row in enumerate(firsts) if row is not None]
        if found:
            row, i = min(found)
            check = checks[i]
            (value,) = con.execute(
                f"SELECT CAST({q(check.column)} AS VARCHAR) FROM {q(stage)} WHERE _row = ?", [row]
            ).fetchone()
            return LoadError(
                source, check.problem.format(value=lit(str(value))), row=row, column=check.column
            )
    return _duplicate_key(con, stage, table, source)


def _duplicate_key(con: Any, stage: str, table: Table, source: str) -> LoadError | None:
    keys = [typed_expr(table.column(k), True) for k in table.key]
    names = ", ".join(f"k{i}" for i in range(len(keys)))
    selected = ", ".join(f"{expr} AS k{i}" for i, expr in enumerate(keys))
    found = con.execute(
        f"""
        SELECT _row, first_row, {names} FROM (
            SELECT _row, {selected},
                   MIN(_row) OVER (PARTITION BY {", ".join(keys)}) AS first_row
            FROM {q(stage)}
        ) WHERE _row > first_row ORDER BY _row LIMIT 1
        """
    ).fetchone()
    if found is None:
        return None
    row, first_row, *values = found
    key = ", ".join(f"{k}={lit(str(v))}" for k, v in zip(table.key, values, strict=True))
    return LoadError(
        source, f"duplicate key ({key}), first seen on row {first_row}", row=row, column=table.key[-1]
    )


def missing_reference(con: Any, stage: str, table: Table, present: set[str], source: str) -> LoadError | None:
    """The first row whose reference (e.g. ``customer_id``) names a row that does not exist in the store."""
    for col in table.columns:
        if not col.references or col.name not in present:
            continue
        ref_table, ref_col = col.references
        typed = typed_expr(col, True, qualifier="s")
        found = con.execute(
            f"""
            SELECT s._row, {typed} FROM {q(stage)} s
            WHERE {typed} IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM {q(ref_table)} r WHERE r.{q(ref_col)} = {typed})
            ORDER BY s._row LIMIT 1
            """
        ).fetchone()
        if found is not None:
            row, value = found
            what = ref_table[:-1] if ref_table.endswith("s") else ref_table
            return LoadError(
                source,
                f"{what} {lit(str(value))} does not exist in {ref_table} "
                f"(load {ref_table} first, or put {ref_table}.csv in the same folder)",
                row=row,
                column=col.name,
            )
    return None
