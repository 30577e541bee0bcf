"""Reading exports and their values: CSV with a BOM or CRLF, amounts with a decimal comma, local times.

Every reader works on a whole column at once (a million-line export is read in seconds) and, when a value
cannot be read, raises :class:`~keepwise.exceptions.LoadError` naming the file, the row as a spreadsheet
numbers it (header = row 1) and the export's column.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from keepwise.exceptions import BadInput, LoadError
from keepwise.store.adapters.base import ROW

__all__ = [
    "as_utc",
    "blank",
    "durations_minutes",
    "header_of",
    "local_times",
    "localize",
    "money",
    "normal_email",
    "read_export",
    "timestamps",
    "zone",
]


def header_of(path: Path) -> list[str]:
    """The column names in the first line of a CSV export (a UTF-8 BOM is dropped; ``;`` is understood)."""
    if not path.exists():
        raise LoadError(path.name, "no such file")
    with path.open("rb") as f:
        first = f.readline()
    try:
        line = first.decode("utf-8-sig").rstrip("\r\n")
    except UnicodeDecodeError:
        raise LoadError(path.name, "not valid UTF-8 in the header; save the export as UTF-8", row=1) from None
    if not line.strip():
        raise LoadError(path.name, "file is empty (expected a header line and rows)")
    delimiter = ";" if line.count(";") > line.count(",") else ","
    return [h.strip() for h in next(csv.reader([line], delimiter=delimiter))]


def read_export(path: Path, wanted: list[str]) -> pd.DataFrame:
    """The columns of ``wanted`` found in the export (matched ignoring case), as text, plus ``_row``.

    A wanted name ending in ``*`` stands for every column whose name starts with it (``line_item_*``).
    Absent columns come back empty; a value missing is the empty string. Quoted values may span lines (a
    spreadsheet still counts such a record as one row).
    """
    header = header_of(path)
    by_lower = {h.lower(): h for h in header}
    wanted = [
        h for w in wanted for h in ([x for x in header if x.startswith(w[:-1])] if w.endswith("*") else [w])
    ]
    found = {w: by_lower[w.lower()] for w in wanted if w.lower() in by_lower}
    delimiter = ";" if header and len(header) > 1 and _delimiter(path) == ";" else ","
    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(block_size=16 << 20),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(dict.fromkeys(found.values())),
                column_types={c: pa.string() for c in found.values()},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise LoadError(path.name, f"cannot be read as CSV: {str(exc).splitlines()[0]}") from None
    frame = pd.DataFrame(index=pd.RangeIndex(table.num_rows))
    for w in wanted:
        if w in found:
            column = pc.utf8_trim_whitespace(pc.fill_null(table.column(found[w]), ""))
            frame[w] = column.to_pandas()
        else:
            frame[w] = ""
    frame[ROW] = np.arange(2, table.num_rows + 2)
    if frame.empty:
        raise LoadError(path.name, "has a header but no rows")
    return frame


def _delimiter(path: Path) -> str:
    with path.open("rb") as f:
        line = f.readline().decode("utf-8-sig", errors="replace")
    return ";" if line.count(";") > line.count(",") else ","


def blank(series: pd.Series) -> pd.Series:
    """True where a text value is empty."""
    return series.astype(str).str.len() == 0


def _fail(file: str, frame: pd.DataFrame, bad: pd.Series, column: str, problem: str) -> None:
    if bool(bad.any()):
        at = bad.to_numpy().nonzero()[0][0]
        value = frame[column].iloc[at]
        raise LoadError(file, problem.format(value=f"'{value}'"), row=int(frame[ROW].iloc[at]), column=column)


_DECIMAL_COMMA = re.compile(r"^-?\d{1,3}(?:[. \u00a0]\d{3})*,\d+$|^-?\d+,\d+$")


def money(frame: pd.DataFrame, column: str, file: str, *, default: float | None = 0.0) -> pd.Series:
    """The amounts in ``column`` as numbers: ``1,234.56``, ``1.234,56``, ``12,5``, ``$12.00`` all read.

    An empty value is ``default`` (``None``: NaN); anything else that is not a number fails the import.
    """
    plain = pd.to_numeric(frame[column].where(frame[column] != "", None), errors="coerce").astype(float)
    if not bool((plain.isna() & (frame[column] != "")).any()):  # the common case: plain decimals
        return plain.fillna(np.nan if default is None else default)
    raw = frame[column].astype(str).str.replace(r"[\s$€£\u00a0]|zł|PLN|USD|EUR|GBP", "", regex=True)
    comma = raw.str.match(_DECIMAL_COMMA)
    text = raw.where(~comma, raw.str.replace(".", "", regex=False).str.replace(",", ".", regex=False))
    text = text.where(comma, text.str.replace(",", "", regex=False))
    values = pd.to_numeric(text.where(text != "", None), errors="coerce").astype(float)
    _fail(file, frame, values.isna() & (raw != ""), column, "not an amount: {value}")
    return values.fillna(np.nan if default is None else default)


def normal_email(series: pd.Series) -> pd.Series:
    """E-mail addresses trimmed and in lower case (empty where there is none or it has no ``@``)."""
    text = series.astype(str).str.strip().str.lower()
    return text.where(text.str.contains("@", regex=False), "")


def zone(name: str | None, file: str, what: str) -> ZoneInfo:
    """The time zone ``name``; without one, refuse: local times are never silently read as UTC."""
    if not name:
        raise BadInput(
            "timezone",
            f"{file} has {what} without a time zone; give the zone the export was written in "
            "(e.g. Europe/Warsaw), or set [import] timezone in keepwise.toml",
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadInput(
            "timezone", "is not a known time zone (use an IANA name such as Europe/Warsaw)", name
        ) from None


def as_utc(values: pd.Series) -> pd.Series:
    """UTC timestamps as the load takes them (``NaT`` where there is no time).

    The frame goes to the engine through Arrow with its timestamps typed, which is much faster than writing
    them as ISO 8601 text and reading that back.
    """
    return values.astype("datetime64[us, UTC]")


def timestamps(frame: pd.DataFrame, column: str, file: str, tz: str | None) -> pd.Series:
    """Timestamps in ``column`` as UTC (NaT where empty).

    Values with an offset (``2026-03-12 09:14:02 -0400``, ISO 8601 with ``Z``) are exact; values without
    one are read in ``tz``, and refused without it.
    """
    raw = frame[column].astype(str)
    present = raw != ""
    with_zone = raw.str.contains(r"(?:[+-]\d{2}:?\d{2}|Z|UTC)$", regex=True) & present
    out = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns, UTC]")
    if bool(with_zone.any()):
        cleaned = raw[with_zone].str.replace(r"\s*UTC$", "+0000", regex=True)
        parsed = pd.to_datetime(cleaned, format="ISO8601", utc=True, errors="coerce")
        retry = parsed.isna()
        if bool(retry.any()):
            parsed[retry] = pd.to_datetime(
                cleaned[retry], format="%Y-%m-%d %H:%M:%S %z", utc=True, errors="coerce"
            )
        out[with_zone] = parsed
    local = (
        present
        & ~with_zone
        & raw.str.match(r"^\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$")
    )
    if bool(local.any()):
        z = zone(tz, file, f"times in '{column}'")
        parsed = pd.to_datetime(raw[local], format="ISO8601", errors="coerce")
        out[local] = localize(parsed, z)
    _fail(file, frame, present & out.isna(), column, "unreadable date or time {value}")
    return out


def localize(naive: pd.Series, z: ZoneInfo) -> pd.Series:
    """Local wall-clock times to UTC; at a clock change an ambiguous time is read as standard time."""
    values = pd.DatetimeIndex(naive)
    aware = values.tz_localize(z, ambiguous=np.zeros(len(values), dtype=bool), nonexistent="shift_forward")
    return pd.Series(aware.tz_convert("UTC"), index=naive.index)


_DATE_FORMATS = {"ymd": "%Y-%m-%d", "dmy": "%d/%m/%Y", "mdy": "%m/%d/%Y", "dmy.": "%d.%m.%Y"}


def _date_format(dates: pd.Series, given: str | None, file: str, column: str) -> str:
    """The format of a column of dates: given, or told by the values (``13/02`` can only be day/month)."""
    if given:
        return given
    sample = dates[dates != ""]
    if sample.empty or bool(sample.str.match(r"^\d{4}-\d{1,2}-\d{1,2}$").all()):
        return _DATE_FORMATS["ymd"]
    if bool(sample.str.match(r"^\d{1,2}\.\d{1,2}\.\d{4}$").all()):
        return _DATE_FORMATS["dmy."]
    parts = sample.str.extract(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
    if bool(parts[0].notna().all()):
        first, second = parts[0].astype(int), parts[1].astype(int)
        if bool((first > 12).any()):
            return _DATE_FORMATS["dmy"]
        if bool((second > 12).any()):
            return _DATE_FORMATS["mdy"]
        raise BadInput(
            "date_format",
            f"{file}, column '{column}': the dates could be day/month or month/day; say which "
            "(%d/%m/%Y or %m/%d/%Y)",
        )
    return _DATE_FORMATS["ymd"]


def local_times(
    frame: pd.DataFrame,
    date_column: str,
    time_column: str | None,
    file: str,
    tz: str | None,
    date_format: str | None = None,
) -> pd.Series:
    """Local dates (and times, 24- or 12-hour) without a zone, read in ``tz``, as UTC timestamps."""
    z = zone(tz, file, f"local times in '{date_column}'")
    dates = frame[date_column].astype(str)
    fmt = _date_format(dates, date_format, file, date_column)
    day = pd.to_datetime(dates, format=fmt, errors="coerce")
    _fail(file, frame, day.isna(), date_column, f"unreadable date {{value}} (expected {fmt})")
    if time_column is not None:
        times = frame[time_column].astype(str).str.upper()
        clock = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[ns]")
        for f in ("%H:%M:%S", "%H:%M", "%I:%M:%S %p", "%I:%M %p"):
            todo = clock.isna()
            if not bool(todo.any()):
                break
            clock[todo] = pd.to_datetime(times[todo], format=f, errors="coerce")
        _fail(file, frame, clock.isna(), time_column, "unreadable time {value}")
        day = day + (clock - clock.dt.normalize())
    return localize(day, z)


def durations_minutes(frame: pd.DataFrame, column: str, file: str, *, hours: bool = False) -> pd.Series:
    """Durations as minutes: ``01:30:00``, ``1:30`` or, with ``hours``, decimal hours (``1.5``, ``1,5``)."""
    raw = frame[column].astype(str)
    clock = raw.str.extract(r"^(\d+):(\d{1,2})(?::(\d{1,2}))?$")
    minutes = clock[0].astype(float) * 60 + clock[1].astype(float) + clock[2].astype(float).fillna(0) / 60
    if hours:
        decimal = money(frame.assign(**{column: raw.where(clock[0].isna(), "")}), column, file, default=None)
        minutes = minutes.fillna(decimal * 60)
    _fail(file, frame, minutes.isna() | (minutes < 0), column, "unreadable duration {value}")
    return minutes.round(4)
