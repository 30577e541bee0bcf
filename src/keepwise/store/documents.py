"""The stages' stored JSON documents (table ``stage_documents``): what :meth:`Store.save_document` writes.

A stage's front door stores the document its command prints with ``--json``; the dashboard and the API read
it back instead of computing again.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keepwise.store.store import Store

__all__ = ["load", "save"]


def save(store: Store, kind: str, month: str, document: Any, *, variant: str = "") -> None:
    """Store ``document`` as the one of ``kind``, ``month`` and ``variant`` (replacing an older one)."""
    import pandas as pd

    from keepwise.jsonio import dumps
    from keepwise.store.store import DOCUMENTS

    row = pd.DataFrame(
        {
            "kind": [kind],
            "month": [month],
            "variant": [variant],
            "written_at": [datetime.now(UTC)],
            "body": [dumps(document, indent=None)],
        }
    )
    store.upsert(DOCUMENTS, row, key=["kind", "month", "variant"])


def load(store: Store, kind: str, month: str, *, variant: str = "") -> Any | None:
    """The document :func:`save` stored for ``kind``, ``month`` and ``variant``, or ``None``."""
    from keepwise.store.store import DOCUMENTS

    if not store.has_table(DOCUMENTS):
        return None
    df = store.read(DOCUMENTS, where={"kind": kind, "month": month, "variant": variant}, columns=["body"])
    return None if df.empty else json.loads(df.body.iloc[0])
