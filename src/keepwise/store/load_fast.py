"""The fast way of a load: read, test and convert each row in one pass; check keys and references after.

A valid file is the common case. :func:`save_typed` reads the source once and writes its rows converted to
the contract's types, testing each row on the way with the cheap tests of :mod:`keepwise.store.validate`
(``_fast_ok``: a plain decimal, an ISO timestamp, a printable id, ...). A row that fails a test stops the
statement (DuckDB's ``error()``); the duplicate keys, the one currency per customer and the references are
then checked on the typed rows in one statement. Any doubt raises :class:`Doubt`: the caller rolls the whole
load back and runs the careful way (stage as text, every check, messages naming the file, the row and the
column), so what a user is told about a bad file is exactly what the careful way says.

A first load (the table is empty) writes straight into the table: nothing is staged, nothing spills. A
reload stages the typed rows and upserts them.
"""

from __future__ import annotations

from typing import Any

from keepwise.store.schema import Column, Table
from keepwise.store.schema.columns import MAX_ID_LENGTH, MAX_TEXT_LENGTH
from keepwise.store.validate import (
    FAST_TIMESTAMP_RE,
    _checks,
    _fast_across,
    _fast_ok,
    _is_exact,
    ids_together,
    is_id,
    lit,
    q,
    stored_expr,
)

__all__ = ["DOUBT", "Doubt", "row_test", "typed_select", "who_checks"]

#: The commonest form of a timestamp (``2024-03-31T14:05:00Z``), tested before ``FAST_TIMESTAMP_RE`` (a glob
#: costs half a regular expression). With a year from 1900 to 2199, a value that matches it and converts
#: (:func:`typed_select` stops at one that does not) passes every check of the careful way.
UTC_SECONDS_GLOB = "[12][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z"
#: The message of the ``error()`` that stops a fast read at a row that fails its cheap test.
DOUBT = "keepwise: a row needs the full checks"


class Doubt(Exception):
    """The fast way cannot vouch for the rows: load again the careful way (which names the problem)."""


def _deferred_currency(table: Table, present: set[str]) -> str | None:
    """The currency column whose codes are tested per ``who`` group (:func:`who_checks`), not per row."""
    if table.one_currency_per is None or not set(table.one_currency_per) <= present:
        return None
    return table.one_currency_per[1]


def row_test(table: Table, present: set[str], *, plain: bool = False) -> str:
    """SQL true for a source row whose every value passes its cheap test (``None`` never: false instead).

    The same tests as ``validate.value_problem``'s first scan, row by row: the ids of a row together in one
    regular expression, a plain decimal, an ISO timestamp (that it converts is tested as it is converted:
    :func:`typed_select`), the products of columns. The
    currency of a table with ``one_currency_per`` is only tested for blanks here; its codes are tested once
    per group (:func:`who_checks`). ``plain``: the source is a CSV file of printable ASCII without quotes
    (``readers.plain_csv``), so ids and texts are tested without regular expressions (:func:`_plain_ok`).
    """
    columns = [c for c in table.columns if c.name in present]
    checks = _checks(table, present)
    column_checks = [c for c in checks if not c.across]
    ids = [c for c in columns if c.type == "text" and c.allowed is None and is_id(table, c)]
    ids = ids if len(ids) > 1 and not plain else []
    deferred = _deferred_currency(table, present)
    tests = [ids_together(ids)] if ids else []
    for col in columns:
        if col in ids:
            continue
        if plain and (cheap := _plain_ok(table, col)) is not None:
            tests.append(cheap)
        elif col.name == deferred:
            tests += [f"{q(col.name)} IS NOT NULL"] if col.required else []
        elif col.type == "timestamp":  # that the date exists (no 30 February) is tested as it converts
            raw = f"CAST({q(col.name)} AS VARCHAR)"
            blank_ok = "FALSE" if col.required else f"{raw} IS NULL"
            common = f"{raw} GLOB {lit(UTC_SECONDS_GLOB)} AND {raw} >= '1900' AND {raw} < '2200'"
            regex = f"REGEXP_FULL_MATCH({raw}, {lit(FAST_TIMESTAMP_RE)})"
            tests.append(f"COALESCE({blank_ok} OR CASE WHEN {common} THEN TRUE ELSE {regex} END, FALSE)")
        else:
            tests.append(_fast_ok(table, col, column_checks))
    tests += [_fast_across(table, c) for c in checks if c.across]
    return " AND ".join(f"({t})" for t in tests) or "TRUE"


