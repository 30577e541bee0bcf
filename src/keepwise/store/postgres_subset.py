"""The stored rows a load into PostgreSQL needs, and copying just those into the load's DuckDB connection.

A load into PostgreSQL runs the DuckDB load (:mod:`keepwise.store.ingest`) on an in-memory copy
(:mod:`keepwise.store.postgres_load`). What that load reads of the stored tables is fixed by the files:

* of the table it loads, the stored rows of the keys the files hold (the upsert compares and replaces
  them; ``new``, ``updated`` and ``unchanged`` are counted on them);
* of each table the files refer to (``orders.customer_id`` -> ``customers``), the rows the files name
  (a reference to anything else is refused as missing, as it would be on the whole table);
* of consent and its events, the rows of the customers a consent file names: a load rebuilds each named
  customer's consent from that customer's whole history (:mod:`keepwise.store.consent_history`).

:func:`read_ahead` reads the files ahead in DuckDB (exactly as the load will, the same typed values) and
returns those keys; :func:`mirror_rows` sends them to PostgreSQL in a temporary table (DuckDB writes them
as CSV, ``COPY`` reads it: :func:`copy_csv`) and copies the matching rows, which PostgreSQL finds through
the keys' indexes. A table that is empty in PostgreSQL needs nothing, so a first load reads ahead only
the references of its files. A table without a key is copied whole. When a file cannot be read ahead, the
files before it are read ahead as usual and the answer says so (:attr:`Ahead.complete`): the load then
refuses the file with its own message (as it reads it the same way), having copied only what those files
need.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keepwise.store.consent_history import EVENTS
from keepwise.store.postgres import copy_rows, frame_rows, pg_type
from keepwise.store.schema import Column, Table
from keepwise.store.schema.columns import YEAR_RANGE
from keepwise.store.store import Store
from keepwise.store.validate import lit, q, typed_expr

__all__ = ["Ahead", "Wanted", "copy_csv", "mirror_rows", "read_ahead", "sources_of", "wanted_rows"]

#: Tables a load rebuilds from each named customer's whole history: copied by ``customer_id``.
BY_CUSTOMER = {"consent": ("consent", EVENTS)}

_names = itertools.count()

#: Up to this many values in an Arrow table go to PostgreSQL row by row (a DuckDB connection costs more).
_FEW = 20_000


@dataclass(frozen=True)
class Wanted:
    """Stored rows whose ``columns`` hold one of the rows of ``values``, same columns.

    ``values``: an Arrow table, or a DuckDB relation (the keys of a big file stay in DuckDB, which writes
    them straight to PostgreSQL).
    """

    columns: tuple[str, ...]
    values: Any

    def to_postgres(self, store: Store, table: str, prefix: str = "_kw_want") -> str:
        """Copy the values into a new temporary table typed as ``table``'s columns; its quoted name."""
        import duckdb

        temp = f"{prefix}_{next(_names)}"
        schema = store.table(table).schema()
        typed = ", ".join(f"{store.quote(c)} {pg_type(schema[c])}" for c in self.columns)
        store.sql(f"CREATE TEMP TABLE {store.quote(temp)} ({typed}) ON COMMIT DROP")
        values, scratch = self.values, None
        if not isinstance(values, duckdb.DuckDBPyRelation) and values.num_rows <= _FEW:
            copy_rows(
                store.backend.con, temp, list(self.columns), frame_rows(values.select(list(self.columns)))
            )
            store.sql(f"ANALYZE {store.quote(temp)}")
            return store.quote(temp)
        if not isinstance(values, duckdb.DuckDBPyRelation):
            scratch = duckdb.connect()
            scratch.execute("SET TimeZone = 'UTC'")
            values = scratch.from_arrow(values)
        try:
            _copy_relation(
                store, temp, list(self.columns), values.select(", ".join(q(c) for c in self.columns))
            )
        finally:
            if scratch is not None:
                scratch.close()
        store.sql(f"ANALYZE {store.quote(temp)}")
        return store.quote(temp)


def copy_csv(store: Store, duck: Any, name: str, columns: list[str], rows: str) -> None:
    """Copy the rows of DuckDB query ``rows`` into PostgreSQL table ``name`` (DuckDB writes CSV, COPY reads).

    Both sides speak the same CSV (a quoted empty string is text, an unquoted empty field NULL; times in
    UTC with their offset, decimals as written), and neither turns a row into Python values. The rows go
    through a temporary file, a megabyte at a time: memory stays flat whatever their number.
    """
    selected = ", ".join(q(c) for c in columns)
    _copy_relation(store, name, columns, duck.sql(f"SELECT {selected} FROM {rows}"))


