"""Stored documents' parts on PostgreSQL (issue 20): the items cut by the engine give the document back.

The same checks as the DuckDB suite's (tests/web/test_document_parts.py): every way of reading a saved
document (whole, head, a range of items, pages of several lists, the count of items matched to a table)
gives what was saved, with the items' keys stored as columns.
"""

from __future__ import annotations

import sys
from pathlib import Path

from keepwise.store import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "web"))

from parts_kit import parts_round_trip


def test_parts_on_postgres_give_back_the_document(pg_url):
    store = connect(pg_url)
    try:
        parts_round_trip(store)
    finally:
        store.disconnect()