def _plain_ok(table: Table, col: Column) -> str | None:
    """The cheap test of an id or a text read from a plain CSV file (``readers.plain_csv``), else ``None``.

    Every value of such a file is printable ASCII, so an id passes ``validate.FAST_ID_RE`` exactly when it
    has 1 to ``MAX_ID_LENGTH`` characters and neither starts nor ends with a space; a text holds no control
    character, so only its length (and, when required, that it is not blank) is left to test.
    """
    if col.type != "text" or col.allowed is not None:
        return None
    raw = f"CAST({q(col.name)} AS VARCHAR)"
    if is_id(table, col):
        edges = f"NOT prefix({raw}, ' ') AND NOT suffix({raw}, ' ')"
        ok = f"strlen({raw}) BETWEEN 1 AND {MAX_ID_LENGTH} AND {edges}"
    else:
        ok = f"strlen({raw}) <= {MAX_TEXT_LENGTH}" + (f" AND TRIM({raw}) <> ''" if col.required else "")
    blank_ok = "FALSE" if col.required else f"{raw} IS NULL"
    return f"COALESCE({blank_ok} OR ({ok}), FALSE)"


def typed_select(table: Table, present: set[str], source: str, *, plain: bool = False) -> str:
    """A query of ``source``'s rows as stored (the contract's columns and types), failing at a doubtful row.

    Every row passed its cheap test (or the query stops with :data:`DOUBT`), so ids and currency codes are
    stored as their text (``validate.stored_expr``) and the other values converted as the careful way does.
    ``plain``: ``source`` reads a plain CSV file (``readers.plain_csv``; :func:`row_test`).
    """
    clean = {c.name for c in table.columns if c.name in present and _is_exact(table, c)}
    typed = ", ".join(f"{_stored(col, present, clean)} AS {q(col.name)}" for col in table.columns)
    test = row_test(table, present, plain=plain)
    return f"SELECT {typed} FROM {source} WHERE CASE WHEN {test} THEN TRUE ELSE error('{DOUBT}') END"


def _stored(col: Column, present: set[str], clean: set[str]) -> str:
    """The stored value of ``col``; a timestamp that does not convert (30 February) stops the query."""
    value = stored_expr(col, col.name in present, clean)
    if col.type == "timestamp" and col.name in present:
        return f"CASE WHEN {q(col.name)} IS NULL THEN NULL ELSE COALESCE({value}, error('{DOUBT}')) END"
    return value


def who_checks(con: Any, rows: str, table: Table, present: set[str]) -> dict[str, int]:
    """Check the typed ``rows`` (a table or view of stored values): keys, currencies, references.

    Raises :class:`Doubt` when a key repeats (or two keys share a 64-bit hash: about one load in 400,000
    of 10 million rows then goes the careful way), a ``who`` has several currencies or a code outside ISO
    4217, or a reference names nothing stored. Returns the figures the careful way's checks count
    (``{"distinct customer_id": n}`` when the rows were grouped by it). One statement: each check is a
    subquery of it.
    """
    from keepwise.store.validate import _CODES

    keys = ", ".join(q(k) for k in table.key)  # grouped by their hash: a collision is only a needless doubt
    repeated = f"SELECT 1 FROM {rows} GROUP BY hash({keys}) HAVING COUNT(*) > 1 LIMIT 1"
    parts = [f"(SELECT COUNT(*) FROM ({repeated}))"]
    grouped = _deferred_currency(table, present) is not None and table.one_currency_per is not None
    who_ref: str | None = None
    if grouped and table.one_currency_per is not None:
        who, currency = (q(c) for c in table.one_currency_per)
        ref = table.column(table.one_currency_per[0]).references
        missing = "FALSE"
        if ref is not None:
            who_ref = table.one_currency_per[0]
            missing = f"w IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {q(ref[0])} r WHERE r.{q(ref[1])} = w)"
        parts.append(
            f"""(SELECT [COALESCE(BOOL_OR(bad), FALSE)::INTEGER, COUNT(w)] FROM (
                    SELECT w, (COUNT(c) > 0 AND (MIN(c) <> MAX(c) OR COUNT(c) < COUNT(*)
                               OR NOT LIST_CONTAINS({_CODES}, MIN(c)))) OR ({missing}) AS bad
                    FROM (SELECT {who} AS w, {currency} AS c FROM {rows}) GROUP BY w))"""
        )
    for col in table.columns:
        if col.references and col.name in present and col.name != who_ref:
            ref_table, ref_col = col.references
            parts.append(
                f"""(SELECT COUNT(*) FROM (SELECT 1 FROM {rows} s WHERE s.{q(col.name)} IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM {q(ref_table)} r WHERE r.{q(ref_col)} = s.{q(col.name)})
                    LIMIT 1))"""
            )
    answers = con.execute("SELECT " + ", ".join(parts)).fetchone()
    repeated, *rest = answers
    if repeated:
        raise Doubt("duplicate key")
    facts: dict[str, int] = {}
    if grouped and table.one_currency_per is not None:
        (bad, whos), *rest = rest
        if bad:
            raise Doubt("currencies or customers")
        facts[f"distinct {table.one_currency_per[0]}"] = int(whos)
    if any(rest):
        raise Doubt("missing reference")
    return facts
