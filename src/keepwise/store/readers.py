"""Reading the headers of files, and locating the row and column of a file that cannot be parsed."""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from keepwise.exceptions import LoadError

if TYPE_CHECKING:  # pyarrow is imported where it is used: a CSV load of a valid file needs none of it
    import pyarrow as pa

#: Bytes read per CSV block by the locating reader.
CSV_BLOCK_BYTES = 8 << 20


class CsvLineError(LoadError):
    """A CSV file cannot be parsed at a line: named by its line in the file (``orders.csv, line 7: ...``).

    A line is what an editor numbers (a quoted value may span lines, so a line is not always a row).
    """

    def __init__(self, source: str, problem: str, line: int, column: str | None = None):
        super().__init__(source, problem, column=column)
        self.line = line
        where = f"{source}, line {line}" + (f", column '{column}'" if column is not None else "")
        self.args = (f"{where}: {problem}",)

    def __str__(self) -> str:
        return str(self.args[0])


def csv_header(path: Path) -> list[str]:
    """The column names of a CSV file's first line (an empty file raises ``LoadError``)."""
    source = path.name
    if path.stat().st_size == 0:
        raise LoadError(source, "file is empty (expected a header line and at least one row)")
    with path.open("rb") as f:
        first = f.readline()
    try:
        line = first.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CsvLineError(
            source, f"not valid UTF-8 (byte 0x{first[exc.start]:02x} in the header)", 1
        ) from None
    header = next(csv.reader([line]), [])
    names = [h.strip() for h in header]
    if not any(names):
        raise LoadError(source, "file is empty (expected a header line and at least one row)")
    return names


#: The bytes of a plain CSV file (:func:`plain_csv`) other than newlines: printable ASCII without ``"``.
_PLAIN_BYTES = bytes(b for b in range(0x20, 0x7F) if b != ord('"'))


def plain_csv(path: Path) -> bool:
    """Whether every byte of the CSV file is printable ASCII (space to ``~``) other than ``"``, or a newline.

    Then every value read from it is printable ASCII: no control character, no byte outside ASCII, and no
    quoted value, so no value holds a newline or a comma. One pass over the file's bytes (about 0.07 s of
    CPU per 100 MiB); the fast way of a load (:mod:`keepwise.store.load_fast`) then tests ids and texts for
    their length and edges only, without a regular expression.
    """
    with path.open("rb") as f:
        while chunk := f.read(CSV_BLOCK_BYTES):
            rest = chunk.translate(None, _PLAIN_BYTES)  # what is left: newlines, and any other byte
            if rest.count(b"\n") != len(rest):
                return False
    return True


def csv_batches(path: Path) -> Iterator[pa.RecordBatch]:
    """Yield the rows of a CSV file as record batches of text columns, locating any unreadable row.

    The loader reads files with DuckDB; this slower reader runs only when DuckDB refuses a file, to say
    exactly which row and column is at fault.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = csv_header(path)
    bad_rows: list[Any] = []

    def invalid_row(row: Any) -> str:
        bad_rows.append(row)
        return "skip"

    try:
        reader = pacsv.open_csv(
            str(path),
            read_options=pacsv.ReadOptions(block_size=CSV_BLOCK_BYTES, use_threads=False),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid_row, newlines_in_values=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )
        try:
            for batch in reader:
                if bad_rows:
                    break
                yield batch
        finally:
            reader.close()
    except pa.ArrowInvalid as exc:
        if "utf8" in str(exc).lower():
            raise find_bad_utf8(path) from None
        first = str(exc).splitlines()[0]
        at = re.search(r"Row #(\d+): ([^:]*)", first)
        if at is not None:
            raise CsvLineError(path.name, f"cannot be read as CSV: {at.group(2)}", int(at.group(1))) from None
        raise LoadError(path.name, f"cannot be read as CSV: {first}") from None
    if bad_rows:
        bad = bad_rows[0]
        problem = f"has {bad.actual_columns} fields where the header has {bad.expected_columns}"
        if bad.number is None:
            raise LoadError(path.name, problem)
        raise CsvLineError(path.name, problem, bad.number)


def engine_csv_error(source: str, message: str) -> LoadError:
    """DuckDB's refusal of a CSV file, told as ``FILE, line N: cannot be read as CSV: WHY`` in one line."""
    lines = message.splitlines()
    found = re.search(r"CSV Error on Line: (\d+)", message)
    reason = ""
    if found is not None:  # the reason is the first paragraph after the quoted "Original Line"
        after = next((i for i, line in enumerate(lines) if line.startswith("Original Line")), len(lines))
        blank = next((i for i in range(after, len(lines)) if not lines[i].strip()), len(lines))
        reason = next((line.strip() for line in lines[blank:] if line.strip()), "")
    if found is None or not reason:
        return LoadError(source, f"cannot be read: {lines[0] if lines else message}")
    return CsvLineError(source, f"cannot be read as CSV: {reason}", int(found.group(1)))


def find_bad_utf8(path: Path) -> LoadError:
    """Locate the first byte that is not UTF-8 and describe it by line and column."""
    return bad_utf8(path) or LoadError(path.name, "not valid UTF-8; save the file as UTF-8")


def bad_utf8(path: Path) -> LoadError | None:
    """The first byte of the file that is not UTF-8, described by line and column; ``None`` if all are."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    newlines = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                bad_at = exc.start
                newlines += chunk.count(b"\n", 0, max(bad_at, 0))
                line_start = chunk.rfind(b"\n", 0, max(bad_at, 0)) + 1
                line_end = chunk.find(b"\n", bad_at)
                line = chunk[line_start : line_end if line_end >= 0 else len(chunk)]
                byte = chunk[bad_at]
                column = _column_of_bad_byte(path, line)
                return CsvLineError(
                    path.name,
                    f"not valid UTF-8 (byte 0x{byte:02x}); save the file as UTF-8",
                    newlines + 1,
                    column=column,
                )
            newlines += chunk.count(b"\n")
            offset += len(chunk)
    return None


def _column_of_bad_byte(path: Path, line: bytes) -> str | None:
    fields = next(csv.reader([line.decode("utf-8", errors="replace")]), [])
    header = csv_header(path)
    for i, value in enumerate(fields):
        if "\ufffd" in value and i < len(header):
            return header[i]
    return None


def frame_columns(frame: Any) -> list[str]:
    """Column names of a DataFrame or Arrow table."""
    import pyarrow as pa

    if isinstance(frame, pa.Table):
        return list(frame.column_names)
    return [str(c) for c in frame.columns]


def parquet_columns(path: Path) -> list[str]:
    """Column names of a Parquet file."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise LoadError(path.name, f"cannot be read as Parquet: {str(exc).splitlines()[0]}") from None
