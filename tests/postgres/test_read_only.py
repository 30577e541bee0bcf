"""A store opened read-only on PostgreSQL reads, and refuses every write with a clear error.

``connect(url, read_only=True)`` makes the session's transactions read-only: a statement that writes, a
``COPY`` into a table and Ibis' own inserts all fail and change nothing, while reads (also those that join
in-memory data, for which Ibis creates a temporary table) go on working.
"""

from __future__ import annotations

from collections.abc import Callable

import ibis
import pytest

from keepwise.store import connect
from keepwise.store.postgres import ReadOnlyStoreError, copy_rows


def test_a_read_only_store_reads_and_refuses_writes(pg_fresh: Callable[[], str]):
    url = pg_fresh()
    store = connect(url, read_only=True)
    try:
        assert store.count("customers") == 2
        wanted = ibis.memtable({"customer_id": ["C2", "C404"]})
        customers = store.table("customers")
        joined = customers.semi_join(wanted, customers.customer_id == wanted.customer_id)
        assert store.to_pandas(joined.select("name"))["name"].tolist() == ["Bolek"]
        refused = r"^the store was opened read-only: cannot execute INSERT"
        with pytest.raises(ReadOnlyStoreError, match=refused):
            store.sql("INSERT INTO customers (customer_id, name) VALUES ('C3', 'Cyd')")
        with pytest.raises(ReadOnlyStoreError, match="opened read-only"):
            copy_rows(store.backend.con, "customers", ["customer_id"], [("C4",)])
        with pytest.raises(Exception, match="read-only transaction"):
            store.backend.insert("customers", ibis.memtable({"customer_id": ["C5"]}))
        assert store.count("customers") == 2  # still reads after the refusals
    finally:
        store.disconnect()
    writable = connect(url)
    try:
        assert sorted(writable.read("customers")["customer_id"]) == ["C1", "C2"]
        writable.sql("INSERT INTO customers (customer_id, name) VALUES ('C3', 'Cyd')")
        assert writable.count("customers") == 3
    finally:
        writable.disconnect()
