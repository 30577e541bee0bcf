"""The adversarial load suite: malformed files for every loadable table, each refused through the real CLI.

Each case is a file an attacker or a careless user could hand to ``keepwise load`` (issue 21: impossible
dates, rounded money, lenient numbers, control characters, huge ids, misspelt columns, mixed currencies,
lines whose quantity x price overflows later). Each must end with exit code 2 and one line on stderr naming
the file, the row (as a spreadsheet numbers it: the header is row 1) and the column, and must leave every
table of the store exactly as it was (the digest of all rows is unchanged).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from loads_kit import VALID, digest

from keepwise import cli


@dataclass(frozen=True)
class Case:
    """One malformed file: what it holds and what the one-line error must say."""

    id: str
    table: str
    body: bytes
    where: str  # the position the message must name, e.g. "row 3, column 'ordered_at'"
    says: str  # a fragment of the problem


def bad(table: str, column: str, value: str, says: str, **others: str) -> Case:
    """The table's two valid rows, the second with ``column`` (and ``others``) set to ``value``: row 3."""
    header, first, second = VALID[table]
    names = header.split(",")
    cells = second.split(",")
    for name, v in {column: value, **others}.items():
        cells[names.index(name)] = v
    body = "\n".join([header, first, ",".join(cells)]) + "\n"
    ident = "".join(c if c.isalnum() else "_" for c in value[:24])
    return Case(f"{table}-{column}-{ident}", table, body.encode(), f"row 3, column '{column}'", says)


def header(table: str, old: str, new: str, says: str) -> Case:
    """The table's valid file with header column ``old`` renamed ``new``: refused at row 1 (the header)."""
    head, first, second = VALID[table]
    names = [new if n == old else n for n in head.split(",")]
    body = "\n".join([",".join(names), first, second]) + "\n"
    return Case(f"{table}-header-{new or 'blank'}", table, body.encode(), f"row 1, column '{new}'", says)


UNPARSEABLE = "unparseable date"
RANGE = "date out of range"
OFFSET = "impossible UTC offset"
ZONE = "time zone name"
DECIMALS = "more than 4 decimal places"
NAN = "not a number"
CONTROL = "control character"
LONG = "too long"

