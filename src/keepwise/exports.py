"""CSV files for people: the one writer of every ``--out`` CSV keepwise writes, safe to open in a spreadsheet.

A spreadsheet treats a cell that begins with ``=``, ``+``, ``-`` or ``@`` as a formula, and some also one that
begins with a tab or a carriage return; a customer id such as ``=HYPERLINK("http://evil.example","x")`` in
an exported file would then run when someone opens it ("CSV injection", or formula injection). Following the
OWASP guidance (https://owasp.org/www-community/attacks/CSV_Injection), :func:`write_csv` prefixes every
text cell that begins with one of those characters with a single quote, so the spreadsheet shows it as text,
and quotes cells that hold the separator, a quote or a line break (embedded quotes are doubled). Numbers,
dates and booleans are written as they are: a negative amount stays a number.

Files keepwise writes to be read back by keepwise (the simulator's tables, ``keepwise load``'s inputs) are
data, not exports, and are not changed.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["FORMULA_STARTS", "neutralise", "safe_frame", "write_csv"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP, CSV injection).
FORMULA_STARTS: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` with a single quote in front when it is text that a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with its text cells (and names) :func:`neutralise`-d; other columns as given."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if (
            pd.api.types.is_numeric_dtype(series)
            or pd.api.types.is_bool_dtype(series)
            or pd.api.types.is_datetime64_any_dtype(series)
        ):
            continue
        out[column] = series.astype(object).map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def _frames(data: Any) -> Iterator[pd.DataFrame]:
    """``data`` as DataFrames: itself, or an Ibis table's rows (read once as Arrow) in batches."""
    if isinstance(data, pd.DataFrame):
        yield data
        return
    for batch in data.to_pyarrow().to_batches(max_chunksize=100_000):
        yield batch.to_pandas()


def write_csv(data: Any, path: str | Path) -> int:
    """Write ``data`` (a DataFrame or an Ibis table) to the CSV file ``path``, safe for spreadsheets.

    Parameters
    ----------
    data:
        A :class:`pandas.DataFrame` (its index is not written) or an Ibis table expression (read in batches).
    path:
        The file to write (replaced if it exists), UTF-8 with a header row.

    Returns
    -------
    int
        The rows written (not counting the header).
    """
    rows = 0
    header = True
    with Path(path).open("w", encoding="utf-8", newline="") as handle:
        for frame in _frames(data):
            safe_frame(frame).to_csv(
                handle, index=False, header=header, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n"
            )
            header = False
            rows += len(frame)
        if header and not isinstance(data, pd.DataFrame):  # an empty table still gets its header
            columns = list(data.columns)
            safe_frame(pd.DataFrame(columns=columns)).to_csv(handle, index=False, lineterminator="\r\n")
    return rows
