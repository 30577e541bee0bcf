"""Writing a simulated table as CSV: timestamps as ``YYYY-MM-DDTHH:MM:SSZ``, money as exact decimals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from keepwise.store.schema import SCHEMA


def _format_ts(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """UTC timestamps as ``YYYY-MM-DDTHH:MM:SSZ`` (fast: dates and times of day come from lookup tables)."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    arr = arr.cast(pa.timestamp("s", tz="UTC"))
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    sec = np.asarray(arr.cast(pa.int64()).fill_null(0).to_numpy(), np.int64)
    if len(sec) == 0:
        return pa.array([], pa.string())
    day, tod = np.divmod(sec, 86400)
    d0, d1 = int(day.min()), int(day.max())
    days = np.arange(d0, d1 + 1).astype("datetime64[D]")
    day_text = pa.array([f"{d}T" for d in np.datetime_as_string(days, unit="D").tolist()], pa.string())
    hms = np.arange(86400)
    tod_text = pa.array(
        [f"{h:02d}:{m:02d}:{s:02d}Z" for h, m, s in zip(hms // 3600, hms // 60 % 60, hms % 60, strict=True)],
        pa.string(),
    )
    text = pc.binary_join_element_wise(day_text.take(pa.array(day - d0)), tod_text.take(pa.array(tod)), "")
    return pc.if_else(pa.array(valid), text, pa.scalar(None, pa.string()))


def _format_money(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Float amounts as exact decimals with two places, written as ``18.50``, ``-0.05``."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    valid = np.asarray(arr.is_valid().to_numpy(zero_copy_only=False), bool)
    cents = np.rint(np.asarray(arr.fill_null(0.0).to_numpy(), float) * 100.0).astype(np.int64)
    buf = np.empty(2 * len(cents), np.int64)
    buf[0::2] = cents
    buf[1::2] = np.where(cents < 0, -1, 0)
    validity = None if valid.all() else pa.array(valid).buffers()[1]
    return pa.Array.from_buffers(pa.decimal128(18, 2), len(cents), [validity, pa.py_buffer(buf)])


def write_csv(df: pd.DataFrame, name: str, path: Path) -> None:
    """Write ``df`` as the contract table ``name`` to ``path`` (CSV, quoting only where needed)."""
    spec = SCHEMA[name]
    table = pa.Table.from_pandas(df, preserve_index=False)
    arrays = []
    for col in spec.columns:
        data = table.column(col.name)
        if col.type == "timestamp":
            arrays.append(_format_ts(data))
        elif col.type == "money":
            arrays.append(_format_money(data))
        else:
            arrays.append(data)
    out = pa.table(arrays, names=spec.column_names)
    pa_csv.write_csv(out, str(path), pa_csv.WriteOptions(quoting_style="needed"))
