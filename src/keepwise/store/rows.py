"""Rows handed to :meth:`Store.append` and :meth:`Store.replace_month`: a pandas frame or an Arrow table.

DuckDB scans an Arrow table as it is (a frame's Arrow-backed text columns go through a Python object per value
in DuckDB's pandas scan); the other engines insert frames, so an Arrow table becomes one first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias, TypeGuard

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from keepwise.store.store import Store

__all__ = ["Rows", "insertable", "with_month"]

#: What the store's writers take.
Rows: TypeAlias = "pd.DataFrame | pa.Table"


def _arrow(rows: Any) -> TypeGuard[pa.Table]:
    """Whether ``rows`` is an Arrow table rather than a pandas frame."""
    return type(rows).__module__.startswith("pyarrow")


def insertable(store: Store, rows: Rows) -> Rows:
    """``rows`` as ``store``'s engine inserts them: an Arrow table as it is on DuckDB, else a plain frame."""
    from keepwise.store.store import _plain

    if _arrow(rows):
        return rows if store.is_duckdb else _plain(rows.to_pandas())
    return _plain(rows)


def with_month(store: Store, rows: Rows, column: str, month: str) -> Rows:
    """``rows`` with ``column`` set to ``month`` (added as the first column when missing), ready to insert."""
    if _arrow(rows) and store.is_duckdb:
        import pyarrow as pa

        values = pa.repeat(pa.scalar(month, pa.string()), rows.num_rows)
        if column in rows.column_names:
            return rows.set_column(rows.column_names.index(column), column, values)
        return rows.add_column(0, column, values)
    df = rows.to_pandas() if _arrow(rows) else rows.copy()
    if column in df.columns:
        df[column] = month
    else:
        df.insert(0, column, month)
    return insertable(store, df)
