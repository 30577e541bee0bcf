"""Checks of staged rows against the data contract, written as SQL so they run in the engine.

A staged table holds the rows of one file exactly as read (text for CSV, native types for Parquet and
DataFrames) plus ``_row``, the row as the user numbers it (in a CSV file the header is row 1, so the first
data row is row 2; in Parquet or a DataFrame the first row is row 1). :func:`first_problem` finds the
earliest row that breaks the contract in one scan and returns a :class:`~keepwise.exceptions.LoadError`
describing it.

Every check reads the value's text, never a rounding cast: a number is digits with at most one point (no
``1_000``, no exponent), money has at most 4 decimals, a timestamp is ISO 8601 with a year from 1900 to 2200
and an offset within +-14:00 (zone names such as ``PST`` are refused: they are ambiguous), text holds no
control characters (NUL, ANSI escapes) and ids are at most 200 characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from keepwise.exceptions import LoadError
from keepwise.store.currencies import ISO_4217
from keepwise.store.schema import Column, Table
from keepwise.store.schema.columns import (
    LINE_TOTAL_LIMIT,
    MAX_ID_LENGTH,
    MAX_OFFSET_MINUTES,
    MAX_TEXT_LENGTH,
    YEAR_RANGE,
)

#: A plain decimal number: optional sign, digits, at most one point (no exponent, no ``_``, no thousands).
NUMBER_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
#: ISO 8601 date or date-time with an optional zone (``Z`` or a numeric offset); the year may be long so
#: that an out-of-range year is named as such.
TIMESTAMP_RE = (
    r"^[0-9]{4,}-[0-9]{2}-[0-9]{2}"
    r"([Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?( ?([Zz]|[+-][0-9]{2}(:?[0-9]{2})?))?)?$"
)
#: The UTC offset at the end of a date-time: groups seconds, fraction, hours, minutes.
OFFSET_RE = r"[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)? ?[+-]([0-9]{2}):?([0-9]{2})?$"
#: A date-time followed by a zone name (``PST``, ``CET``, ``Europe/Warsaw``).
ZONE_NAME_RE = r"^[0-9]{4,}-[0-9]{2}-[0-9]{2}[Tt ][0-9:.]+ ?[A-Za-z][A-Za-z_/+-]+$"
#: Control characters refused in any text: C0 but tab and newlines, DEL and C1 (ANSI escapes start with ESC).
CONTROL_RE = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x{80}-\x{9f}]"
#: ... and in ids, where tabs and newlines are refused too.
ID_CONTROL_RE = r"[\x00-\x1f\x7f\x{80}-\x{9f}]"
#: Fast paths: a value matching these passes every check of its type (except the range checks, which
#: :func:`_fast_ok` adds), so the full checks run only on the rows that do not match one of them.
FAST_AMOUNT_RE = r"^[0-9]{1,14}(\.[0-9]{0,4})?$"
FAST_SIGNED_AMOUNT_RE = r"^-?[0-9]{1,14}(\.[0-9]{0,4})?$"
#: An id of printable ASCII that starts and ends with a visible character, at most MAX_ID_LENGTH long
#: (so that trimming it changes nothing: see :func:`stored_expr`).
FAST_ID_RE = rf"^[!-~]([ -~]{{0,{MAX_ID_LENGTH - 2}}}[!-~])?$"
FAST_TIMESTAMP_RE = (
    r"^(19|20|21)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
    r"([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,9})?)?"
    r"(Z|[+-](0[0-9]|1[0-3])(:?[0-5][0-9])?|[+-]14(:?00)?)?)?$"
)
_SHOWN_CHARS = 40
#: The ISO 4217 codes as an SQL list (LIST_CONTAINS is several times faster than a long IN list).
_CODES = "[" + ", ".join("'" + c + "'" for c in sorted(ISO_4217)) + "]"


def q(name: str) -> str:
    """Quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def lit(value: str) -> str:
    """Quote an SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


def shown(value: str) -> str:
    """A value as an error message quotes it: control characters escaped, long values cut, on one line."""
    text = re.sub(r"[\x00-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", value)
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + f"... ({len(value):,} characters)"
    return lit(text)


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


def is_id(table: Table, col: Column) -> bool:
    """Whether ``col`` holds an id (a key column, a reference or a ``*_id`` column): short, no controls."""
    return col.name in table.key or col.references is not None or col.name.endswith("_id")


@dataclass(frozen=True)
class _Check:
    column: str
    condition: str  # true for a bad row
    problem: str  # message; {value} is replaced by the offending raw value
    across: bool = False  # a check of two columns together (Table.products)


def _number_checks(col: Column, text: str, typed: str) -> list[_Check]:
    plain = f"REGEXP_REPLACE({text}, '^[+-]', '')"
    whole = f"SPLIT_PART({plain}, '.', 1)"
    decimals = f"RTRIM(SPLIT_PART({plain}, '.', 2), '0')"
    return [
        _Check(col.name, f"NOT REGEXP_MATCHES({text}, {lit(NUMBER_RE)})", "not a number: {value}"),
        _Check(col.name, f"LENGTH({decimals}) > 4", "more than 4 decimal places: {value}"),
        _Check(
            col.name,
            f"LENGTH(LTRIM({whole}, '0')) > 14 OR {typed} IS NULL",
            "too large: {value} (at most 14 digits before the decimal point)",
        ),
    ]


def _timestamp_checks(col: Column, text: str, typed: str) -> list[_Check]:
    low, high = YEAR_RANGE
    year = f"TRY_CAST(LEFT(REGEXP_EXTRACT({text}, '^[0-9]+'), 6) AS INTEGER)"
    offset = f"REGEXP_EXTRACT({text}, {lit(OFFSET_RE)}, ['s', 'f', 'h', 'm'])"
    offset_minutes = f"TRY_CAST(NULLIF({offset}.m, '') AS INTEGER)"
    minutes = f"(TRY_CAST({offset}.h AS INTEGER) * 60 + COALESCE({offset_minutes}, 0))"
    return [
        _Check(
            col.name,
            f"REGEXP_MATCHES({text}, {lit(ZONE_NAME_RE)})",
            "time zone name in {value} is ambiguous; write the UTC offset (e.g. 2024-03-31T10:00:00-08:00)",
        ),
        _Check(
            col.name,
            f"NOT REGEXP_MATCHES({text}, {lit(TIMESTAMP_RE)})",
            "unparseable date {value} (use ISO 8601, e.g. 2024-03-31 or 2024-03-31T14:05:00+02:00)",
        ),
        _Check(
            col.name,
            f"{year} IS NULL OR {year} < {low} OR {year} > {high}",
            f"date out of range: {{value}} (years {low} to {high})",
        ),
        _Check(
            col.name,
            f"COALESCE({minutes} > {MAX_OFFSET_MINUTES} OR {offset_minutes} > 59, FALSE)",
            "impossible UTC offset in {value} (offsets run from -14:00 to +14:00)",
        ),
        _Check(
            col.name,
            f"{typed} IS NULL",
            "unparseable date {value} (use ISO 8601, e.g. 2024-03-31 or 2024-03-31T14:05:00+02:00)",
        ),
    ]


def _text_checks(table: Table, col: Column, raw: str) -> list[_Check]:
    value = f"CAST({raw} AS VARCHAR)"
    ident = is_id(table, col)
    limit = MAX_ID_LENGTH if ident else MAX_TEXT_LENGTH
    what = "an id" if ident else "a text"
    return [
        _Check(
            col.name,
            f"REGEXP_MATCHES({value}, {lit(ID_CONTROL_RE if ident else CONTROL_RE)})",
            "control character (NUL, escape sequence or line break) in {value}",
        ),
        _Check(
            col.name,
            f"LENGTH({value}) > {limit}",
            f"too long: {{value}} ({what} has at most {limit:,} characters)",
        ),
    ]


def _checks(table: Table, present: set[str]) -> list[_Check]:
    checks: list[_Check] = []
    for col in table.columns:
        if col.name not in present:
            continue
        raw = q(col.name)
        text = f"NULLIF(TRIM(CAST({raw} AS VARCHAR)), '')"
        is_blank = f"{text} IS NULL"
        typed = typed_expr(col, True)
        if col.required:
            checks.append(_Check(col.name, is_blank, f"missing value ({table.name}.{col.name} is required)"))
        column_checks: list[_Check] = []
        if col.type in ("text", "currency"):
            column_checks += _text_checks(table, col, raw)
        if col.type in ("money", "quantity", "minutes"):
            column_checks += _number_checks(col, text, typed)
        elif col.type == "timestamp":
            column_checks += _timestamp_checks(col, text, typed)
        elif col.type == "boolean":
            column_checks.append(_Check(col.name, f"{typed} IS NULL", "not true or false: {value}"))
        elif col.type == "currency":
            column_checks.append(
                _Check(
                    col.name,
                    f"NOT LIST_CONTAINS({_CODES}, {typed})",
                    "unknown currency {value} (use an ISO 4217 code such as USD, EUR, PLN)",
                )
            )
        if col.min_value is not None:
            what = "price" if col.name == "unit_price" else "value"
            column_checks.append(
                _Check(
                    col.name,
                    f"{typed} < {col.min_value}",
                    f"negative {what} {{value}} ({col.name} must be {col.min_value:g} or more)",
                )
            )
        if col.allowed:
            allowed = ", ".join(lit(a) for a in col.allowed)
            column_checks.append(
                _Check(
                    col.name,
                    f"{typed} NOT IN ({allowed})",
                    "unknown value {value} (allowed: " + ", ".join(col.allowed) + ")",
                )
            )
        # a blank value is the missing-value check's business; COALESCE: an undecidable check is a failure
        checks += [
            _Check(c.column, f"NOT {is_blank} AND COALESCE({c.condition}, TRUE)", c.problem)
            for c in column_checks
        ]
    for left, right in table.products:
        if left in present and right in present:
            a, b = typed_expr(table.column(left), True), typed_expr(table.column(right), True)
            checks.append(
                _Check(
                    right,
                    f"ABS(CAST({a} AS DOUBLE) * CAST({b} AS DOUBLE)) >= {LINE_TOTAL_LIMIT}",
                    f"{left} x {right} is {LINE_TOTAL_LIMIT:,} or more ({right} {{value}}); "
                    "a line must stay below it",
                    across=True,
                )
            )
    return checks


def _fast_ok(table: Table, col: Column, checks: list[_Check]) -> str:
    """SQL true only for a value of ``col`` that passes every one of its ``checks`` (never NULL).

    Values in the common plain forms (printable ASCII ids, plain decimals, ISO timestamps with ``Z`` or an
    offset, upper-case currency codes) are recognised by one cheap test each; for anything else this is
    simply "no check fires". A value the fast test does not recognise is not refused: the full checks name
    the problem.
    """
    raw = f"CAST({q(col.name)} AS VARCHAR)"
    blank_ok = "FALSE" if col.required else f"{raw} IS NULL"
    fast: str | None = None
    if col.type in ("money", "quantity", "minutes") and col.allowed is None and col.min_value in (None, 0):
        pattern = FAST_SIGNED_AMOUNT_RE if col.min_value is None else FAST_AMOUNT_RE
        fast = f"REGEXP_FULL_MATCH({raw}, {lit(pattern)})"
    elif col.type == "timestamp":
        fast = f"(REGEXP_FULL_MATCH({raw}, {lit(FAST_TIMESTAMP_RE)}) AND {typed_expr(col, True)} IS NOT NULL)"
    elif col.type == "currency":
        fast = f"LIST_CONTAINS({_CODES}, {raw})"
    elif col.type == "text" and col.allowed is None and is_id(table, col):
        fast = f"REGEXP_FULL_MATCH({raw}, {lit(FAST_ID_RE)})"
    if fast is not None:
        return f"COALESCE({blank_ok} OR {fast}, FALSE)"
    mine = [c.condition for c in checks if c.column == col.name]
    return "TRUE" if not mine else "NOT COALESCE(" + " OR ".join(f"({c})" for c in mine) + ", FALSE)"


def _fast_across(table: Table, check: _Check) -> str:
    """SQL true for a row that passes the product ``check`` (``Table.products``), cheaply when it is clear.

    Two plain decimals whose texts are together at most as long as the limit has digits multiply to less
    than the limit; only longer pairs are converted and multiplied. (A value that is not a plain decimal
    fails its own column's test, so the shortcut never lets a bad row through.)
    """
    left = next(a for a, b in table.products if b == check.column)
    digits = len(str(int(LINE_TOTAL_LIMIT))) - 1
    short = f"LENGTH(CAST({q(left)} AS VARCHAR)) + LENGTH(CAST({q(check.column)} AS VARCHAR)) <= {digits}"
    return f"CASE WHEN {short} THEN TRUE ELSE NOT COALESCE({check.condition}, FALSE) END"


def first_problem(con: Any, stage: str, table: Table, present: set[str], source: str) -> LoadError | None:
    """The earliest contract violation among the staged rows, or ``None`` when every row is valid.

    A valid file costs one scan with about one cheap test per value (:func:`_fast_ok`); only when a test
    fails does a second scan run every check to find the earliest row at fault and what is wrong with it.
    """
    from keepwise.store.keys import duplicate_key, mixed_currency

    return value_problem(con, stage, table, present, source) or (
        mixed_currency(con, stage, table, present, source) or duplicate_key(con, stage, table, source)
    )


def _is_exact(table: Table, col: Column) -> bool:
    """Whether a value that passes the fast test of ``col`` (:func:`_fast_ok`) is stored exactly as written.

    True for ids (printable ASCII without spaces at either end) and currency codes (one of the list, upper
    case): trimming and upper-casing them (:func:`typed_expr`) changes nothing.
    """
    return col.type == "currency" or (col.type == "text" and col.allowed is None and is_id(table, col))


def stored_expr(col: Column, present: bool, clean: set[str], qualifier: str = "") -> str:
    """SQL for the value of ``col`` as stored: :func:`typed_expr`, or the text itself for a ``clean`` column.

    ``clean`` names the columns whose every value passed an exact fast test (:func:`problem` fills it).
    """
    if present and col.name in clean:
        return f"CAST({(qualifier + '.' if qualifier else '') + q(col.name)} AS VARCHAR)"
    return typed_expr(col, present, qualifier)


def ids_together(cols: list[Column]) -> str:
    """SQL true for a row whose every value of the id columns ``cols`` passes :data:`FAST_ID_RE` (one regex).

    The ids of a row are joined with the character 0x01 (which no fast id holds) and matched by one
    expression with exactly one part per column, which costs less than one match per column. A blank
    optional id (NULL) is an empty part; an empty string is not blank text and fails.
    """
    part = FAST_ID_RE[1:-1]
    texts, patterns, not_empty = [], [], []
    for col in cols:
        raw = f"CAST({q(col.name)} AS VARCHAR)"
        if col.required:
            texts.append(raw)
            patterns.append(part)
        else:
            texts.append(f"COALESCE({raw}, '')")
            patterns.append(f"({part})?")
            not_empty.append(f"COALESCE({raw} <> '', TRUE)")
    joined = " || chr(1) || ".join(texts)
    regex = "^" + "\\x01".join(patterns) + "$"
    test = " AND ".join([f"REGEXP_FULL_MATCH({joined}, {lit(regex)})", *not_empty])
    return f"COALESCE({test}, FALSE)"  # a NULL required id fails the test


def _one_currency(col: Column) -> str:
    """An aggregate true when every value of the currency column ``col`` is one and the same ISO 4217 code.

    A file in one currency is the common case; testing its one value instead of each row's against the list
    of codes saves most of the test's time. When it is false the rows are tested one by one.
    """
    raw = f"CAST({q(col.name)} AS VARCHAR)"
    one = f"MIN({raw}) = MAX({raw}) AND LIST_CONTAINS({_CODES}, MIN({raw}))"
    if col.required:
        return f"COALESCE(COUNT({raw}) = COUNT(*) AND {one}, FALSE)"
    return f"COALESCE(COUNT({raw}) = 0 OR ({one}), FALSE)"


def value_problem(
    con: Any, stage: str, table: Table, present: set[str], source: str, clean: set[str] | None = None
) -> LoadError | None:
    """The earliest row with a value that breaks the contract (types, ranges, the products of columns).

    ``clean``, when given, receives the columns whose every value passed an exact fast test (their text is
    the stored value; :func:`stored_expr`).
    """
    checks = _checks(table, present)
    columns = [c for c in table.columns if c.name in present]
    column_checks = [c for c in checks if not c.across]
    ok = [_fast_ok(table, c, column_checks) for c in columns]
    ok += [_fast_across(table, c) for c in checks if c.across]
    # one aggregate per column, or per group of columns: (SQL, the indexes into ``ok`` it answers for,
    # whether a false answer must be asked again column by column, value by value)
    ids = [i for i, c in enumerate(columns) if c.type == "text" and c.allowed is None and is_id(table, c)]
    ids = ids if len(ids) > 1 else []
    groups: list[tuple[str, list[int], bool]] = (
        [(f"BOOL_AND({ids_together([columns[i] for i in ids])})", ids, True)] if ids else []
    )
    for i, c in enumerate(columns):
        if i not in ids:
            currency = c.type == "currency"
            groups.append((_one_currency(c) if currency else f"BOOL_AND({ok[i]})", [i], currency))
    groups += [(f"BOOL_AND({ok[i]})", [i], False) for i in range(len(columns), len(ok))]
    passed = [False] * len(ok)
    retry: list[int] = []
    if ok:
        answers = con.execute(f"SELECT {', '.join(g[0] for g in groups)} FROM {q(stage)}").fetchone() or ()
        for (_, covered, ask_again), held in zip(groups, answers, strict=True):
            for i in covered:
                passed[i] = bool(held)
            retry += covered if ask_again and not held else []
    if retry:  # not one currency, or some id not plain: each column's own test, row by row
        again = con.execute(f"SELECT {', '.join(f'BOOL_AND({ok[i]})' for i in retry)} FROM {q(stage)}")
        for i, held in zip(retry, again.fetchone() or (), strict=True):
            passed[i] = bool(held)
    all_ok = bool(ok) and all(passed)
    if clean is not None:
        clean.update(c.name for c, held in zip(columns, passed, strict=False) if held and _is_exact(table, c))
    if checks and not all_ok:
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
                source, check.problem.format(value=shown(str(value))), row=row, column=check.column
            )
    return None
