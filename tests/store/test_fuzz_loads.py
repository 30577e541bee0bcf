"""Hypothesis-generated CSV files: a load never raises anything but a one-line LoadError, never loads part.

Files are built from the contract (a header of known, misspelt and repeated column names; cells drawn from
valid values, the adversarial values of issue 21 and arbitrary text, quoting and bytes), loaded into a store
that already holds customers C1 and C2. Each load either succeeds, and then the table holds exactly the rows
it reported new, or is refused with a :class:`~keepwise.exceptions.KeepwiseInputError` and leaves every
table as it was. Bounded by ``max_examples`` (400 files, about 15 s) so the file takes well under 40 s.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from loads_kit import VALID, digest_of

from keepwise.exceptions import KeepwiseInputError
from keepwise.store.ingest import load_file
from keepwise.store.schema import SCHEMA

NASTY = [
    "",
    " ",
    "infinity",
    "-infinity",
    "epoch",
    "10000-01-01",
    "2024-03-31T10:00:00+25:00",
    "2024-03-31 10:00:00 PST",
    "1.000000001",
    "12345678901.12345",
    "1_000",
    "1e400",
    "-0",
    "NaN",
    "99999999999999999999",
    "\x00",
    "\x1b[31m",
    "C" * 300,
    '"',
    "'; DROP TABLE customers; --",
    '=HYPERLINK("http://evil")',
    "\u202e",
    "true",
    "USD",
    "eur",
    "C1",
    "C2",
    "2024-02-29",
    "2024-03-31T10:00Z",
]


def valid_values(table: str, column: str) -> list[str]:
    """The values ``column`` takes in the table's two valid rows."""
    head, first, second = VALID[table]
    at = head.split(",").index(column)
    return sorted({first.split(",")[at], second.split(",")[at]})


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[str, bytes]:
    table = draw(st.sampled_from(sorted(VALID)))
    spec = SCHEMA[table]
    optional = [c.name for c in spec.columns if not c.required]
    header = [
        c.name for c in spec.columns if c.required or c.name in draw(st.sets(st.sampled_from(optional)))
    ]
    if draw(st.integers(0, 9)) == 0:  # now and then a misspelt, blank or repeated column name
        header.insert(
            draw(st.integers(0, len(header))), draw(st.sampled_from(["e_mail", "qty", "", header[0]]))
        )
    header = draw(st.permutations(header))
    rows = []
    for i in range(draw(st.integers(0, 6) if draw(st.integers(0, 9)) == 0 else st.integers(1, 6))):
        row = []
        for name in header:
            if draw(st.integers(0, 19)) == 0 or name not in spec.column_names:  # a spoilt cell
                row.append(draw(st.one_of(st.sampled_from(NASTY), st.text(max_size=12))))
                continue
            col = spec.column(name)
            value = draw(st.sampled_from(valid_values(table, name)))
            if name in spec.key and col.type == "text" and col.references is None and not col.allowed:
                value += str(i)
            row.append(value)
        rows.append(row)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    writer.writerow(header)
    writer.writerows(rows)
    data = out.getvalue().encode("utf-8", errors="surrogatepass")
    mangle = draw(st.sampled_from(["none", "none", "truncate", "latin1", "ragged", "bom"]))
    if mangle == "truncate" and data:
        data = data[: draw(st.integers(0, len(data)))]
    elif mangle == "latin1":
        data += b"C9,\xe9\xff\n"
    elif mangle == "ragged":
        data += b"a,b,c,d,e,f,g,h,i,j,k,l\n"
    elif mangle == "bom":
        data = b"\xef\xbb\xbf" + data
    return table, data


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # no "Exception ignored"
@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(csv_files())
def test_a_generated_file_is_loaded_whole_or_refused_cleanly(store, tmp_path: Path, file: tuple[str, bytes]):
    table, data = file
    # the store holds customers C1 and C2 (a file of another table may refer to them)
    store.con.execute(
        "INSERT INTO customers (customer_id, name) SELECT * FROM (VALUES ('C1', 'Ada'), ('C2', 'Bo')) v "
        "WHERE NOT EXISTS (SELECT 1 FROM customers)"
    )
    path = tmp_path / f"{table}.csv"
    path.write_bytes(data)
    before = digest_of(store.con)
    count = f'SELECT COUNT(*) FROM "{table}"'
    (rows_before,) = store.con.execute(count).fetchone()
    try:
        result = load_file(store, table, path, show_progress=False)
    except KeepwiseInputError as exc:  # refused: one line, nothing changed
        event(f"refused: {exc}"[:120] if "cannot" in str(exc) else "refused")
        assert "\n" not in str(exc) and "\x1b" not in str(exc)
        assert digest_of(store.con) == before, f"a refused load changed the store: {exc}"
        return
    event("loaded")
    (rows_after,) = store.con.execute(count).fetchone()
    assert rows_after == rows_before + result.new
    assert result.new + result.updated + result.unchanged == result.rows
