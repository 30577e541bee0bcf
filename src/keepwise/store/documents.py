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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keepwise.store.store import Store

__all__ = ["LONG", "PARTS", "Head", "count_by_match", "head", "items", "load", "pages", "save"]

#: The table of the documents' parts (heads and list items).
PARTS = "stage_document_parts"
#: A top-level list of at least this many items is stored item by item.
LONG = 100
#: The ``part`` of a document's head row.
_HEAD = ""


@dataclass(frozen=True)
class Head:
    """A stored document without its long lists: ``document`` and each such list's length (``lists``).

    In ``document`` each long list's key holds ``None``, in its place among the keys.
    """

    document: dict[str, Any]
    lists: dict[str, int]


def save(store: Store, kind: str, month: str, document: Any, *, variant: str = "") -> None:
    """Store ``document`` as the one of ``kind``, ``month`` and ``variant`` (replacing an older one).

    With its parts (see the module's docstring) in the same transaction.
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
    with store.transaction():
        store.upsert(DOCUMENTS, row, key=["kind", "month", "variant"])
        if store.has_table(PARTS):
            store.delete(PARTS, {"kind": kind, "month": month, "variant": variant})
        if not long:
            return
        rest = {k: (None if k in long else v) for k, v in document.items()}  # the keys in their order
        head_text = encode({"document": rest, "lists": {k: len(v) for k, v in long.items()}})
        parts, positions, bodies = [_HEAD], [0], [head_text]
        for name, values in long.items():
            parts += [name] * len(values)
            positions += range(len(values))
            bodies += [encode(v) for v in values]
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
                    "body": bodies,
                }
            ),
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
    ors = " OR ".join("(part = ? AND position >= ? AND position < ?)" for _ in wanted)
    rows = store.sql(
        f"SELECT part, body FROM {store.quote(PARTS)} WHERE {where} AND ({ors}) ORDER BY part, position",
        [*params, *(v for k, (a, b) in wanted.items() for v in (k, a, b))],
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
) -> dict[Any, int]:
    """How many items of the list ``part`` have each value of ``table``'s column ``by`` (one query).

    An item matches the row of ``table`` (filtered to ``where``) whose columns ``on`` equal the item's fields
    of the same names; items without a matching row count under ``None``.
    """
    key, params = _key(store, kind, month, variant)
    q = store.quote
    fields = ", ".join(f"json_extract_string(body, '$.{c}') AS {q(c)}" for c in on)
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