CASES: list[Case] = [
    # item 2: impossible timestamps, in every table that has one
    bad("orders", "ordered_at", "infinity", UNPARSEABLE),
    bad("orders", "ordered_at", "-infinity", UNPARSEABLE),
    bad("orders", "ordered_at", "epoch", UNPARSEABLE),
    bad("orders", "ordered_at", "10000-01-01", RANGE),
    bad("orders", "ordered_at", "2024-03-31T10:00:00+25:00", OFFSET),
    bad("orders", "ordered_at", "2024-03-31 10:00:00 PST", ZONE),
    bad("orders", "ordered_at", "2024-03-31T10:00:00+14:30", OFFSET),
    bad("orders", "ordered_at", "2024-03-31T10:00:00-0960", OFFSET),
    bad("orders", "ordered_at", "1899-12-31", RANGE),
    bad("orders", "ordered_at", "2201-01-01", RANGE),
    bad("orders", "ordered_at", "2024-02-30", UNPARSEABLE),
    bad("orders", "ordered_at", "31/03/2024", UNPARSEABLE),
    bad("orders", "ordered_at", "yesterday", UNPARSEABLE),
    bad("orders", "ordered_at", "2024-03-31 10:00 Europe/Warsaw", ZONE),
    bad("customers", "acquired_at", "infinity", UNPARSEABLE),
    bad("time_logs", "started_at", "epoch", UNPARSEABLE),
    bad("staff_rates", "valid_from", "10000-01-01", RANGE),
    bad("incidents", "opened_at", "-infinity", UNPARSEABLE),
    bad("incidents", "resolved_at", "2024-03-31T10:00:00+25:00", OFFSET),
    bad("exits", "lost_at", "2024-03-31 10:00:00 PST", ZONE),
    bad("advocacy", "at", "0001-01-01", RANGE),
    bad("consent", "granted_at", "infinity", UNPARSEABLE),
    bad("consent", "revoked_at", "9999-12-31", RANGE),
    bad("wins", "won_at", "epoch", UNPARSEABLE),
    bad("winback_attempts", "attempted_at", "infinity", UNPARSEABLE),
    # item 3: money is refused, never rounded, beyond 4 decimals
    bad("orders", "unit_price", "1.000000001", DECIMALS),
    bad("orders", "unit_price", "12345678901.12345", DECIMALS),
    bad("orders", "unit_cost", "0.00001", DECIMALS),
    bad("customers", "acquisition_cost", "1.00001", DECIMALS),
    bad("products", "unit_cost", "0.123456789", DECIMALS),
    bad("staff_rates", "hourly_cost", "48.000001", DECIMALS),
    bad("time_logs", "minutes", "25.123456", DECIMALS),
    bad("winback_attempts", "cost", "30.00005", DECIMALS),
    # item 8: lenient numbers
    bad("orders", "quantity", "1_000", NAN),
    bad("winback_attempts", "cost", "1_000", NAN),
    bad("incidents", "concession_amount", "1e3", NAN),
    bad("advocacy", "value", '"1,000"', NAN),
    bad("staff_rates", "practical_minutes_per_month", "0x10", NAN),
    bad("orders", "unit_price", "NaN", NAN),
    bad("orders", "unit_price", "inf", NAN),
    bad("orders", "unit_price", "1 2", NAN),
    bad("orders", "unit_price", "123456789012345", "too large"),
    # item 8: control characters and huge ids
    bad("customers", "customer_id", "C\x0099", CONTROL),
    bad("customers", "name", "\x1b[31mred\x1b[0m", CONTROL),
    bad("customers", "customer_id", "C" * 300, LONG),
    bad("orders", "order_id", "O" * 100_000, LONG),
    bad("products", "product_id", "P\x1b]8;;http://evil/\x07", CONTROL),
    bad("consent", "source", "web\x00form", CONTROL),
    bad("incidents", "description", "late\x1b[2J", CONTROL),
    bad("exits", "reason_text", "ding\x07", CONTROL),
    bad("wins", "reason_text", "csi\x9b31m", CONTROL),
    bad("time_logs", "staff_id", '"S\n1"', CONTROL),
    bad("incidents", "description", "x" * 10_001, LONG),
    # item 8: one orders file, one currency per customer
    bad("orders", "currency", "EUR", "differs from 'USD' on row 2"),
    # item 11: quantity x price must not overflow later sums
    bad("orders", "unit_price", "100000", "10,000,000,000 or more", quantity="1000000"),
    bad("orders", "unit_cost", "1000000", "10,000,000,000 or more", quantity="-100000", unit_price="1"),
    # the contract's other rules, table by table
    bad("orders", "unit_price", "-5.00", "negative price"),
    bad("orders", "currency", "XYZ", "unknown currency"),
    bad("orders", "customer_id", "C404", "does not exist in customers"),
    bad("orders", "customer_id", "", "missing value"),
    bad("orders", "line_no", "1", "duplicate key"),
    bad("customers", "currency", "usdollar", "unknown currency"),
    bad("products", "category", "", "missing value"),
    bad("staff_rates", "hourly_cost", "-1", "negative value"),
    bad("incidents", "status", "reopened", "unknown value"),
    bad("exits", "wanted_back", "maybe", "not true or false"),
    bad("advocacy", "kind", "tweet", "unknown value"),
    bad("consent", "channel", "fax", "unknown value"),
    bad("consent", "purpose", "spam", "unknown value"),
    bad("wins", "customer_id", "C999", "does not exist in customers"),
    bad("winback_attempts", "won_back", "yes please", "not true or false"),
    bad("time_logs", "minutes", "-5", "negative value"),
    # item 8: unknown or misspelt columns are refused, naming the closest known one
    header("customers", "email", "e_mail", "did you mean 'email'?"),
    header("orders", "quantity", "qty", "unknown column"),
    header("products", "category", "categroy", "did you mean 'category'?"),
    header("consent", "revoked_at", "revoked", "did you mean 'revoked_at'?"),
    header("wins", "reason_text", "reason_code", "appears twice"),
    header("orders", "unit_price", "price", "unknown column"),
]