def _copy_relation(store: Store, name: str, columns: list[str], relation: Any) -> None:
    """Copy the rows of DuckDB ``relation`` (``columns`` in order) into PostgreSQL table ``name``."""
    import tempfile

    from psycopg import sql

    from keepwise.store.postgres import writes_refused

    with tempfile.TemporaryDirectory(prefix="keepwise-copy-") as folder:
        path = Path(folder) / "rows.csv"
        relation.write_csv(str(path), header=False)
        if not path.exists() or path.stat().st_size == 0:
            return
        statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv)").format(
            sql.Identifier(name), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
        con = store.backend.con
        with writes_refused(), con.cursor() as cur, cur.copy(statement) as copy, path.open("rb") as data:
            while chunk := data.read(1 << 20):
                copy.write(chunk)


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


@dataclass
class Ahead:
    """What reading the files ahead found: per table, the stored rows the load needs.

    ``wanted[name]``: ``None`` for the whole table, else the rows whose columns hold one of the listed
    values; a table missing from it needs none of its rows. ``complete`` is false when a file could not be
    read ahead: ``wanted`` then holds what the files before it need (the load stops at that file).
    """

    wanted: dict[str, list[Wanted] | None] = field(default_factory=dict)
    complete: bool = True


def wanted_rows(
    duck: Any, sources: Sequence[Any], empty: Collection[str] = ()
) -> dict[str, list[Wanted] | None] | None:
    """Per table, the stored rows the load of ``sources`` needs (``None``: the whole table).

    ``None`` for the whole answer when a source cannot be read ahead (:func:`read_ahead` says more).
    """
    ahead = read_ahead(duck, sources, empty)
    return ahead.wanted if ahead.complete else None


def read_ahead(duck: Any, sources: Sequence[Any], empty: Collection[str] = ()) -> Ahead:
    """Read ``sources`` ahead in DuckDB connection ``duck``: the stored rows their load needs.

    ``empty``: tables known to hold no row (nothing of them is needed, nothing is read ahead for them).
    The keys stay in ``duck`` (temporary tables ``_kw_keys_N``) until the connection closes.
    """
    ahead = Ahead()
    for i, s in enumerate(sources):
        try:
            _ahead_of(duck, s, f"_kw_ahead_{i}", set(empty), ahead.wanted)
        except Exception:  # the load reads it the same way: it will refuse it with its own message
            ahead.complete = False
            break
        finally:
            _drop(duck, s, f"_kw_ahead_{i}")
    return ahead


def _ahead_of(duck: Any, s: Any, name: str, empty: set[str], wanted: dict[str, list[Wanted] | None]) -> None:
    """Add to ``wanted`` the stored rows that the load of source ``s`` needs."""
    spec: Table = s.table
    selects: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = []  # (table, its columns, the file's)
    if spec.name in BY_CUSTOMER and "customer_id" in s.columns:
        selects += [(t, ("customer_id",), ("customer_id",)) for t in BY_CUSTOMER[spec.name]]
    elif spec.name in BY_CUSTOMER or not spec.key or not set(spec.key) <= set(s.columns):
        wanted.update({t: None for t in BY_CUSTOMER.get(spec.name, (spec.name,)) if t not in empty})
    else:
        selects.append((spec.name, spec.key, spec.key))
    for col in spec.columns:
        if col.references is not None and col.name in s.columns:
            ref_table, ref_col = col.references
            selects.append((ref_table, (ref_col,), (col.name,)))
    selects = [x for x in selects if x[0] not in empty and wanted.get(x[0], []) is not None]
    if not selects:
        return  # nothing stored to find: the file is read by the load alone
    needed = list(dict.fromkeys(c for _, _, cols in selects for c in cols))
    source = _read(duck, s, name, needed, keep=len(selects) > 1)
    for table, columns, own in selects:
        keys = f"_kw_keys_{next(_names)}"
        duck.execute(f"CREATE TEMP TABLE {keys} AS {_distinct(source, spec, own, as_names=columns)}")
        if duck.execute(f"SELECT 1 FROM {keys} LIMIT 1").fetchone() is not None:
            found = wanted.setdefault(table, [])
            if found is not None:
                found.append(Wanted(columns, duck.table(keys)))


def _read(duck: Any, s: Any, name: str, columns: Sequence[str], *, keep: bool) -> str:
    """Expose ``columns`` of source ``s`` as ``name`` exactly as :mod:`keepwise.store.ingest` reads it.

    Its name: a temporary table of those columns when ``keep`` (it is read more than once; DuckDB spills
    it to disk when big), else a view. A file the load cannot read raises here or when the view is read.
    """
    known = set(s.table.column_names)
    listed = ", ".join(q(c) for c in s.columns if c in known)
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
    every = f"(SELECT {listed} FROM {source})"
    picked = ", ".join(q(c) for c in columns) or "1 AS _kw_one"
    if keep:
        duck.execute(f"CREATE TEMP TABLE {q(name)} AS SELECT {picked} FROM {every}")
    else:
        duck.execute(f"CREATE TEMP VIEW {q(name)} AS SELECT {picked} FROM {every}")
    return q(name)


