"""What a load records about the tables it wrote, so that ``keepwise status`` and the inventory need no scan.

At the end of every load (in its transaction) :func:`record` writes one row per loaded table to
``kw_table_stats``: the row count, the first and last value of the table's first timestamp column, the
number of distinct customers, the values in each column and, for orders, the currencies and the lines with a
unit cost of their own or from their product. Readers (:mod:`keepwise.store.status`,
:mod:`keepwise.store.inventory`) use a recorded row only while the table still has the row count the load
saw; otherwise, and for tables other than :data:`RECORDED`, they compute the same figures with one query
(:func:`scan`).

Only loads write the tables of :data:`RECORDED` (consent is left out: sending changes it), so what a load
recorded stays true until the next load. A program that edits those tables in place with its own SQL, keeping
their row count, should call :func:`forget`.

Every function takes ``sql``: a function running one statement with ``?`` parameters and returning its rows
(``Store.sql``, or a raw DuckDB connection's ``execute(...).fetchall()``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any

from keepwise.store.schema import SCHEMA, Table

__all__ = [
    "COSTED",
    "RECORDED",
    "STATS_DDL",
    "STATS_TABLE",
    "Sql",
    "columns_of",
    "costed_lines",
    "forget",
    "live_counts",
    "record",
    "recorded",
    "scan",
]

#: The table that holds what loads recorded (one row per table; no load time, so that
#: loading the same files again changes nothing).
STATS_TABLE = "kw_table_stats"
#: The statement that creates :data:`STATS_TABLE` (valid on DuckDB and PostgreSQL).
STATS_DDL = f"CREATE TABLE IF NOT EXISTS {STATS_TABLE} (table_name VARCHAR, row_count BIGINT, stats VARCHAR)"
#: The tables whose figures a load records: loadable tables that only loads write.
RECORDED: tuple[str, ...] = (
    "customers",
    "products",
    "orders",
    "time_logs",
    "staff_rates",
    "incidents",
    "exits",
    "advocacy",
    "wins",
    "winback_attempts",
)
#: The name under which the order lines with a unit cost (their own or their product's) are recorded.
COSTED = "orders+products"

Sql = Callable[..., list[tuple[Any, ...]]]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(value: str) -> str:
    """A string literal (statements here take no parameters: DuckDB imports pandas to bind them)."""
    return "'" + value.replace("'", "''") + "'"


def columns_of(sql: Sql, name: str | None = None) -> dict[str, dict[str, str]]:
    """The stored columns of table ``name`` (or of every table) and their DuckDB types, in order."""
    which = "" if name is None else f"table_name = {_lit(name)} AND "
    rows = sql(
        f"SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE {which}"
        "schema_name = 'main' AND database_name = current_database() ORDER BY table_name, column_index"
    )
    found: dict[str, dict[str, str]] = {}
    for table, column, kind in rows:
        found.setdefault(str(table), {})[str(column)] = str(kind)
    return found


def _iso(value: Any) -> str | None:
    """A timestamp (or date) as ``keepwise status`` prints it: ISO 8601, in UTC when it has a zone."""
    if value is None:
        return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).isoformat()
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def scan(
    sql: Sql,
    spec: Table,
    *,
    customers: bool = True,
    stored: dict[str, str] | None = None,
    filled: bool = True,
) -> dict[str, Any]:
    """The figures of table ``spec`` computed from its rows by one query.

    Returns ``rows``; ``first`` and ``last`` (ISO 8601) of its first timestamp column when it has one;
    ``customers`` (distinct non-blank ``customer_id``) when it has that column and ``customers`` is true;
    ``filled``: the values in each column (unless ``filled`` is false); ``currencies`` (sorted) for orders.
    ``stored`` is the table's columns (:func:`columns_of`) when already read.
    """
    stored = columns_of(sql, spec.name).get(spec.name, {}) if stored is None else stored
    times = [c.name for c in spec.columns if c.type == "timestamp" and c.name in stored]
    parts = ["COUNT(*)"]
    if times:
        parts += [f"MIN({_q(times[0])})", f"MAX({_q(times[0])})"]
    count_customers = customers and "customer_id" in stored and "customer_id" in spec.column_names
    if count_customers:
        parts.append('COUNT(DISTINCT "customer_id")')
    counted = list(stored) if filled else []
    parts += [f"COUNT({_q(c)})" for c in counted]
    with_currencies = spec.name == "orders" and "currency" in stored
    if with_currencies:
        parts.append('LIST(DISTINCT "currency") FILTER (WHERE "currency" IS NOT NULL)')
    values = list(sql(f"SELECT {', '.join(parts)} FROM {_q(spec.name)}")[0])
    out: dict[str, Any] = {"rows": int(values.pop(0))}
    if times:
        out["first"], out["last"] = _iso(values.pop(0)), _iso(values.pop(0))
    if count_customers:
        out["customers"] = int(values.pop(0))
    if filled:
        out["filled"] = {c: int(values.pop(0)) for c in counted}
    if with_currencies:
        out["currencies"] = sorted(str(c) for c in (values.pop(0) or []))
    return out


def costed_lines(sql: Sql) -> int:
    """Order lines with a unit cost of their own or from their product (``products.unit_cost``)."""
    ((n,),) = sql(
        'SELECT COUNT(COALESCE(o."unit_cost", p."std_cost")) FROM "orders" o LEFT JOIN '
        '(SELECT "product_id" AS pid, "unit_cost" AS std_cost FROM "products") p ON o."product_id" = p.pid'
    )
    return int(n)


def record(sql: Sql, tables: Sequence[str], known: dict[str, dict[str, int]] | None = None) -> None:
    """Record the figures of ``tables`` (those of :data:`RECORDED`) as they are now; call inside the load.

    ``known``: per table, figures the load already counted (``{"customers": n}``), not counted again.
    """
    sql(STATS_DDL)
    known = known or {}
    figures = {
        t: scan(sql, SCHEMA[t], customers="customers" not in known.get(t, {})) | known.get(t, {})
        for t in dict.fromkeys(tables)
        if t in RECORDED
    }
    if {"orders", "products"} & set(figures):
        counts = live_counts(sql, ["orders", "products"])
        figures[COSTED] = {
            "rows": int(counts["orders"]),
            "products": int(counts["products"]),
            "costed": costed_lines(sql),
        }
    if not figures:
        return
    sql(f"DELETE FROM {STATS_TABLE} WHERE table_name IN ({', '.join(_lit(n) for n in figures)})")
    for name, stats in figures.items():
        text = json.dumps(stats, sort_keys=True)
        sql(f"INSERT INTO {STATS_TABLE} VALUES ({_lit(name)}, {int(stats['rows'])}, {_lit(text)})")


def recorded(
    sql: Sql, rows: dict[str, int], *, present: Collection[str] | None = None
) -> dict[str, dict[str, Any]]:
    """What loads recorded of the tables whose row count is still ``rows[table]`` (the live counts).

    The costed order lines (``"orders+products"``) count only while both orders and products keep theirs.
    ``present``: the tables of the store, when already read.
    """
    if STATS_TABLE not in (columns_of(sql, STATS_TABLE) if present is None else present):
        return {}
    found: dict[str, dict[str, Any]] = {}
    for name, count, text in sql(f"SELECT table_name, row_count, stats FROM {STATS_TABLE}"):
        stats = json.loads(text)
        if name == COSTED:
            fresh = rows.get("orders") == count and rows.get("products") == stats.get("products")
        else:
            fresh = name in RECORDED and rows.get(name) == count
        if fresh:
            found[str(name)] = stats
    return found


def forget(sql: Sql, name: str) -> None:
    """Drop what loads recorded about table ``name`` (after changing its rows other than by a load)."""
    if columns_of(sql, STATS_TABLE):
        sql(f"DELETE FROM {STATS_TABLE} WHERE table_name IN ({_lit(name)}, {_lit(COSTED)})")


def live_counts(sql: Sql, names: Sequence[str], present: Collection[str] | None = None) -> dict[str, int]:
    """``COUNT(*)`` of each table of ``names`` that exists (one query); ``present``: the tables, if known."""
    if present is None:
        here = "schema_name = 'main' AND database_name = current_database()"
        present = {str(t) for (t,) in sql(f"SELECT table_name FROM duckdb_tables() WHERE {here}")}
    wanted = [n for n in names if n in present]
    if not wanted:
        return {}
    union = " UNION ALL ".join(f"SELECT {i}, COUNT(*) FROM {_q(n)}" for i, n in enumerate(wanted))
    return {wanted[int(i)]: int(n) for i, n in sql(union)}
