"""The stages' stored JSON documents (table ``stage_documents``): what :meth:`Store.save_document` writes.

A stage's front door stores the document its command prints with ``--json``; the dashboard and the API read
it back instead of computing again.

A document's long lists grow with the customers (a million customers' outreach plan is 800 MB of JSON), so
:func:`save` also stores, in ``stage_document_parts``, the document without them (its *head*, with each
list's length) and every item of each long top-level list as a row of its own, by position. A page of a list
is then one read of a few rows (:func:`items`) and the rest of the document one small row (:func:`head`),
never a parse of the whole text. The parts carry the ``written_at`` of the body they were cut from: parts of
another version (a body saved by an older keepwise, which wrote none) are not used, and the reader falls
back to the whole document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keepwise.store.store import Store

__all__ = ["KEYS", "LONG", "PARTS", "Head", "count_by_match", "head", "items", "load", "pages", "save"]

#: The table of the documents' parts (heads and list items).
PARTS = "stage_document_parts"
#: A top-level list of at least this many items is stored item by item.
LONG = 100
#: The ``part`` of a document's head row.
_HEAD = ""
#: Fields of a list's items kept as columns of their rows too (``None``: not a field of the item), so a query
#: can join the items to a table (the outreach plan's actions to their saved statuses) without parsing them.
KEYS = ("customer_id", "action")
#: A list's name the engine's JSON path takes as it is.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Head:
    """A stored document without its long lists: ``document`` and each such list's length (``lists``).

    In ``document`` each long list's key holds ``None``, in its place among the keys.
    """

    document: dict[str, Any]
    lists: dict[str, int]


def save(store: Store, kind: str, month: str, document: Any, *, variant: str = "") -> None:
    """Store ``document`` as the one of ``kind``, ``month`` and ``variant`` (replacing an older one).

    With its parts (see the module's docstring) in the same transaction. On DuckDB and PostgreSQL the
    items are cut from the stored body by the engine (one ``INSERT ... SELECT`` per long list: no item is
    encoded again in Python); elsewhere each item is encoded here.
    """
    import pandas as pd

    from keepwise.jsonio import default
    from keepwise.store.store import DOCUMENTS

    written = datetime.now(UTC)
    encode = json.JSONEncoder(default=default, ensure_ascii=False).encode
    row = pd.DataFrame(
        {
            "kind": [kind],
            "month": [month],
            "variant": [variant],
            "written_at": [written],
            "body": [encode(document)],
        }
    )
    long = {}
    if isinstance(document, Mapping):
        long = {k: v for k, v in document.items() if isinstance(v, list) and len(v) >= LONG}
    in_engine = (store.is_duckdb or store.is_postgres) and all(_NAME.fullmatch(k) for k in long)
    with store.transaction():
        store.upsert(DOCUMENTS, row, key=["kind", "month", "variant"])
        del row
        _ready(store)
        if store.has_table(PARTS):
            store.delete(PARTS, {"kind": kind, "month": month, "variant": variant})
        if not long:
            return
        rest = {k: (None if k in long else v) for k, v in document.items()}  # the keys in their order
        head_text = encode({"document": rest, "lists": {k: len(v) for k, v in long.items()}})
        if in_engine:
            _insert_head(store, kind, month, variant, head_text)
            for name in long:
                _insert_items(store, kind, month, variant, name)
            return
        parts, positions, bodies = [_HEAD], [0], [head_text]
        keys: dict[str, list[Any]] = {c: [None] for c in KEYS}
        for name, values in long.items():
            parts += [name] * len(values)
            positions += range(len(values))
            bodies += [encode(v) for v in values]
            for c in KEYS:
                keys[c] += [_text(v.get(c)) if isinstance(v, Mapping) else None for v in values]
        n = len(parts)
        store.append(
            PARTS,
            pd.DataFrame(
                {
                    "kind": [kind] * n,
                    "month": [month] * n,
                    "variant": [variant] * n,
                    "written_at": [written] * n,
                    "part": parts,
                    "position": pd.array(positions, dtype="int64"),
                    **{c: pd.array(keys[c], dtype="string") for c in KEYS},
                    "body": bodies,
                }
            ),
        )


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _ready(store: Store) -> None:
    """Make the parts table on DuckDB and PostgreSQL (an older keepwise's, without :data:`KEYS`, is dropped).

    An older table's parts are only a copy of their documents' lists: without them a document is read whole.
    """
    if not (store.is_duckdb or store.is_postgres):
        return
    rows = store.sql(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = ?",
        [PARTS],
    )
    have = {str(r[0]) for r in rows}
    if have and set(KEYS) <= have:
        return
    if have:
        store.drop(PARTS)
    text = "VARCHAR" if store.is_duckdb else "TEXT"
    columns = ", ".join(
        [
            *(f"{store.quote(c)} {text}" for c in ("kind", "month", "variant")),
            f"{store.quote('written_at')} TIMESTAMPTZ",
            f"{store.quote('part')} {text}",
            f"{store.quote('position')} BIGINT",
            *(f"{store.quote(c)} {text}" for c in KEYS),
            f"{store.quote('body')} {text}",
        ]
    )
    statement = f"CREATE TABLE IF NOT EXISTS {store.quote(PARTS)} ({columns})"
    if store.is_postgres:
        from keepwise.store.postgres import create

        create(store, statement)
    else:
        store.sql(statement)


_COLUMNS = ("kind", "month", "variant", "written_at", "part", "position", "customer_id", "action", "body")


def _insert_head(store: Store, kind: str, month: str, variant: str, text: str) -> None:
    """The head row, stamped with the stored body's ``written_at``."""
    from keepwise.store.store import DOCUMENTS

    q = store.quote
    listed = ", ".join(q(c) for c in _COLUMNS)
    store.sql(
        f"INSERT INTO {q(PARTS)} ({listed}) SELECT kind, month, variant, written_at, ?, 0, NULL, NULL, ? "
        f"FROM {q(DOCUMENTS)} WHERE kind = ? AND month = ? AND variant = ?",
        [_HEAD, text, kind, month, variant],
    )


def _insert_items(store: Store, kind: str, month: str, variant: str, name: str) -> None:
    """Every item of the stored body's list ``name`` as a row, cut by the engine (one statement)."""
    from keepwise.store.store import DOCUMENTS

    q = store.quote
    listed = ", ".join(q(c) for c in _COLUMNS)
    if store.is_duckdb:
        source = (
            "SELECT kind, month, variant, written_at, unnest(items) AS item, "
            "unnest(range(len(items))) AS position FROM (SELECT kind, month, variant, written_at, "
            f"json_extract(body, ?) AS items FROM {q(DOCUMENTS)} WHERE kind = ? AND month = ? "
            "AND variant = ?)"
        )
        keys = ", ".join(f"json_extract_string(item, '$.{c}')" for c in KEYS)
        store.sql(
            f"INSERT INTO {q(PARTS)} ({listed}) SELECT kind, month, variant, written_at, ?, position, "
            f"{keys}, CAST(item AS VARCHAR) FROM ({source})",
            [name, f"$.{name}[*]", kind, month, variant],
        )
        return
    keys = ", ".join(f"e.value ->> '{c}'" for c in KEYS)
    store.sql(
        f"INSERT INTO {q(PARTS)} ({listed}) SELECT d.kind, d.month, d.variant, d.written_at, ?, "
        f"e.n - 1, {keys}, e.value::text FROM {q(DOCUMENTS)} d, "
        "json_array_elements(CAST(d.body AS json) -> ?) WITH ORDINALITY AS e(value, n) "
        "WHERE d.kind = ? AND d.month = ? AND d.variant = ?",
        [name, name, kind, month, variant],
    )


def load(store: Store, kind: str, month: str, *, variant: str = "") -> Any | None:
    """The document :func:`save` stored for ``kind``, ``month`` and ``variant``, or ``None``."""
    from keepwise.store.store import DOCUMENTS

    if not store.has_table(DOCUMENTS):
        return None
    df = store.read(DOCUMENTS, where={"kind": kind, "month": month, "variant": variant}, columns=["body"])
    return None if df.empty else json.loads(df.body.iloc[0])


def _key(store: Store, kind: str, month: str, variant: str) -> tuple[str, list[Any]]:
    return (
        f"{store.quote('kind')} = ? AND {store.quote('month')} = ? AND {store.quote('variant')} = ?",
        [kind, month, variant],
    )


def head(store: Store, kind: str, month: str, written_at: Any, *, variant: str = "") -> Head | None:
    """The stored head of the document written at ``written_at`` (its body's), or ``None``.

    ``None`` also when the document has no long list, or its parts belong to another version: read the
    whole document then (:func:`load`).
    """
    if not store.has_table(PARTS):
        return None
    where, params = _key(store, kind, month, variant)
    rows = store.sql(
        f"SELECT written_at, body FROM {store.quote(PARTS)} WHERE {where} AND part = ? AND position = 0",
        [*params, _HEAD],
    )
    if not rows or str(_utc(rows[0][0])) != str(_utc(written_at)):
        return None
    found = json.loads(rows[0][1])
    return Head(found["document"], {str(k): int(v) for k, v in found["lists"].items()})


def items(
    store: Store, kind: str, month: str, part: str, start: int, stop: int, *, variant: str = ""
) -> list[Any]:
    """Items ``start`` to ``stop`` (exclusive) of the document's list ``part``, in order (one read)."""
    if stop <= start or not part:
        return []
    where, params = _key(store, kind, month, variant)
    rows = store.sql(
        f"SELECT body FROM {store.quote(PARTS)} WHERE {where} AND part = ? "
        "AND position >= ? AND position < ? ORDER BY position",
        [*params, part, int(start), int(stop)],
    )
    return [json.loads(r[0]) for r in rows]


def pages(
    store: Store, kind: str, month: str, ranges: Mapping[str, tuple[int, int]], *, variant: str = ""
) -> dict[str, list[Any]]:
    """Items ``start`` to ``stop`` (exclusive) of each list named in ``ranges``, in order, in one read."""
    wanted = {k: (int(a), int(b)) for k, (a, b) in ranges.items() if b > a and k}
    out: dict[str, list[Any]] = {k: [] for k in ranges}
    if not wanted:
        return out
    where, params = _key(store, kind, month, variant)
    # one plain range per list (an OR of them would not prune the table's blocks: a scan of every row)
    one = f"SELECT part, position, body FROM {store.quote(PARTS)} WHERE {where} AND part = ? "
    one += "AND position >= ? AND position < ?"
    rows = store.sql(
        f"SELECT part, body FROM ({' UNION ALL '.join(one for _ in wanted)}) u ORDER BY part, position",
        [v for k, (a, b) in wanted.items() for v in (*params, k, a, b)],
    )
    for part, body in rows:
        out[part].append(json.loads(body))
    return out


def count_by_match(
    store: Store,
    kind: str,
    month: str,
    part: str,
    table: str,
    on: Sequence[str],
    by: str,
    where: Mapping[str, Any],
    *,
    variant: str = "",
) -> dict[Any, int] | None:
    """How many items of the list ``part`` have each value of ``table``'s column ``by`` (one query).

    An item matches the row of ``table`` (filtered to ``where``) whose columns ``on`` equal the item's fields
    of the same names; items without a matching row count under ``None``. The fields are the parts' columns
    when they are :data:`KEYS`; otherwise DuckDB reads them from each item's JSON, and other engines give
    ``None`` (count from the whole document then).
    """
    key, params = _key(store, kind, month, variant)
    q = store.quote
    if set(on) <= set(KEYS) and set(KEYS) <= _columns(store, PARTS):  # the items' fields as columns
        fields = ", ".join(q(c) for c in on)
    elif store.is_duckdb:
        fields = ", ".join(f"json_extract_string(body, '$.{c}') AS {q(c)}" for c in on)
    else:
        return None
    filters = " AND ".join(f"t.{q(c)} = ?" for c in where)
    join = " AND ".join(f"t.{q(c)} = p.{q(c)}" for c in on)
    rows = store.sql(
        f"SELECT t.{q(by)}, count(*) FROM (SELECT {fields} FROM {q(PARTS)} WHERE {key} AND part = ?) p "
        f"LEFT JOIN (SELECT * FROM {q(table)} t WHERE {filters or 'TRUE'}) t ON {join} GROUP BY 1",
        [*params, part, *where.values()],
    )
    return {r[0]: int(r[1]) for r in rows}


def _utc(value: Any) -> Any:
    """A stored time as an aware UTC ``datetime`` (the engines give naive, aware or pandas values)."""
    if value is None:
        return None
    import pandas as pd

    stamp = pd.Timestamp(value)
    return (stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")).to_pydatetime()


def _columns(store: Store, table: str) -> set[str]:
    """The columns of ``table`` (one read of the catalogue on DuckDB and PostgreSQL)."""
    if store.is_duckdb or store.is_postgres:
        rows = store.sql(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ?",
            [table],
        )
        return {str(r[0]) for r in rows}
    return set(store.table(table).columns) if store.has_table(table) else set()
