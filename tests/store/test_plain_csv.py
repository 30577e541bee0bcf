"""A plain CSV file (printable ASCII, no quotes) is tested without regular expressions, to the same effect.

``readers.plain_csv`` vouches that every value of such a file is printable ASCII; the fast way then tests an
id by its length and its first and last character (``load_fast._plain_ok``) instead of ``FAST_ID_RE``, and a
text by its length. These tests check the byte test on files made to fool it, the cheap id test against the
regular expression on an adversarial corpus of printable values, and whole loads of plain files with ids
and texts at the edges, loaded the fast way and the careful way alone: the same store, or the same message.
The last test checks the glob that spares most timestamps their regular expression (in any file).
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest
from loads_kit import VALID, digest_of

from keepwise.exceptions import LoadError
from keepwise.store import ingest, load_fast
from keepwise.store.ingest import load_file
from keepwise.store.readers import plain_csv
from keepwise.store.schema import table as table_named
from keepwise.store.schema.columns import MAX_ID_LENGTH, MAX_TEXT_LENGTH
from keepwise.store.validate import FAST_ID_RE, _checks, lit, typed_expr


@pytest.mark.parametrize(
    ("content", "plain"),
    [
        (b"a,b\n1,x y\n", True),
        (b"a,b\n1,x y", True),  # no newline at the end
        (b"a,b\n1,~!#$%&'()*+-./:;<=>?@[\\]^_`{|}\n", True),
        (b'a,b\n1,"x"\n', False),  # a quote: a value may hold a newline or a comma
        (b"a,b\r\n1,x\r\n", False),
        (b"a,b\n1,x\ty\n", False),
        (b"a,b\n1,x\x00\n", False),
        (b"a,b\n1,x\x7f\n", False),
        (b"a,b\n1,\x1b[31mx\n", False),
        ("a,b\n1,zażółć\n".encode(), False),
        (b"\xef\xbb\xbfa,b\n1,x\n", False),  # a byte-order mark
        (b"a,b\n1,\xc2\x85\n", False),  # C1 control (NEL)
    ],
)
def test_plain_csv_vouches_only_for_printable_ascii_without_quotes(tmp_path, content, plain):
    """Any quote, control byte or byte outside ASCII makes the file not plain (the regular tests run)."""
    path = tmp_path / "f.csv"
    path.write_bytes(content)
    assert plain_csv(path) is plain


def test_plain_csv_looks_past_the_first_block(tmp_path, monkeypatch):
    """A bad byte after the first block read is found too."""
    monkeypatch.setattr("keepwise.store.readers.CSV_BLOCK_BYTES", 16)
    path = tmp_path / "f.csv"
    path.write_bytes(b"a,b\n" + b"1,x\n" * 20 + b"2,\x01\n")
    assert not plain_csv(path)
    path.write_bytes(b"a,b\n" + b"1,x\n" * 20)
    assert plain_csv(path)


def _corpus() -> list[str]:
    """Printable ASCII values built to sit on the edges of the id test, and random ones."""
    edges = ["", " ", "  ", "a", "~", "!", " a", "a ", " a ", "a b", "a  b", "a" * (MAX_ID_LENGTH - 1)]
    edges += ["a" * MAX_ID_LENGTH, "a" * (MAX_ID_LENGTH + 1), " " + "a" * (MAX_ID_LENGTH - 1)]
    edges += ["a" * (MAX_ID_LENGTH - 1) + " ", "!" + " " * (MAX_ID_LENGTH - 2) + "~", "x" * 1000]
    rng = random.Random(20)
    printable = [chr(c) for c in range(0x20, 0x7F)]
    spacey = [" ", " ", " ", "a", "~"]
    for _ in range(3000):
        lengths = [1, 2, 3, 5, 20, MAX_ID_LENGTH - 1, MAX_ID_LENGTH, MAX_ID_LENGTH + 1, rng.randrange(400)]
        n = rng.choice(lengths)
        alphabet = spacey if rng.random() < 0.3 else printable
        edges.append("".join(rng.choice(alphabet) for _ in range(n)))
    return edges


@pytest.mark.parametrize("column", ["order_id", "product_id"])  # required, optional
def test_the_cheap_id_test_is_the_regular_expression_on_printable_values(column):
    """On every printable value (and a blank), the length-and-edges test answers as ``FAST_ID_RE`` does."""
    orders = table_named("orders")
    col = orders.column(column)
    test = load_fast._plain_ok(orders, col)
    assert test is not None
    regex = f"REGEXP_FULL_MATCH(CAST({column} AS VARCHAR), {lit(FAST_ID_RE)})"
    blank = "FALSE" if col.required else f"{column} IS NULL"
    con = duckdb.connect()
    con.execute(f"CREATE TABLE v ({column} VARCHAR)")
    con.executemany("INSERT INTO v VALUES (?)", [[x] for x in _corpus()] + [[None]])
    differ = con.execute(
        f"SELECT {column} FROM v WHERE ({test}) IS DISTINCT FROM COALESCE({blank} OR {regex}, FALSE)"
    ).fetchall()
    assert differ == []
    (passed,) = con.execute(f"SELECT COUNT_IF({test}) FROM v").fetchone()
    assert 0 < passed < len(_corpus())


def test_a_text_passing_the_cheap_test_passes_every_check():
    """A printable text the cheap test lets through fires none of the careful way's checks."""
    orders = table_named("orders")
    test = load_fast._plain_ok(orders, orders.column("category"))
    assert test is not None
    checks = [c.condition for c in _checks(orders, {"category"}) if c.column == "category"]
    con = duckdb.connect()
    con.execute("CREATE TABLE v (category VARCHAR)")
    values = [*_corpus(), "a" * MAX_TEXT_LENGTH, "a" * (MAX_TEXT_LENGTH + 1), " " * (MAX_TEXT_LENGTH + 5)]
    con.executemany("INSERT INTO v VALUES (?)", [[x] for x in values] + [[None]])
    fired = " OR ".join(f"COALESCE({c}, TRUE)" for c in checks)
    wrong = con.execute(f"SELECT category FROM v WHERE ({test}) AND ({fired})").fetchall()
    assert wrong == []
    refused = con.execute(f"SELECT strlen(category) FROM v WHERE NOT ({test})").fetchall()
    assert sorted(refused) == [(MAX_TEXT_LENGTH + 1,), (MAX_TEXT_LENGTH + 5,)]  # the two too long


