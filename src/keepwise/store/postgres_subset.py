"""The stored rows a load into PostgreSQL needs, and copying just those into the load's DuckDB connection.

A load into PostgreSQL runs the DuckDB load (:mod:`keepwise.store.ingest`) on an in-memory copy
(:mod:`keepwise.store.postgres_load`). What that load reads of the stored tables is fixed by the files:

* of the table it loads, the stored rows of the keys the files hold (the upsert compares and replaces
  them; ``new``, ``updated`` and ``unchanged`` are counted on them);
* of each table the files refer to (``orders.customer_id`` -> ``customers``), the rows the files name
  (a reference to anything else is refused as missing, as it would be on the whole table).

:func:`wanted_rows` reads the files ahead in DuckDB (exactly as the load will, the same typed values) and
returns those keys; :func:`mirror_rows` sends them to PostgreSQL in a temporary table and copies the
matching rows, which PostgreSQL finds in one scan with a hash of the keys. Consent and its events are
rebuilt by rules over a customer's whole history (:mod:`keepwise.store.consent_history`), so they are
copied whole; so is a table without a key. When a file cannot be read ahead, every table is copied whole:
the load then refuses the file with its own message, or loads it exactly as before.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from keepwise.store.consent_history import EVENTS
from keepwise.store.postgres import copy_rows, frame_rows, pg_type
from keepwise.store.schema import Column, Table
from keepwise.store.schema.columns import YEAR_RANGE
from keepwise.store.store import Store
from keepwise.store.validate import lit, q, typed_expr

__all__ = ["Wanted", "mirror_rows", "sources_of", "wanted_rows"]

#: Tables a load rebuilds from a customer's whole history: copied whole when loaded.
WHOLE = {"consent": ("consent", EVENTS)}

_names = itertools.count()


@dataclass(frozen=True)
class Wanted:
    """Stored rows whose ``columns`` hold one of the rows of ``values`` (an Arrow table, same columns)."""

    columns: tuple[str, ...]
    values: Any

    def to_postgres(self, store: Store, table: str, prefix: str = "_kw_want") -> str:
        """Copy the values into a new temporary table typed as ``table``'s columns; its quoted name."""
        temp = f"{prefix}_{next(_names)}"
        schema = store.table(table).schema()
        typed = ", ".join(f"{store.quote(c)} {pg_type(schema[c])}" for c in self.columns)
        store.sql(f"CREATE TEMP TABLE {store.quote(temp)} ({typed}) ON COMMIT DROP")
        copy_rows(store.backend.con, temp, list(self.columns), frame_rows(self.values))
        store.sql(f"ANALYZE {store.quote(temp)}")
        return store.quote(temp)


def sources_of(run: Callable[..., Any]) -> list[Any] | None:
    """The sources a load will read (``ingest``'s staged files or frames), or ``None`` if not found.

    ``run`` is the DuckDB load that :mod:`keepwise.store.ingest` hands over: a function closing over its
    list of sources (each with ``table``, ``kind``, ``data`` and ``columns``). Anything else gives ``None``,
    and the load copies whole tables.
    """
    cells = [c.cell_contents for c in getattr(run, "__closure__", None) or () if _filled(c)]
    cells += list(getattr(run, "args", ()))  # a functools.partial
    for value in cells:
        if isinstance(value, list) and value and all(_is_source(s) for s in value):
            return value
    return None


def _filled(cell: Any) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _is_source(s: Any) -> bool:
    return all(hasattr(s, a) for a in ("table", "kind", "data", "columns")) and isinstance(s.table, Table)


def wanted_rows(duck: Any, sources: Sequence[Any]) -> dict[str, list[Wanted] | None] | None:
    """Per table, the stored rows the load of ``sources`` needs (``None``: the whole table).

    A table missing from the answer needs none of its rows. ``None`` for the whole answer when a source
    cannot be read ahead (every table is then copied whole).
    """
    whole: set[str] = set()
    selects: dict[tuple[str, tuple[str, ...]], list[str]] = {}
    for i, s in enumerate(sources):
        spec: Table = s.table
        try:
            source = _read(duck, s, f"_kw_ahead_{i}")
        except Exception:  # the load will refuse it (or read it): copy whole tables to be exact either way
            return None
        whole.update(WHOLE.get(spec.name, ()))
        if not spec.key or not set(spec.key) <= set(s.columns):
            whole.add(spec.name)
        else:
            selects.setdefault((spec.name, spec.key), []).append(_distinct(source, spec, spec.key))
        for col in spec.columns:
            if col.references is not None and col.name in s.columns:
                ref_table, ref_col = col.references
                selects.setdefault((ref_table, (ref_col,)), []).append(
                    _distinct(source, spec, (col.name,), as_names=(ref_col,))
                )
    wanted: dict[str, list[Wanted] | None] = {name: None for name in whole}
    for (name, columns), parts in selects.items():
        if name in whole:
            continue
        values = duck.execute(" UNION ".join(parts)).fetch_arrow_table()
        found = wanted.setdefault(name, [])
        if found is not None and values.num_rows:
            found.append(Wanted(columns, values))
    for i, s in enumerate(sources):
        _drop(duck, s, f"_kw_ahead_{i}")
    return wanted


