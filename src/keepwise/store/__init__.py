"""The store: one URL, an Ibis backend, the data contract and validated loads."""

from keepwise.store.connection import DEFAULT_URL, connect, default_url
from keepwise.store.schema import SCHEMA, TABLES
from keepwise.store.store import Store, as_store

__all__ = ["DEFAULT_URL", "SCHEMA", "TABLES", "Store", "as_store", "connect", "default_url"]
