"""Writes on engines whose tables cannot change rows in place (Spark's Parquet tables).

:class:`~keepwise.store.store.Store` calls these for ``upsert``, ``update``, ``delete`` and ``replace_month``
on Spark: the rows to keep plus the new ones are written to a staging table, which is copied back over the
table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from keepwise.store.store import Store

__all__ = ["fitted", "rewrite", "writable"]


def fitted(store: Store, name: str, rows: pd.DataFrame) -> Any:
    """``rows`` as an Ibis table with the stored table's columns, in its order and types."""
    import ibis

    new = ibis.memtable(rows)
    target = store.table(name).schema()
    return new.select(
        *[
            new[col].cast(typ).name(col) if col in new.columns else ibis.null(typ).name(col)
            for col, typ in target.items()
        ]
    )


def rewrite(
    store: Store,
    name: str,
    *,
    keep: Any = None,
    base: Any = None,
    new: pd.DataFrame | None = None,
    rebuild_if_incompatible: bool = False,
) -> None:
    """Spark: write (kept rows of ``name`` or ``base``) + ``new`` to a staging table, then copy it back.

    Spark cannot overwrite a table while reading it. If the copy back fails, the staging table
    ``<name>_kw_staging`` still holds every row.
    """
    import ibis

    writable(store, name)
    old = store.table(name)
    target = old.schema()
    rows = base if base is not None else (old.filter(keep) if keep is not None else old)
    if new is not None:
        added = ibis.memtable(new)
        compatible = set(added.columns) <= set(target) and all(
            typ.is_null() or type(typ) is type(target[c]) or (typ.is_numeric() and target[c].is_numeric())
            for c, typ in added.schema().items()
        )
        if not compatible:
            if not rebuild_if_incompatible:
                raise ValueError(f"rows do not fit table {name}")
            store.backend.create_table(name, added, overwrite=True)
            return
        rows = rows.union(fitted(store, name, new))
    staging = f"{name}_kw_staging"
    store.backend.create_table(staging, rows, overwrite=True)
    store.backend.create_table(name, store.table(staging), overwrite=True)
    store.drop(staging)


def writable(store: Store, name: str) -> None:
    """On Spark, turn table ``name`` into a table of the session's catalog if it is a temporary view.

    A Spark store's contract tables are temporary views over the Parquet export (and empty placeholders for
    the tables the export lacks, :func:`keepwise.store.spark.register_parquet`); Spark cannot insert into
    a view. The view's rows are copied into a catalog table of the same name, which replaces the view.
    """
    session = getattr(store.backend, "_session", None)
    if session is None or not store.has_table(name):
        return
    temporary = any(t.name == name and t.isTemporary for t in session.catalog.listTables())
    if not temporary:
        return
    staging = f"{name}_kw_staging"
    store.backend.create_table(staging, store.table(name), overwrite=True)
    session.catalog.dropTempView(name)
    store.backend.create_table(name, store.table(staging), overwrite=True)
    store.drop(staging)
