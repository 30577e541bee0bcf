"""Backups: every table of a store as Parquet with a manifest, and the restore into an empty store.

``backup(store, folder)`` writes ``TABLE.parquet`` for every table and ``manifest.json`` listing each
table's file, row count, columns and digest. The digest is the SHA-256 of the table's rows in a canonical
form: each row cast to text by DuckDB (timestamps in UTC), the texts sorted, joined by newlines; so it does
not depend on the order the engine returns rows in, nor on the engine, and a restored table has the digest
of the original exactly when it holds the same rows.

``restore(store, folder)`` refuses a store that holds any row, checks every file against the manifest,
then loads the contract's tables through the validated load (:func:`keepwise.store.ingest.load_frames`, in
dependency order, one all-or-nothing load) and restores keepwise's own tables (stage documents, outbox,
consent events, results) as they are, in one transaction. The load of ``consent`` records its grants as
consent events stamped now and derives the consent table from them; the backup's events (with their real
``recorded_at`` and every later revocation) then replace those. Every restored table's digest is checked
against the manifest at the end.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.store.schema import SCHEMA, load_order
from keepwise.store.store import Store, as_store

__all__ = [
    "MANIFEST",
    "Manifest",
    "TableEntry",
    "backup",
    "digest",
    "digester",
    "restore",
    "store_digests",
    "table_digest",
]

#: The manifest's file name in a backup folder.
MANIFEST = "manifest.json"
#: Tables never backed up: the leases of runs going on.
_SKIPPED = frozenset({"locks"})


@dataclass(frozen=True)
class TableEntry:
    """One table of a backup: its file, rows, columns (name and Arrow type) and digest."""

    table: str
    file: str
    rows: int
    sha256: str
    columns: list[list[str]] = field(default_factory=list)


@dataclass
class Manifest:
    """What a backup folder holds (``manifest.json``)."""

    created_at: str
    source: str
    tables: list[TableEntry]
    format: int = 1

    def to_json(self) -> dict[str, Any]:
        """The manifest as plain data."""
        return {
            "format": self.format,
            "created_at": self.created_at,
            "source": self.source,
            "tables": [asdict(t) for t in self.tables],
        }

    @classmethod
    def read(cls, folder: Path) -> Manifest:
        """The manifest of backup ``folder`` (a one-line error when it is missing or unreadable)."""
        path = folder / MANIFEST
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            tables = [TableEntry(**t) for t in doc["tables"]]
            return cls(doc["created_at"], doc.get("source", ""), tables, int(doc.get("format", 1)))
        except FileNotFoundError:
            raise BadInput("dir", f"{folder} is not a keepwise backup (no {MANIFEST})", str(folder)) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise BadInput("dir", f"{path} is not a readable manifest ({exc})", str(folder)) from None


def digest(data: pa.Table, *, con: Any = None) -> str:
    """SHA-256 of ``data``'s rows in canonical form: each row as DuckDB's text, sorted, newline-joined.

    ``con``: a DuckDB connection from :func:`digester` to compute it on (one is opened otherwise).
    """
    if con is None:
        with digester() as own:
            return digest(data, con=own)
    h = hashlib.sha256()
    h.update(("\t".join(data.column_names) + "\n").encode())
    if data.num_rows == 0 or not data.column_names:
        return h.hexdigest()
    con.register("rows_in", data)
    try:
        cursor = con.execute("SELECT CAST(r AS VARCHAR) AS t FROM rows_in r ORDER BY t")
        while batch := cursor.fetchmany(50_000):
            h.update("".join(f"{row[0]}\n" for row in batch).encode())
    finally:
        con.unregister("rows_in")
    return h.hexdigest()


@contextmanager
def digester() -> Iterator[Any]:
    """An in-memory DuckDB connection in UTC for several :func:`digest` calls (opening one takes a while)."""
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()


def _arrow(store: Store, name: str) -> pa.Table:
    return store.table(name).to_pyarrow()


def table_digest(store: Store, name: str, *, con: Any = None) -> str:
    """:func:`digest` of table ``name`` of the store (``con``: a connection from :func:`digester`)."""
    return digest(_arrow(as_store(store), name), con=con)


def store_digests(store: Store) -> dict[str, str]:
    """:func:`digest` of every table of the store, by name."""
    store = as_store(store)
    with digester() as con:
        return {name: table_digest(store, name, con=con) for name in sorted(store.tables())}


def _entry(name: str, data: pa.Table, con: Any) -> TableEntry:
    columns = [[f.name, str(f.type)] for f in data.schema]
    return TableEntry(name, f"{name}.parquet", data.num_rows, digest(data, con=con), columns)


def _source(store: Store) -> str:
    url = store.url or store.kind
    return url.split("@", 1)[-1] if "@" in url else url  # never a password into the manifest


def backup(store: Store, folder: str | Path) -> Manifest:
    """Write every table of ``store`` to ``folder`` as Parquet, with ``manifest.json``.

    ``folder`` is created if missing and must not already hold a backup (nothing is overwritten).
    """
    store = as_store(store)
    target = Path(folder)
    if (target / MANIFEST).exists():
        raise BadInput("dir", f"{target} already holds a backup; give a new folder", str(target))
    if target.exists() and not target.is_dir():
        raise BadInput("dir", f"{target} is a file, not a folder", str(target))
    target.mkdir(parents=True, exist_ok=True)
    entries = []
    with digester() as con:
        for name in sorted(store.tables()):
            if name in _SKIPPED or name.startswith("_"):
                continue
            data = _arrow(store, name)
            pq.write_table(data, target / f"{name}.parquet")
            entries.append(_entry(name, data, con))
    manifest = Manifest(datetime.now(UTC).isoformat(), _source(store), entries)
    (target / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2) + "\n", encoding="utf-8")
    return manifest


def _rows_in(store: Store) -> dict[str, int]:
    found = {}
    for name in store.tables():
        if name in _SKIPPED:
            continue
        n = store.count(name)
        if n:
            found[name] = n
    return found


def _read_checked(folder: Path, entry: TableEntry, con: Any) -> pa.Table:
    path = folder / entry.file
    if not path.exists():
        raise BadInput("dir", f"{path} is listed in the manifest but missing", str(folder))
    data = pq.read_table(path)
    if data.num_rows != entry.rows or digest(data, con=con) != entry.sha256:
        raise BadInput(
            "dir", f"{path} does not match its manifest entry (rows or digest): damaged", str(folder)
        )
    return data


def restore(store: Store, folder: str | Path) -> Manifest:
    """Restore the backup in ``folder`` into ``store``, which must hold no rows.

    Raises
    ------
    BadInput
        The store holds rows (field ``db``), or the folder is not an intact backup (field ``dir``).
    KeepwiseInputError
        A restored table's digest differs from the manifest's (the load changed rows).
    """
    store = as_store(store)
    source = Path(folder)
    manifest = Manifest.read(source)
    held = _rows_in(store)
    if held:
        some = ", ".join(f"{k} {v:,}" for k, v in sorted(held.items())[:3])
        raise BadInput(
            "db", f"the store is not empty ({some} rows); restore into a new, empty store", store.url
        )
    with digester() as con:
        data = {e.table: _read_checked(source, e, con) for e in manifest.tables}
    contract = load_order({n for n in data if n in SCHEMA and SCHEMA[n].loadable})
    own = [n for n in data if n not in contract]
    if contract:
        from keepwise.store.ingest import load_frames

        load_frames(store, [(name, data[name], f"{source / (name + '.parquet')}") for name in contract])
    with store.transaction():  # keepwise's own tables, as they are
        for name in own:
            if store.has_table(name) and store.count(name):  # consent events the consent load just wrote
                store.delete(name, {})
            _put(store, name, data[name])
    with digester() as con:
        wrong = [e.table for e in manifest.tables if table_digest(store, e.table, con=con) != e.sha256]
    if wrong:
        raise KeepwiseInputError(
            f"restored tables differ from the backup: {', '.join(wrong)} (the store now holds the restore; "
            "start again from an empty store)"
        )
    return manifest


def _put(store: Store, name: str, data: pa.Table) -> None:
    """Restore table ``name`` as it is: into the existing (empty) table, or created with the file's types."""
    if data.num_rows == 0 and store.has_table(name):
        return
    if store.is_postgres:  # the file's own types (through pandas an integer column with gaps is float)
        import ibis

        from keepwise.store.postgres import copy_rows, create_table, frame_rows

        if not store.has_table(name):
            create_table(store, name, ibis.Schema.from_pyarrow(data.schema))
        copy_rows(store.backend.con, name, data.column_names, frame_rows(data))
        return
    if not store.is_duckdb or store.has_table(name):
        store.append(name, data.to_pandas())
        return
    con = store.backend.con
    view = f"_kw_restore_{name}"
    con.register(view, data)
    try:
        store.sql(f"CREATE TABLE {store.quote(name)} AS SELECT * FROM {store.quote(view)}")
    finally:
        con.unregister(view)