def test_the_table_covers_every_loadable_table_with_at_least_sixty_cases():
    assert len(CASES) >= 60
    assert {c.table for c in CASES} == set(VALID)
    assert len({c.id for c in CASES}) == len(CASES), "case ids must be unique"


def run_cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str]:
    """Run ``keepwise ARGS`` in this process through the CLI's own entry point: (exit code, stderr)."""
    monkeypatch.setattr(sys, "argv", ["keepwise", *args])
    capsys.readouterr()
    with pytest.raises(SystemExit) as info:
        cli.main()
    code = info.value.code if isinstance(info.value.code, int) else 1
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed_load_is_refused_in_one_line_and_changes_nothing(
    case: Case,
    fresh_store: Callable[[], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    store = fresh_store()
    before = digest(store)
    path = tmp_path / f"{case.table}.csv"
    path.write_bytes(case.body)
    code, stderr = run_cli(capsys, monkeypatch, "load", case.table, str(path), "--db", f"duckdb:///{store}")
    assert code == 2, stderr
    assert stderr.endswith("\n") and stderr.count("\n") == 1, f"not one line: {stderr!r}"
    assert stderr.startswith(f"error: {case.table}.csv, {case.where}: "), stderr
    assert case.says in stderr, stderr
    assert len(stderr) < 400, "the message quotes a value at length"
    assert "\x1b" not in stderr and "\x00" not in stderr, "a control character reached the terminal"
    assert digest(store) == before, "a refused load changed the store"


def test_each_valid_file_of_the_table_loads(
    fresh_store: Callable[[], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    """The rows the cases spoil are valid as they stand: every refusal above is the spoilt value's."""
    store = fresh_store()
    for table, (head, first, second) in VALID.items():
        path = tmp_path / f"{table}.csv"
        path.write_text(f"{head}\n{first}\n{second}\n")
        code, stderr = run_cli(capsys, monkeypatch, "load", table, str(path), "--db", f"duckdb:///{store}")
        assert code == 0, stderr


def test_a_zone_offset_at_the_limits_and_a_minutes_only_time_are_accepted(
    fresh_store: Callable[[], Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    import duckdb

    store = fresh_store()
    head = VALID["orders"][0]
    rows = [
        "O20,1,C1,2024-03-31T10:00:00+14:00,P1,coffee,1,1,1,USD",
        "O20,2,C1,2024-03-31T10:00:00-14:00,P1,coffee,1,1,1,USD",
        "O20,3,C1,2024-03-31T10:00-08:00,P1,coffee,1,1,1,USD",
        "O20,4,C1,1900-01-01,P1,coffee,99999,99999.9999,1,USD",
        "O20,5,C1,2200-12-31 23:59:59.5+0530,P1,coffee,1,1.10000,1,USD",
    ]
    path = tmp_path / "orders.csv"
    path.write_text("\n".join([head, *rows]) + "\n")
    code, stderr = run_cli(capsys, monkeypatch, "load", "orders", str(path), "--db", f"duckdb:///{store}")
    assert code == 0, stderr
    con = duckdb.connect(str(store))
    stamps = con.execute(
        "SELECT line_no, ordered_at FROM orders WHERE order_id = 'O20' ORDER BY 1"
    ).fetchall()
    con.close()
    assert [s.isoformat() for _, s in stamps[:3]] == [
        "2024-03-30T20:00:00+00:00",
        "2024-04-01T00:00:00+00:00",
        "2024-03-31T18:00:00+00:00",  # 10:00 Pacific Standard Time written as an offset is 18:00Z
    ]
