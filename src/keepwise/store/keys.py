"""Checks across the staged rows of a load: duplicate keys, one currency per customer, stored references.

The checks of each value alone are :mod:`keepwise.store.validate`'s; :func:`problem` runs both in the order a
user is told about them (values, then currencies, keys and references) and returns the first problem found.
"""

from __future__ import annotations

from typing import Any

from keepwise.exceptions import LoadError
from keepwise.store.schema import Table
from keepwise.store.validate import q, shown, stored_expr, typed_expr, value_problem

__all__ = ["duplicate_key", "missing_reference", "mixed_currency", "problem"]


def problem(
    con: Any,
    stage: str,
    table: Table,
    present: set[str],
    source: str,
    clean: set[str] | None = None,
    facts: dict[str, int] | None = None,
) -> LoadError | None:
    """The first problem of the staged rows: ``validate.first_problem``, else :func:`missing_reference`.

    The same answer as calling the two in turn, with one aggregate fewer: the rows are grouped by the
    column of ``Table.one_currency_per`` once, and the groups answer both "one currency per customer" and
    "does each customer exist" (the rows of a missing customer are then located as before). ``clean``, when
    given, receives the columns whose text is their stored value (``validate.stored_expr``); ``facts``
    receives ``{"distinct customer_id": n}`` (the distinct non-blank values of that column) when the rows
    were grouped by it.
    """
    clean = set() if clean is None else clean
    found = value_problem(con, stage, table, present, source, clean)
    if found is not None:
        return found
    who_ok = _grouped_by_who(con, stage, table, present, clean)
    mixed, missing = (True, True) if who_ok is None else who_ok[:2]
    if who_ok is not None and facts is not None and table.one_currency_per is not None:
        facts[f"distinct {table.one_currency_per[0]}"] = who_ok[2]
    found = (mixed_currency(con, stage, table, present, source) if mixed else None) or duplicate_key(
        con, stage, table, source, clean
    )
    if found is not None:
        return found
    skip = set() if missing or table.one_currency_per is None else {table.one_currency_per[0]}
    return missing_reference(con, stage, table, present, source, skip=skip)


def _grouped_by_who(
    con: Any, stage: str, table: Table, present: set[str], clean: set[str]
) -> tuple[bool, bool, int] | None:
    """``(mixed, missing, n)``: some ``who`` has several currencies; some ``who`` is not stored; ``n`` whos.

    ``None`` when the table has no ``one_currency_per`` among the columns present (nothing was checked).
    ``missing`` is only computed when ``who`` is a reference (else ``False``).
    """
    if table.one_currency_per is None or not set(table.one_currency_per) <= present:
        return None
    who, currency = table.one_currency_per
    w, c = stored_expr(table.column(who), True, clean), stored_expr(table.column(currency), True, clean)
    ref = table.column(who).references
    missing = "FALSE"
    if ref is not None:
        ref_table, ref_col = ref
        missing = (
            f"BOOL_OR(w IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {q(ref_table)} r WHERE r.{q(ref_col)} = w))"
        )
    mixed, lacking, whos = con.execute(
        f"""SELECT COALESCE(BOOL_OR(mixed), FALSE), COALESCE({missing}, FALSE), COUNT(w) FROM (
                SELECT w, MIN(c) <> MAX(c) OR (COUNT(c) > 0 AND COUNT(c) < COUNT(*)) AS mixed
                FROM (SELECT {w} AS w, {c} AS c FROM {q(stage)}) GROUP BY w)"""
    ).fetchone()
    return bool(mixed), bool(lacking), int(whos)


def mixed_currency(con: Any, stage: str, table: Table, present: set[str], source: str) -> LoadError | None:
    """The first row whose currency differs from an earlier row's for the same ``Table.one_currency_per``."""
    if table.one_currency_per is None or not set(table.one_currency_per) <= present:
        return None
    who, currency = table.one_currency_per
    w, c = typed_expr(table.column(who), True), typed_expr(table.column(currency), True)
    mixed = con.execute(  # a hash aggregate first; the window query below only locates a known problem
        f"""SELECT 1 FROM (SELECT {w} AS w, {c} AS c FROM {q(stage)}) GROUP BY w
            HAVING MIN(c) <> MAX(c) OR (COUNT(c) > 0 AND COUNT(c) < COUNT(*)) LIMIT 1"""
    ).fetchone()
    if mixed is None:
        return None
    found = con.execute(
        f"""
        SELECT _row, first_row, w, c, first_c FROM (
            SELECT _row, {w} AS w, {c} AS c,
                   FIRST({c} ORDER BY _row) OVER (PARTITION BY {w}) AS first_c,
                   MIN(_row) OVER (PARTITION BY {w}) AS first_row
            FROM {q(stage)}
        ) WHERE c IS DISTINCT FROM first_c ORDER BY _row LIMIT 1
        """
    ).fetchone()
    if found is None:
        return None
    row, first_row, who_value, value, first = found
    return LoadError(
        source,
        f"currency {shown(str(value))} differs from {shown(str(first))} on row {first_row} for the same "
        f"{who} {shown(str(who_value))} (one currency per {who} in a file)",
        row=row,
        column=currency,
    )


def duplicate_key(
    con: Any, stage: str, table: Table, source: str, clean: set[str] | None = None
) -> LoadError | None:
    """The first row whose key an earlier row of the file already has (``clean``: see ``stored_expr``)."""
    keys = [stored_expr(table.column(k), True, clean or set()) for k in table.key]
    names = ", ".join(f"k{i}" for i in range(len(keys)))
    selected = ", ".join(f"{expr} AS k{i}" for i, expr in enumerate(keys))
    repeated = con.execute(  # a hash aggregate first; the window query below only locates a known problem
        f"SELECT 1 FROM (SELECT {selected} FROM {q(stage)}) GROUP BY {names} HAVING COUNT(*) > 1 LIMIT 1"
    ).fetchone()
    if repeated is None:
        return None
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
    key = ", ".join(f"{k}={shown(str(v))}" for k, v in zip(table.key, values, strict=True))
    return LoadError(
        source, f"duplicate key ({key}), first seen on row {first_row}", row=row, column=table.key[-1]
    )


def missing_reference(
    con: Any, stage: str, table: Table, present: set[str], source: str, *, skip: set[str] | None = None
) -> LoadError | None:
    """The first row whose reference (e.g. ``customer_id``) names a row that does not exist in the store.

    Columns in ``skip`` are known to refer to existing rows only (checked already).
    """
    for col in table.columns:
        if not col.references or col.name not in present or col.name in (skip or set()):
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
                f"{what} {shown(str(value))} does not exist in {ref_table} "
                f"(load {ref_table} first, or put {ref_table}.csv in the same folder)",
                row=row,
                column=col.name,
            )
    return None