def _read(duck: Any, s: Any, name: str) -> str:
    """Expose source ``s`` as view ``name`` exactly as :mod:`keepwise.store.ingest` reads it; the name."""
    known = set(s.table.column_names)
    columns = ", ".join(q(c) for c in s.columns if c in known)
    if s.kind == "csv":
        types = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in s.columns) + "}"
        source = (
            f"read_csv({lit(str(s.data))}, header = true, auto_detect = false, columns = {types}, "
            "delim = ',', quote = '\"', escape = '\"', strict_mode = true, null_padding = false)"
        )
    elif s.kind == "parquet":
        source = f"read_parquet({lit(str(s.data))})"
    else:
        duck.register(f"{name}_frame", s.data)
        source = q(f"{name}_frame")
    duck.execute(f"CREATE TEMP TABLE {q(name)} AS SELECT {columns} FROM {source}")
    return q(name)


def _drop(duck: Any, s: Any, name: str) -> None:
    duck.execute(f"DROP TABLE IF EXISTS {q(name)}")
    if s.kind == "frame":
        duck.unregister(f"{name}_frame")


def _distinct(source: str, spec: Table, columns: Sequence[str], as_names: Sequence[str] | None = None) -> str:
    """``SELECT DISTINCT`` the typed values of ``columns`` of the read-ahead ``source`` (none blank)."""
    names = as_names or columns
    typed = [typed_expr(spec.column(c), True) for c in columns]
    values = ", ".join(f"{t} AS {q(n)}" for t, n in zip(typed, names, strict=True))
    filled = " AND ".join(_storable(spec.column(c), t) for c, t in zip(columns, typed, strict=True))
    return f"SELECT DISTINCT {values} FROM {source} WHERE {filled}"


def _storable(col: Column, typed: str) -> str:
    """SQL true for a value that a stored row could hold (others name no stored row, and are not sent).

    A value holding NUL cannot be stored in PostgreSQL, nor a date outside the contract's years (the load
    refuses both with its own message).
    """
    if col.type == "timestamp":
        low, high = YEAR_RANGE
        return f"COALESCE(isfinite({typed}) AND year({typed}) BETWEEN {low} AND {high}, FALSE)"
    return f"{typed} IS NOT NULL AND NOT CONTAINS(CAST({typed} AS VARCHAR), chr(0))"


def mirror_rows(store: Store, duck: Any, name: str, wanted: list[Wanted] | None) -> None:
    """Copy PostgreSQL table ``name`` into the DuckDB connection: its ``wanted`` rows, or all (``None``).

    The DuckDB table is created from the rows if the connection lacks it.
    """
    if wanted is None:
        _insert(duck, name, store.table(name).to_pyarrow())
        return
    if not wanted:
        return
    temps = [w.to_postgres(store, name) for w in wanted]
    table = store.quote(name)
    where = " OR ".join(
        f"({', '.join(f't.{store.quote(c)}' for c in w.columns)}) IN "
        f"(SELECT {', '.join(store.quote(c) for c in w.columns)} FROM {temp})"
        for w, temp in zip(wanted, temps, strict=True)
    )
    rows = store.backend.sql(f"SELECT t.* FROM {table} t WHERE {where}", schema=store.table(name).schema())
    _insert(duck, name, rows.to_pyarrow())
    for temp in temps:
        store.sql(f"DROP TABLE {temp}")


def _insert(duck: Any, name: str, data: Any) -> None:
    """Add Arrow rows ``data`` to DuckDB table ``name`` (created from them if not there yet)."""
    duck.register("_kw_pg_rows", data)
    try:
        exists = duck.execute(
            "SELECT 1 FROM duckdb_tables() WHERE table_name = ? AND schema_name = 'main' AND NOT temporary",
            [name],
        ).fetchall()
        if exists:
            duck.execute(f"INSERT INTO {q(name)} BY NAME SELECT * FROM _kw_pg_rows")
        else:
            duck.execute(f"CREATE TABLE {q(name)} AS SELECT * FROM _kw_pg_rows")
    finally:
        duck.unregister("_kw_pg_rows")