def _drop(duck: Any, s: Any, name: str) -> None:
    kind = duck.execute(
        "SELECT 'VIEW' FROM duckdb_views() WHERE view_name = ? UNION ALL "
        "SELECT 'TABLE' FROM duckdb_tables() WHERE table_name = ?",
        [name, name],
    ).fetchone()
    if kind is not None:
        duck.execute(f"DROP {kind[0]} {q(name)}")
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
        _copy_out(store, duck, name, "")
        return
    if not wanted:
        return
    temps = [w.to_postgres(store, name) for w in wanted]
    where = " OR ".join(
        f"({', '.join(f't.{store.quote(c)}' for c in w.columns)}) IN "
        f"(SELECT {', '.join(store.quote(c) for c in w.columns)} FROM {temp})"
        for w, temp in zip(wanted, temps, strict=True)
    )
    _copy_out(store, duck, name, f"WHERE {where}")
    for temp in temps:
        store.sql(f"DROP TABLE {temp}")


def _copy_out(store: Store, duck: Any, name: str, where: str) -> None:
    """Copy the rows of PostgreSQL table ``name`` (alias ``t``) that ``where`` keeps into ``duck``.

    PostgreSQL writes them as CSV (``COPY TO STDOUT``) to a temporary file, a chunk at a time, and DuckDB
    reads it typed as its own table's columns (both speak the same CSV: a quoted empty string is text, an
    unquoted empty field NULL); no row becomes Python values. A table the connection lacks goes through
    Arrow (:func:`_insert`).
    """
    import tempfile

    found = duck.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? AND schema_name = 'main' "
        "AND NOT internal ORDER BY column_index",
        [name],
    ).fetchall()
    types = {str(c): str(t) for c, t in found}
    columns = list(types)
    if not columns or not set(columns) <= set(store.table(name).schema()):
        select = f"SELECT t.* FROM {store.quote(name)} t {where}"
        _insert(duck, name, store.backend.sql(select, schema=store.table(name).schema()).to_pyarrow())
        return
    listed = ", ".join(f"t.{store.quote(c)}" for c in columns)
    statement = f"COPY (SELECT {listed} FROM {store.quote(name)} t {where}) TO STDOUT (FORMAT csv)"
    with tempfile.TemporaryDirectory(prefix="keepwise-copy-") as folder:
        path = Path(folder) / "rows.csv"
        with store.backend.con.cursor() as cur, cur.copy(statement) as copy, path.open("wb") as out:
            for chunk in copy:
                out.write(chunk)
        if path.stat().st_size:
            _insert_csv(duck, name, path, {c: str(types[c]) for c in columns})


def _insert_csv(duck: Any, name: str, path: Path, columns: dict[str, str]) -> int:
    """Add the rows of CSV file ``path`` (``columns``: name to DuckDB type, in order) to table ``name``."""
    typed = "{" + ", ".join(f"{lit(c)}: {lit(t)}" for c, t in columns.items()) + "}"
    source = (
        f"read_csv({lit(str(path))}, header = false, auto_detect = false, columns = {typed}, delim = ',', "
        "quote = '\"', escape = '\"', allow_quoted_nulls = false, strict_mode = true)"
    )
    listed = ", ".join(q(c) for c in columns)
    (n,) = duck.execute(f"INSERT INTO {q(name)} ({listed}) SELECT * FROM {source}").fetchone()
    return int(n)


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


def consent_as_a_whole(store: Store, wanted: dict[str, list[Wanted] | None]) -> None:
    """Copy consent and its events whole when the load would seed the events from every consent row.

    A store whose consent predates its events (no event, some consent rows) gets one event per stored
    consent row from the next consent load (:func:`keepwise.store.consent_history.load_stage`): that
    load needs every row. Otherwise it works customer by customer, on the rows of the customers it names.
    """
    if not {"consent", EVENTS} & set(wanted):
        return
    no_events = not store.sql(f"SELECT 1 FROM {EVENTS} LIMIT 1")
    if no_events and store.sql("SELECT 1 FROM consent LIMIT 1"):
        wanted["consent"] = wanted[EVENTS] = None


def events_seen(store: Store, duck: Any) -> None:
    """Give ``duck`` one stored event when the events copied by customer are none but the store has some.

    The DuckDB load seeds events when it sees none (:func:`consent_as_a_whole`); one stored event of any
    customer, which the load leaves as it is, keeps it from seeding what the store does not.
    """
    if duck.execute(f"SELECT 1 FROM {q(EVENTS)} LIMIT 1").fetchone() is None:
        _copy_out(store, duck, EVENTS, "LIMIT 1")
