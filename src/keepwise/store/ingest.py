"""Validated, atomic, idempotent loads into the store.

Every load runs in one transaction: rows are streamed into a staging table, checked against the contract in
the engine (:mod:`keepwise.store.validate`), and upserted by key. One bad row anywhere, in any file of a
folder load, rolls everything back, so a failed load leaves every table exactly as it was.

Upsert rule: a row whose key is new is inserted; a row whose key exists replaces the stored row when any
value differs (columns absent from the file keep their stored values) and is counted unchanged otherwise.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from keepwise.exceptions import KeepwiseInputError, LoadError
from keepwise.store import readers
from keepwise.store.connection import duckdb_connection
from keepwise.store.schema import SCHEMA, Table, load_order
from keepwise.store.schema import table as table_named
from keepwise.store.validate import first_problem, missing_reference, q, typed_expr

SUFFIXES = (".csv", ".parquet")
#: Files at least this large get a progress bar on stderr.
PROGRESS_MIN_BYTES = 32 << 20
#: Memory DuckDB may use during a load; larger loads spill to disk.
LOAD_MEMORY_LIMIT = "1GB"


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
    batches: Any  # callable(progress) -> Iterator[pa.RecordBatch]
    size: int


def _file_source(table: Table, path: Path) -> _Source:
    if not path.exists():
        raise KeepwiseInputError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".csv":
        columns = readers.csv_header(path)
        return _Source(table, path.name, columns, lambda p: readers.csv_batches(path, p), path.stat().st_size)
    if suffix == ".parquet":
        columns = readers.parquet_columns(path)
        return _Source(
            table, path.name, columns, lambda p: readers.parquet_batches(path, p), path.stat().st_size
        )
    raise KeepwiseInputError(f"{path}: unsupported file type '{path.suffix}' (use .csv or .parquet)")


def _frame_source(table: Table, frame: Any, name: str) -> _Source:
    columns = readers.frame_columns(frame)
    if len(frame) == 0:
        raise LoadError(name, "is empty (no rows)")
    return _Source(table, name, columns, lambda p: readers.frame_batches(frame), 0)


def load_frame(backend: Any, table: str, frame: Any, source: str = "<dataframe>") -> LoadResult:
    """Load a pandas DataFrame (or Arrow table) into ``table``: validated, atomic, idempotent."""
    return _run(backend, [_frame_source(table_named(table), frame, source)], show_progress=False)[0]


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
    con = duckdb_connection(backend)
    total = sum(s.size for s in sources)
    progress = _progress(show_progress and total >= PROGRESS_MIN_BYTES)
    results: list[LoadResult] = []
    (old_limit,) = con.execute("SELECT current_setting('memory_limit')").fetchone()
    con.execute(f"SET memory_limit = '{LOAD_MEMORY_LIMIT}'")
    con.execute("BEGIN TRANSACTION")
    try:
        with progress or nullcontext():
            task = progress.add_task("loading", total=total) if progress else None
            for i, s in enumerate(sources):
                if progress is not None and task is not None:
                    progress.update(task, description=f"loading {s.name}")

                def advance(n: int, _task: Any = task) -> None:
                    if progress is not None and _task is not None:
                        progress.advance(_task, n)

                results.append(_load_one(con, s, f"_kw_stage_{i}", advance))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute(f"SET memory_limit = '{old_limit}'")
    return results


def _progress(enabled: bool) -> Progress | None:
    if not enabled:
        return None
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _check_header(s: _Source) -> None:
    seen: set[str] = set()
    for name in s.columns:
        if name in seen:
            raise LoadError(s.name, "appears twice in the header", column=name)
        seen.add(name)
    for col in s.table.columns:
        if col.required and col.name not in seen:
            raise LoadError(
                s.name, f"missing column (the header has: {', '.join(s.columns)})", row=None, column=col.name
            )


def _stage(con: Any, s: _Source, stage: str, advance: readers.Progress) -> int:
    """Stream the source into ``stage`` with a ``_row`` column; return the number of rows."""
    wanted = [c for c in s.columns if c in {col.name for col in s.table.columns}]
    batches: Iterator[pa.RecordBatch] = iter(s.batches(advance))
    first = next(batches, None)
    if first is None:
        raise LoadError(s.name, "has a header but no rows")
    rows = 0
    created = False
    for batch in itertools.chain([first], batches):
        n = batch.num_rows
        if n == 0:
            continue
        numbered = pa.Table.from_batches([batch]).select(wanted)
        numbered = numbered.append_column("_row", pa.array(range(rows + 1, rows + n + 1), pa.int64()))
        con.register("_kw_batch", numbered)
        if not created:
            con.execute(f"CREATE TEMP TABLE {q(stage)} AS SELECT * FROM _kw_batch")
            created = True
        else:
            con.execute(f"INSERT INTO {q(stage)} SELECT * FROM _kw_batch")
        con.unregister("_kw_batch")
        rows += n
    if rows == 0:
        raise LoadError(s.name, "has a header but no rows")
    return rows


def _load_one(con: Any, s: _Source, stage: str, advance: readers.Progress) -> LoadResult:
    rows = _stage(con, s, stage, advance)
    present = set(s.columns)
    problem = first_problem(con, stage, s.table, present, s.name) or missing_reference(
        con, stage, s.table, present, s.name
    )
    if problem is not None:
        raise problem
    new, updated, unchanged = _upsert(con, stage, s.table, present)
    con.execute(f"DROP TABLE {q(stage)}")
    return LoadResult(s.table.name, s.name, rows, new, updated, unchanged)


def _upsert(con: Any, stage: str, table: Table, present: set[str]) -> tuple[int, int, int]:
    target = q(table.name)
    key_match = " AND ".join(f"t.{q(k)} = s.{q(k)}" for k in table.key)
    values = []
    for col in table.columns:
        if col.name in present:
            values.append(f"{typed_expr(col, True, 's')} AS {q(col.name)}")
        else:  # absent from the file: keep what the store holds for known keys
            values.append(f"t.{q(col.name)} AS {q(col.name)}")
    typed_keys = ", ".join(f"{typed_expr(table.column(k), True)} AS {q(k)}" for k in table.key)
    other = [c for c in table.column_names if c not in table.key]
    same = " AND ".join(f"n.{q(c)} IS NOT DISTINCT FROM t.{q(c)}" for c in other) or "TRUE"
    found = " AND ".join(f"t.{q(k)} IS NOT NULL" for k in table.key)
    status = f"_kw_status_{stage}"
    con.execute(
        f"""
        CREATE TEMP TABLE {q(status)} AS
        WITH s AS (SELECT * REPLACE ({typed_keys}) FROM {q(stage)}),
             n AS (SELECT {", ".join(values)}, ({found}) AS _known
                   FROM s LEFT JOIN {target} t ON {key_match})
        SELECT n.*, CASE WHEN NOT n._known THEN 'new' WHEN {same} THEN 'same' ELSE 'updated' END AS _status
        FROM n LEFT JOIN {target} t ON {" AND ".join(f"t.{q(k)} = n.{q(k)}" for k in table.key)}
        """
    )
    counts = dict(con.execute(f"SELECT _status, COUNT(*) FROM {q(status)} GROUP BY _status").fetchall())
    if counts.get("updated"):
        match = " AND ".join(f"{target}.{q(k)} = u.{q(k)}" for k in table.key)
        con.execute(f"DELETE FROM {target} USING {q(status)} u WHERE u._status = 'updated' AND {match}")
    if counts.get("new") or counts.get("updated"):
        cols = ", ".join(q(c) for c in table.column_names)
        con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {q(status)} WHERE _status <> 'same'")
    con.execute(f"DROP TABLE {q(status)}")
    return counts.get("new", 0), counts.get("updated", 0), counts.get("same", 0)
