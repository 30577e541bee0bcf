"""Stored documents' parts (issue 20): a page read from a document's stored items is the page of the whole.

:func:`keepwise.store.documents.save` stores each long list item by item beside the document; the API and
the pages read one page of rows instead of parsing the whole text. Every answer must be what the whole
document gives: compared here with the same routes after the parts are gone (the fallback that parses the
whole document, as for a document an older keepwise stored).
"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from keepwise.store import connect, documents

from .conftest import MONTH, SECRET, TOKEN, cli
from .parts_kit import TRICKY, parts_round_trip


def test_parts_give_back_the_document_and_follow_its_version(tmp_path):
    url = f"duckdb:///{tmp_path}/parts.duckdb"
    store = connect(url)
    try:
        doc = {
            "month": "2025-01",
            "ranked": [{"customer_id": f"C{i}", "value": str(i)} for i in range(250)],
            "short": [1, 2],
            "total": "12.50",
        }
        store.save_document("winback", "2025-01", doc)
        assert store.load_document("winback", "2025-01") == doc
        written = store.read("stage_documents", columns=["written_at"])["written_at"].iloc[0]
        head = documents.head(store, "winback", "2025-01", written)
        assert head is not None and head.lists == {"ranked": 250}
        assert list(head.document) == list(doc)  # the keys in their order, the long list's empty
        assert head.document["short"] == [1, 2] and head.document["ranked"] is None
        assert documents.items(store, "winback", "2025-01", "ranked", 240, 260) == doc["ranked"][240:]
        assert documents.items(store, "winback", "2025-01", "ranked", 0, 3) == doc["ranked"][:3]
        # a new version replaces the parts; a body written without parts (an older keepwise) has none
        store.save_document("winback", "2025-01", {**doc, "ranked": doc["ranked"][:120]})
        written = store.read("stage_documents", columns=["written_at"])["written_at"].iloc[0]
        head = documents.head(store, "winback", "2025-01", written)
        assert head is not None and head.lists == {"ranked": 120}
        assert store.count(documents.PARTS) == 121
        store.sql("UPDATE stage_documents SET written_at = written_at + INTERVAL 1 SECOND")
        written = store.read("stage_documents", columns=["written_at"])["written_at"].iloc[0]
        assert documents.head(store, "winback", "2025-01", written) is None
        store.save_document("winback", "2025-01", {"month": "2025-01", "ranked": []})  # short: no parts
        assert store.count(documents.PARTS) == 0
    finally:
        store.disconnect()


@pytest.fixture
def own_copy(store_url, reviews, tmp_path, monkeypatch) -> str:
    """A copy of the test store on which ``winback``, ``outreach`` and ``profit`` (both views) stored.

    Every list of 5 items or more is stored item by item (the store's lists are short: 600 customers).
    """
    monkeypatch.setattr(documents, "LONG", 5)
    path = tmp_path / "own.duckdb"
    shutil.copy(store_url.removeprefix("duckdb:///"), path)
    url = f"duckdb:///{path}"
    for args in (("winback",), ("outreach",), ("profit",), ("profit", "--view", "ttm")):
        code, _, err = cli(*args, "--month", MONTH, "--json", "--db", url)
        assert code == 0, err
    return url


def test_every_page_from_the_parts_is_the_page_of_the_whole_document(own_copy, config, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    requests = [
        ("/api/profit", {"month": MONTH}),
        ("/api/profit", {"month": MONTH, "view": "ttm", "page": 2, "per_page": 7}),
        ("/api/profit", {"month": MONTH, "view": "ttm", "page": 500}),
        ("/api/winback", {"month": MONTH}),
        ("/api/winback", {"month": MONTH, "top": 0, "page": 2, "per_page": 30}),
        ("/api/winback", {"month": MONTH, "top": 45, "page": 2, "per_page": 20}),
        ("/api/outreach", {"month": MONTH, "page": 3, "per_page": 25}),
        ("/profit", {"month": MONTH, "page": 2}),
        ("/winback", {"month": MONTH, "page": 1}),
        ("/outreach", {"month": MONTH, "page": 2, "per_page": 10}),
    ]

    def answers() -> list[str]:
        with TestClient(create_app(own_copy, config)) as c:
            c.headers["Authorization"] = f"Bearer {TOKEN}"
            out = []
            for path, params in requests:
                got = c.get(path, params=params)
                assert got.status_code == 200, (path, got.text[:300])
                out.append(got.text)
            return out

    con = duckdb.connect(own_copy.removeprefix("duckdb:///"), read_only=True)
    try:
        lists = dict(
            con.execute("SELECT kind || variant, count(*) FROM stage_document_parts GROUP BY 1").fetchall()
        )
    finally:
        con.close()
    assert {"profit", "profitttm", "winback", "outreach"} <= set(lists)  # the parts were stored
    from_parts = answers()
    con = duckdb.connect(own_copy.removeprefix("duckdb:///"))
    try:
        con.execute("DROP TABLE stage_document_parts")
    finally:
        con.close()
    whole = answers()
    for (path, params), a, b in zip(requests, from_parts, whole, strict=True):
        assert a == b, (path, params)


def test_the_engine_cuts_the_items_as_python_would(tmp_path, monkeypatch):
    store = connect(f"duckdb:///{tmp_path}/engine.duckdb")
    try:
        parts_round_trip(store)
        monkeypatch.setattr(documents, "_NAME", documents.re.compile("(?!)"))  # every list cut in Python
        parts_round_trip(store)
    finally:
        store.disconnect()


def test_an_older_parts_table_is_replaced_and_its_documents_read_whole(tmp_path):
    url = f"duckdb:///{tmp_path}/older.duckdb"
    store = connect(url)
    try:
        doc = {"month": "2025-01", "ranked": [{"customer_id": f"C{i}"} for i in range(120)]}
        store.save_document("winback", "2025-01", doc)
        store.sql(f"DROP TABLE {documents.PARTS}")  # as an older keepwise made it: no key columns
        store.sql(
            f"CREATE TABLE {documents.PARTS} (kind VARCHAR, month VARCHAR, variant VARCHAR, "
            "written_at TIMESTAMPTZ, part VARCHAR, position BIGINT, body VARCHAR)"
        )
        store.save_document("outreach", "2025-01", {"month": "2025-01", "actions": TRICKY})
        written = store.read("stage_documents", where={"kind": "winback"}, columns=["written_at"])
        assert documents.head(store, "winback", "2025-01", written["written_at"].iloc[0]) is None
        assert store.load_document("winback", "2025-01") == doc
        assert set(documents.KEYS) <= set(store.table(documents.PARTS).columns)
    finally:
        store.disconnect()
