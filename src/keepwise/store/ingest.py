"""Validated, atomic, idempotent loads into the store.

Every load runs in one transaction: rows are streamed into a staging table, checked against the contract in
the engine (:mod:`keepwise.store.validate`), and upserted by key. One bad row anywhere, in any file of a
folder load, rolls everything back, so a failed load leaves every table exactly as it was.

Upsert rule: a row whose key is new is inserted; a row whose key exists replaces the stored row when any
value differs (columns absent from the file keep their stored values) and is counted unchanged otherwise.
"""

from __future__ import annotations

import difflib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from keepwise.exceptions import KeepwiseInputError, LoadError
from keepwise.store import consent_history, load_fast, readers, stats
from keepwise.store.connection import duckdb_connection
from keepwise.store.keys import problem
from keepwise.store.schema import SCHEMA, Column, Table, load_order
from keepwise.store.schema import table as table_named
from keepwise.store.validate import lit, q, shown, stored_expr

SUFFIXES = (".csv", ".parquet")
#: Files at least this large get a progress bar on stderr.
PROGRESS_MIN_BYTES = 32 << 20
#: Memory DuckDB may use during a load; larger loads spill to disk.
LOAD_MEMORY_LIMIT = "600MB"


@dataclass(frozen=True)
class LoadResult:
    """What one file (or DataFrame) did to one table."""

    table: str
    source: str
    rows: int
    new: int
    updated: int
    unchanged: int

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON output."""
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.table}: {self.rows:,} rows from {self.source}: "
            f"{self.new:,} new, {self.updated:,} updated, {self.unchanged:,} unchanged"
        )


@dataclass(frozen=True)
class _Source:
    table: Table
    name: str
    columns: list[str]
    kind: str  # csv, parquet or frame
    data: Any  # the path, or the DataFrame / Arrow table
    size: int


def _file_source(table: Table, path: Path) -> _Source:
    if not path.exists():
        raise KeepwiseInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return _Source(table, path.name, readers.csv_header(path), "csv", path, path.stat().st_size)
    if suffix == ".parquet":
        return _Source(table, path.name, readers.parquet_columns(path), "parquet", path, path.stat().st_size)
    raise KeepwiseInputError(f"{path}: unsupported file type '{path.suffix}' (use .csv or .parquet)")


def _frame_source(table: Table, frame: Any, name: str) -> _Source:
    import pyarrow as pa

    if len(frame) == 0:
        raise LoadError(name, "is empty (no rows)")
    if not isinstance(frame, pa.Table):
        frame = pa.Table.from_pandas(frame, preserve_index=False)
    return _Source(table, name, readers.frame_columns(frame), "frame", frame, 0)


def load_frame(backend: Any, table: str, frame: Any, source: str = "<dataframe>") -> LoadResult:
    """Load a pandas DataFrame (or Arrow table) into ``table``: validated, atomic, idempotent."""
    return _run(backend, [_frame_source(table_named(table), frame, source)], show_progress=False)[0]


def load_frames(backend: Any, frames: list[tuple[Table | str, Any, str]]) -> list[LoadResult]:
    """Load several DataFrames (``(table, frame, source)``, in that order) as one all-or-nothing load.

    ``table`` is a contract table's name or a :class:`~keepwise.store.schema.Table` declared elsewhere (the
    importers' own tables); its rows are validated and upserted exactly as :func:`load_frame` does. Columns
    of a frame that the table does not declare are ignored. An empty frame is skipped (no result).
    """
    sources = [
        _frame_source(spec if isinstance(spec, Table) else table_named(spec), frame, source)
        for spec, frame, source in frames
        if len(frame) > 0
    ]
    return _run(backend, sources, show_progress=False) if sources else []


def load_file(backend: Any, table: str, path: str | Path, *, show_progress: bool = True) -> LoadResult:
    """Load one CSV or Parquet file into ``table``."""
    return _run(backend, [_file_source(table_named(table), Path(path))], show_progress)[0]


def load_path(backend: Any, path: str | Path, *, show_progress: bool = True) -> list[LoadResult]:
    """Load a file named ``TABLE.csv``/``TABLE.parquet``, or every such file in a folder, as one load.

    A folder is loaded in dependency order (customers before orders) in a single transaction.
    """
    path = Path(path)
    if path.is_dir():
        files = _table_files(path)
        if not files:
            raise KeepwiseInputError(f"{path}: no TABLE.csv or TABLE.parquet files (tables: {_loadable()})")
        order = load_order(set(files))
        return _run(backend, [_file_source(SCHEMA[t], files[t]) for t in order], show_progress)
    return [load_file(backend, _table_of(path), path, show_progress=show_progress)]


def _loadable() -> str:
    return ", ".join(t for t, spec in SCHEMA.items() if spec.loadable)


def _table_of(path: Path) -> str:
    name = path.stem
    if name not in SCHEMA or not SCHEMA[name].loadable:
        raise KeepwiseInputError(
            f"{path}: cannot tell the table from the file name; use keepwise load TABLE FILE"
        )
    return name


def _table_files(folder: Path) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() in SUFFIXES and p.stem in SCHEMA and SCHEMA[p.stem].loadable:
            if p.stem in files:
                raise KeepwiseInputError(f"{folder}: both {files[p.stem].name} and {p.name} hold {p.stem}")
            files[p.stem] = p
    return files


def _run(backend: Any, sources: list[_Source], show_progress: bool) -> list[LoadResult]:
    for s in sources:
        if not s.table.loadable:
            raise KeepwiseInputError(
                f"table '{s.table.name}' is written by keepwise itself and cannot be loaded"
            )
        _check_header(s)
    if getattr(getattr(backend, "backend", backend), "name", "") == "postgres":
        from keepwise.store.postgres_load import load_into_postgres
        from keepwise.store.store import as_store

        tables = list({s.table.name: s.table for s in sources}.values())
        return load_into_postgres(as_store(backend), tables, lambda duck: _run(duck, sources, show_progress))
    # a store, or a plain DuckDB connection (keepwise.store.raw: the command's way, without Ibis)
    con: Any = backend if isinstance(backend, duckdb.DuckDBPyConnection) else duckdb_connection(backend)
    big = show_progress and sum(s.size for s in sources) >= PROGRESS_MIN_BYTES
    try:  # the fast way (store/load_fast.py); at any doubt, all again the careful way, which names it
        return _attempt(con, sources, big, fast=True)
    except Exception:  # the careful way raises what there is to raise
        return _attempt(con, sources, big, fast=False)


def _attempt(con: Any, sources: list[_Source], big: bool, *, fast: bool) -> list[LoadResult]:
    """Load ``sources`` in one transaction (fast: :func:`_load_fast`; else :func:`_load_one` each)."""
    results: list[LoadResult] = []
    (old_limit,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
    con.execute(f"SET memory_limit = '{LOAD_MEMORY_LIMIT}'")
    con.execute("BEGIN TRANSACTION")
    try:
        with _Steps(con, big) as steps:
            known: dict[str, dict[str, int]] = {}  # figures of a first load that the checks already counted
            for i, s in enumerate(sources):
                careful = not fast or s.table.name == "consent"
                result, facts = (_load_one if careful else _load_fast)(steps, s, f"_kw_stage_{i}")
                results.append(result)
                seen = [r.table for r in results].count(s.table.name) > 1
                known[s.table.name] = {} if seen else facts
            stats.record(lambda sql: con.execute(sql).fetchall(), [s.table.name for s in sources], known)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute(f"SET memory_limit = '{old_limit}'")
    return results


class _Steps:
    """Runs the statements of a load, showing DuckDB's own progress of each on stderr when asked to."""

    def __init__(self, con: Any, show: bool):
        self.con = con
        self.progress = (
            Progress(
                TextColumn("{task.description:<36}"),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            if show
            else None
        )

    def __enter__(self) -> _Steps:
        if self.progress is not None:
            self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.__exit__(None, None, None)

    def execute(self, description: str, sql: str, params: list[Any] | None = None) -> Any:
        """Execute ``sql``; with a progress bar, in a worker thread while this one polls its progress."""
        if self.progress is None:
            return self.con.execute(sql, params or [])
        task = self.progress.add_task(description, total=100)
        with ThreadPoolExecutor(max_workers=1) as pool:
            future = pool.submit(self.con.execute, sql, params or [])
            while not future.done():
                time.sleep(0.2)
                done = self.con.query_progress()
                if done >= 0:
                    self.progress.update(task, completed=done)
            self.progress.update(task, completed=100)
            return future.result()


def _check_header(s: _Source) -> None:
    """Refuse a repeated, unknown (in a file) or missing required column; a CSV header is row 1."""
    row = 1 if s.kind == "csv" else None
    seen: set[str] = set()
    known = s.table.column_names
    for name in s.columns:
        if name in seen:
            raise LoadError(s.name, "appears twice in the header", row=row, column=name)
        seen.add(name)
        if s.kind != "frame" and name not in known:  # importers' frames carry their own bookkeeping columns
            close = difflib.get_close_matches(name.lower(), known, n=1, cutoff=0.6)
            hint = f"did you mean '{close[0]}'? " if close else ""
            raise LoadError(
                s.name,
                f"unknown column ({hint}{s.table.name} has: {', '.join(known)})",
                row=row,
                column=shown(name)[1:-1],
            )
    for col in s.table.columns:
        if col.required and col.name not in seen:
            raise LoadError(
                s.name, f"missing column (the header has: {', '.join(s.columns)})", row=row, column=col.name
            )


def _source_sql(con: Any, s: _Source) -> str:
    """SQL reading the rows of ``s`` (a CSV file as text; a DataFrame is registered as ``_kw_frame``)."""
    if s.kind == "csv":
        types = "{" + ", ".join(f"{lit(c)}: 'VARCHAR'" for c in s.columns) + "}"
        return (  # the path as a literal: binding a parameter makes DuckDB import pandas
            f"read_csv({lit(str(s.data))}, header = true, auto_detect = false, columns = {types}, "
            "delim = ',', quote = '\"', escape = '\"', strict_mode = true, null_padding = false)"
        )
    if s.kind == "parquet":
        return f"read_parquet({lit(str(s.data))})"
    con.register("_kw_frame", s.data)
    return "_kw_frame"


def _load_fast(steps: _Steps, s: _Source, stage: str) -> tuple[LoadResult, dict[str, int]]:
    """:func:`_load_one` the fast way (store/load_fast.py); raises at any doubt about the rows.

    Into an empty table the rows go straight from the source; otherwise they are staged typed and upserted.
    """
    con, table, present = steps.con, s.table, set(s.columns)
    target = q(table.name)
    first = con.execute(f"SELECT 1 FROM {target} LIMIT 1").fetchone() is None
    try:
        plain = s.kind == "csv" and readers.plain_csv(s.data)  # printable ASCII, no quotes: cheaper tests
        select = load_fast.typed_select(table, present, _source_sql(con, s), plain=plain)
        cols = ", ".join(q(c) for c in table.column_names)
        if first:
            (rows,) = steps.execute(f"{s.name}: saving", f"INSERT INTO {target} ({cols}) {select}").fetchone()
        else:
            steps.execute(f"{s.name}: reading", f"CREATE TEMP TABLE {q(stage)} AS {select}")
            (rows,) = con.execute(f"SELECT COUNT(*) FROM {q(stage)}").fetchone()
    finally:
        if s.kind == "frame":
            con.unregister("_kw_frame")
    if rows == 0:
        raise load_fast.Doubt("no rows")
    facts = load_fast.who_checks(con, target if first else q(stage), table, present)
    if first:
        new, updated, unchanged = rows, 0, 0
    else:
        new, updated, unchanged = _upsert(steps, stage, table, present, rows, set(), first=False, typed=True)
        con.execute(f"DROP TABLE {q(stage)}")
    known = {"customers": facts["distinct customer_id"]} if first and "distinct customer_id" in facts else {}
    return LoadResult(table.name, s.name, rows, new, updated, unchanged), known


def _stage(steps: _Steps, s: _Source, stage: str) -> int:
    """Read the source into a temporary table, exposed as the view ``stage`` with ``_row``.

    ``_row`` is the row as the user numbers it: in a CSV file the header is row 1 (a spreadsheet's
    numbering), so the first data row is row 2; in Parquet or a DataFrame the first row is row 1. DuckDB
    reads the file itself (in parallel, spilling to disk when memory runs short) and keeps the rows in file
    order, so a row's position in the table is its row in the file.
    """
    con = steps.con
    known = {col.name for col in s.table.columns}
    wanted = ", ".join(q(c) for c in s.columns if c in known)
    raw = f"{stage}_raw"
    source = _source_sql(con, s)
    params: list[Any] = []
    try:
        steps.execute(
            f"{s.name}: reading", f"CREATE TEMP TABLE {q(raw)} AS SELECT {wanted} FROM {source}", params
        )
    except duckdb.Error as exc:
        if s.kind == "csv":  # locate the problem precisely: line, column, what
            bad_bytes = readers.bad_utf8(s.data)
            if bad_bytes is not None:
                raise bad_bytes from None
            for _ in readers.csv_batches(s.data):
                pass
            raise readers.engine_csv_error(s.name, str(exc)) from None
        raise LoadError(s.name, f"cannot be read: {str(exc).splitlines()[0]}") from None
    finally:
        if s.kind == "frame":
            con.unregister("_kw_frame")
    base, rows = con.execute(f"SELECT MIN(rowid), COUNT(*) FROM {q(raw)}").fetchone()
    if rows == 0:
        raise LoadError(s.name, "has a header but no rows")
    first = 2 if s.kind == "csv" else 1
    row = f"CAST(rowid - {base} + {first} AS BIGINT) AS _row"
    con.execute(f"CREATE TEMP VIEW {q(stage)} AS SELECT *, {row} FROM {q(raw)}")
    return int(rows)


def _load_one(steps: _Steps, s: _Source, stage: str) -> tuple[LoadResult, dict[str, int]]:
    """Stage, check and save one source; also the figures of the table the checks counted on a first load."""
    con = steps.con
    rows = _stage(steps, s, stage)
    present = set(s.columns)
    clean: set[str] = set()  # columns whose text is the stored value (validate.stored_expr)
    facts: dict[str, int] = {}
    found = problem(con, stage, s.table, present, s.name, clean, facts)
    if found is not None:
        raise found
    first = con.execute(f"SELECT 1 FROM {q(s.table.name)} LIMIT 1").fetchone() is None
    if s.table.name == "consent":  # consent is a history: a load adds events (store/consent_history.py)
        new, updated, unchanged = consent_history.load_stage(con, stage, s.table, present, s.name)
    else:
        new, updated, unchanged = _upsert(steps, stage, s.table, present, rows, clean, first=first)
    con.execute(f"DROP VIEW {q(stage)}")
    con.execute(f"DROP TABLE {q(stage + '_raw')}")
    # into an empty table every staged row is stored: its distinct customers are the staged rows' ones
    known = {"customers": facts["distinct customer_id"]} if first and "distinct customer_id" in facts else {}
    return LoadResult(s.table.name, s.name, rows, new, updated, unchanged), known


def _upsert(
    steps: _Steps,
    stage: str,
    table: Table,
    present: set[str],
    rows: int,
    clean: set[str],
    *,
    first: bool,
    typed: bool = False,
) -> tuple[int, int, int]:
    """Insert or replace the staged rows by key; ``typed``: the stage holds stored values already."""
    con = steps.con

    def value(col: Column, qualifier: str = "") -> str:
        if typed:
            return (qualifier + "." if qualifier else "") + q(col.name)
        return stored_expr(col, True, clean, qualifier)

    target = q(table.name)
    cols = ", ".join(q(c) for c in table.column_names)
    if first:  # a first load (the table is empty): every row is new
        out = ", ".join(
            f"{stored_expr(col, col.name in present, clean)} AS {q(col.name)}" for col in table.columns
        )
        steps.execute(f"saving {table.name}", f"INSERT INTO {target} ({cols}) SELECT {out} FROM {q(stage)}")
        return rows, 0, 0
    key_match = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in table.key)
    values = []
    for col in table.columns:
        if col.name in present:
            values.append(f"{value(col, 's')} AS {q(col.name)}")
        else:  # absent from the file: keep what the store holds for known keys
            values.append(f"t.{q(col.name)} AS {q(col.name)}")
    typed_keys = ", ".join(f"{value(table.column(k))} AS {q(k)}" for k in table.key)
    other = [c for c in table.column_names if c not in table.key]
    same = " AND ".join(f"n.{q(c)} IS NOT DISTINCT FROM n.{q('_old_' + c)}" for c in other) or "TRUE"
    old = "".join(f", t.{q(c)} AS {q('_old_' + c)}" for c in other)
    found = " AND ".join(f"t.{q(k)} IS NOT NULL" for k in table.key)
    status = f"_kw_status_{stage}"
    steps.execute(  # one join: each staged row beside the stored row of its key, if any
        f"saving {table.name}",
        f"""
        CREATE TEMP TABLE {q(status)} AS
        WITH s AS (SELECT * REPLACE ({typed_keys}) FROM {q(stage)}),
             n AS (SELECT {", ".join(values)}{old}, ({found}) AS _known
                   FROM s LEFT JOIN {target} t ON {key_match})
        SELECT {cols}, CASE WHEN NOT n._known THEN 'new' WHEN {same} THEN 'same' ELSE 'updated' END AS _status
        FROM n
        """,
    )
    counts = dict(con.execute(f"SELECT _status, COUNT(*) FROM {q(status)} GROUP BY _status").fetchall())
    if counts.get("updated"):
        match = " AND ".join(f"{target}.{q(k)} = u.{q(k)}" for k in table.key)
        con.execute(f"DELETE FROM {target} USING {q(status)} u WHERE u._status = 'updated' AND {match}")
    if counts.get("new") or counts.get("updated"):
        steps.execute(
            f"saving {table.name}",
            f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {q(status)} WHERE _status <> 'same'",
        )
    con.execute(f"DROP TABLE {q(status)}")
    return counts.get("new", 0), counts.get("updated", 0), counts.get("same", 0)
