"""How the web opens the store: read-only for requests that only read, read-write for those that write.

DuckDB lets one process write to a file, or any number of processes read it, never both; and within one
process every connection to a file must be opened the same way. So:

- a request opens the store when it needs it and closes it before it answers (``WebState.store()``), read-only
  for ``GET``/``HEAD`` (so a command can read the store at the same time, and a dashboard never blocks
  another dashboard), read-write for the methods that change something;
- inside the server process, readers share the store and a writer waits until they are done (and the other
  way round): :class:`StoreAccess`, a readers-writer lock, never more than :data:`WAIT_SECONDS`;
- a store another process holds (a ``keepwise load`` writing, or readers while a request would write) is not
  waited for: :class:`~keepwise.store.connection.StoreBusy`, answered 503 with ``Retry-After``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from keepwise.store import Store, connect
from keepwise.store.connection import StoreBusy, duckdb_path

__all__ = ["RETRY_AFTER_SECONDS", "WAIT_SECONDS", "ReadOnlyStore", "StoreAccess", "writing"]

#: Seconds a request waits for the server's own other requests before it answers 503.
WAIT_SECONDS = 10.0
#: What a 503 tells the client to wait before trying again.
RETRY_AFTER_SECONDS = 5

#: Whether the request being served may write (set per request from its method by the app).
writing: ContextVar[bool] = ContextVar("keepwise_web_writing", default=True)


class ReadOnlyStore(Store):
    """The store of a request that only reads: its table names and each table's schema looked up once.

    Nothing can create or change a table through a read-only connection, so what the first lookup found
    holds for the whole request (a customer's page asks for a dozen tables; each lookup is a query).
    """

    def __init__(self, store: Store):
        super().__init__(store.backend, store.url)
        self._names: list[str] | None = None
        self._tables: dict[str, Any] = {}

    def tables(self) -> list[str]:
        """Names of the tables (and views) in the store, listed once."""
        if self._names is None:
            self._names = super().tables()
        return list(self._names)

    def table(self, name: str) -> Any:
        """The table ``name`` as an Ibis expression, looked up once."""
        if name not in self._tables:
            self._tables[name] = super().table(name)
        return self._tables[name]


class StoreAccess:
    """One server's access to one store: shared read-only connections, or one read-write at a time."""

    def __init__(self, db: str):
        self.db = db
        self._turn = threading.Condition()
        self._readers = 0
        self._writers = 0

    def _exists(self) -> bool:
        if not self.db.startswith("duckdb://"):
            return True
        path = duckdb_path(self.db)
        return path != ":memory:" and Path(path).exists()

    def prepare(self) -> None:
        """Create the contract's tables once, if the store is free (a busy store is left for later)."""
        if not self.db.startswith("duckdb://"):
            return
        try:
            connect(self.db, wait=0).disconnect()
        except StoreBusy:
            pass

    @contextmanager
    def _hold(self, write: bool, wait: float = WAIT_SECONDS) -> Iterator[None]:
        with self._turn:
            free = self._turn.wait_for(
                lambda: self._writers == 0 and (not write or self._readers == 0), timeout=wait
            )
            if not free:
                raise StoreBusy("the store is busy with another request of this server")
            if write:
                self._writers += 1
            else:
                self._readers += 1
        try:
            yield
        finally:
            with self._turn:
                if write:
                    self._writers -= 1
                else:
                    self._readers -= 1
                self._turn.notify_all()

    @contextmanager
    def open(self, write: bool | None = None, wait: float = WAIT_SECONDS) -> Iterator[Store]:
        """A connection for one request: read-only unless the request writes (or ``write=True``).

        ``wait`` is how long to wait for this server's other requests (then :class:`StoreBusy`).
        """
        write = writing.get() if write is None else write
        if not write and not self._exists():
            write = True  # a store not created yet: the first connection creates it
        with self._hold(write, wait):
            backend = connect(self.db, read_only=not write, wait=0)
            try:
                yield backend if write else ReadOnlyStore(backend)
            finally:
                backend.disconnect()
