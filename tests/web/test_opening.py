"""Within one server: readers share the store read-only, a writer waits for them (keepwise.web.opening).

DuckDB refuses, within one process, a read-write connection to a file another connection holds read-only
(and the other way round); without the server's own readers-writer lock a write request arriving during a
read would fail.
"""

from __future__ import annotations

import threading

from keepwise.store import connect
from keepwise.web.opening import StoreAccess


def test_a_write_during_a_read_of_the_same_server_waits_and_then_writes(tmp_path):
    url = f"duckdb:///{tmp_path}/shared.duckdb"
    connect(url).disconnect()
    access = StoreAccess(url)
    reading, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def reader() -> None:
        with access.open(write=False) as store:
            outcome["read"] = store.count("customers")
            reading.set()
            release.wait(30)

    def writer() -> None:
        reading.wait(30)
        try:
            with access.open(write=True) as store:
                store.con.execute(
                    "INSERT INTO customers (customer_id, name, currency) VALUES ('C1', 'Ada', 'USD')"
                )
            outcome["wrote"] = True
        except Exception as exc:  # what a write request met before the lock: a refused connection
            outcome["wrote"] = exc

    threads = [threading.Thread(target=reader), threading.Thread(target=writer)]
    for t in threads:
        t.start()
    reading.wait(30)
    release.set()
    for t in threads:
        t.join(60)
    assert outcome == {"read": 0, "wrote": True}
    with access.open(write=False) as store:
        assert store.count("customers") == 1


def test_reads_open_the_store_read_only(tmp_path):
    url = f"duckdb:///{tmp_path}/ro.duckdb"
    connect(url).disconnect()
    access = StoreAccess(url)
    with access.open(write=False) as store:
        try:
            store.con.execute("CREATE TABLE t (i INTEGER)")
        except Exception as exc:
            refused = str(exc)
        else:
            refused = ""
    assert "read-only" in refused