ROW = "O20,1,C1,2024-03-01T10:00:00Z,P1,tea,1,2,1,USD"


@pytest.mark.parametrize(
    "row",
    [
        ROW,
        ROW.replace("O20,", " O20,"),  # an id with a space at either end: stored trimmed
        ROW.replace(",P1,", ",P1 ,"),
        ROW.replace(",C1,", ", C1,"),
        ROW.replace(",1,C1", ",1 ,C1"),
        ROW.replace("O20,", "O" + "2" * MAX_ID_LENGTH + ","),  # too long
        ROW.replace("O20,", "O" + "2" * (MAX_ID_LENGTH - 1) + ","),  # just short enough
        ROW.replace(",P1,", ",,"),  # a blank optional id
        ROW.replace(",P1,", ", ,"),
        ROW.replace(",tea,", ",,"),
        ROW.replace(",tea,", ", ,"),
        ROW.replace(",tea,", ",  green tea ,"),
        ROW.replace(",tea,", "," + "t" * MAX_TEXT_LENGTH + ","),
        ROW.replace(",tea,", "," + "t" * (MAX_TEXT_LENGTH + 1) + ","),
        ROW.replace("O20,1,", ",1,"),  # a missing required id
        ROW.replace("O20,1,", "   ,1,"),
    ],
)
@pytest.mark.parametrize("first", [True, False])  # into an empty orders table, or a reload
def test_a_plain_file_loads_as_the_careful_way_loads_it(fresh_store, tmp_path, monkeypatch, row, first):
    """Edges of ids and texts in a plain file: the same store, counts and message both ways."""
    csv = tmp_path / "orders.csv"
    csv.write_text(VALID["orders"][0] + "\n" + row + "\n")
    assert plain_csv(csv)
    outcomes = []
    for only_careful in (False, True):
        if only_careful:
            monkeypatch.setattr(ingest, "_load_fast", ingest._load_one)
        path: Path = fresh_store()
        con = duckdb.connect(str(path))
        if first:
            con.execute("DELETE FROM orders")
        try:
            try:
                result = load_file(con, "orders", csv, show_progress=False)
                outcome = ("loaded", result.as_dict(), digest_of(con))
            except LoadError as exc:
                outcome = ("refused", str(exc), digest_of(con))
        finally:
            con.close()
        outcomes.append(outcome)
    assert outcomes[0] == outcomes[1]


def test_a_timestamp_the_glob_lets_through_passes_every_check():
    """``UTC_SECONDS_GLOB`` with the year bounds, on every field at and past its limits: what it lets through
    and converts fires none of the careful way's checks (a value that does not convert stops the fast way)."""
    orders = table_named("orders")
    test = load_fast.row_test(orders, {"ordered_at"})
    assert "GLOB" in test
    typed = typed_expr(orders.column("ordered_at"), True)
    checks = [c.condition for c in _checks(orders, {"ordered_at"}) if c.column == "ordered_at"]
    fired = " OR ".join(f"COALESCE({c}, TRUE)" for c in checks)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    fields = {
        "y": ["0999", "1899", "1900", "1999", "2024", "2199", "2200", "2999"],
        "mo": [f"{i:02d}" for i in range(20)],
        "d": [f"{i:02d}" for i in range(40)],
        "h": [f"{i:02d}" for i in range(30)],
        "mi": ["00", "59"],
        "s": ["00", "59"],
    }
    for name, values in fields.items():
        con.execute(f"CREATE TABLE {name} (v VARCHAR)")
        con.executemany(f"INSERT INTO {name} VALUES (?)", [[v] for v in values])
    con.execute(
        "CREATE TABLE v AS SELECT y.v || '-' || mo.v || '-' || d.v || 'T' || h.v || ':' || mi.v || ':' "
        "|| s.v || 'Z' AS ordered_at FROM y, mo, d, h, mi, s"
    )
    wrong = con.execute(
        f"SELECT ordered_at FROM v WHERE ({test}) AND {typed} IS NOT NULL AND ({fired}) LIMIT 5"
    ).fetchall()
    assert wrong == []
    passed, converted = con.execute(
        f"SELECT COUNT_IF(({test}) AND {typed} IS NOT NULL), COUNT_IF({typed} IS NOT NULL) FROM v"
    ).fetchone()
    assert 0 < passed < converted  # years before 1900 or after 2199 convert but are left to the careful way
    assert con.execute(f"SELECT ({test}) FROM (SELECT '2024-03-31T14:05:00Z' AS ordered_at)").fetchone()[0]
