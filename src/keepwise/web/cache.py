"""What the server keeps between requests: parsed stored documents and fitted models, each with its stamp.

A request opens the store, reads a cheap stamp (when a document was written; row counts and latest times of
the tables a model is fitted on) and reuses what it kept for that stamp, so a 10 MB document is parsed once
per version and the concession advisor is fitted once per state of its input tables, not per request. A
changed stamp (a command stored a new document, a load added rows) replaces the entry.

The stamp of a model's inputs sees rows added or removed and later times; an update in place that changes
neither (a cost corrected on an existing order line without any other change) is not seen until the next
load or a restart of the server.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Any, Generic, TypeVar

import ibis

from keepwise.store import Store

__all__ = ["ADVISOR_INPUTS", "Kept", "data_stamp"]

T = TypeVar("T")

#: The tables the concession advisor is fitted on, each with the columns whose latest value (or sum) marks a
#: change besides its row count.
ADVISOR_INPUTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("customers", ("acquired_at", "acquisition_cost")),
    ("products", ("unit_cost",)),
    ("orders", ("ordered_at", "unit_cost")),
    ("incidents", ("opened_at", "resolved_at", "concession_amount")),
    ("time_logs", ("started_at", "minutes")),
    ("staff_rates", ("valid_from", "hourly_cost")),
    ("advocacy", ("at", "value")),
)


def data_stamp(store: Store, inputs: Sequence[tuple[str, Sequence[str]]] = ADVISOR_INPUTS) -> tuple[Any, ...]:
    """Row counts, latest times and sums of ``inputs`` in one query: what changes when the data change.

    A timestamp column gives its latest value, a number column its sum; a table the store lacks gives
    ``None``. On DuckDB and PostgreSQL one plain statement (:func:`keepwise.store.status.input_stamp`: no
    Ibis compilation per request).
    """
    from keepwise.store.status import input_stamp

    plain = input_stamp(store, inputs)
    if plain is not None:
        return plain
    have = set(store.tables())
    parts = []
    for name, columns in inputs:
        if name not in have:
            continue
        t = store.table(name)
        metrics: dict[str, Any] = {"table": ibis.literal(name), "n": t.count().cast("string")}
        for i, col in enumerate(columns):
            if col not in t.columns:
                metrics[f"c{i}"] = ibis.literal(None, type="string")
                continue
            column = t[col]
            stat = column.max() if column.type().is_temporal() else column.sum()
            metrics[f"c{i}"] = stat.cast("string")
        for i in range(len(columns), 3):
            metrics[f"c{i}"] = ibis.literal(None, type="string")
        parts.append(t.aggregate(**metrics))
    if not parts:
        return ()
    rows = store.to_pandas(ibis.union(*parts) if len(parts) > 1 else parts[0])
    return tuple(sorted(tuple(None if v != v else v for v in r) for r in rows.itertuples(index=False)))


class Kept(Generic[T]):
    """At most ``size`` values by key, each with the stamp it was made for; the least used is dropped."""

    def __init__(self, size: int = 8):
        self.size = size
        self._items: OrderedDict[Hashable, tuple[Hashable, T]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, stamp: Hashable, make: Callable[[], T]) -> T:
        """The value kept for ``key`` if it was made for ``stamp``, else ``make()`` (kept in its place)."""
        with self._lock:
            kept = self._items.get(key)
            if kept is not None and kept[0] == stamp:
                self._items.move_to_end(key)
                return kept[1]
        value = make()
        with self._lock:
            self._items[key] = (stamp, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget everything kept."""
        with self._lock:
            self._items.clear()
