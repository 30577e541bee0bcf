"""Many order lines that each fit the contract never overflow ``keepwise profit`` (issue 21, item 11).

The contract keeps quantity x price below 10^10 per line; a customer's sum over many such lines used to be
narrowed to ``DECIMAL(18, 8)`` (below 10^10) and ``keepwise profit`` ended with exit 1. Sums are 128-bit
now; only a customer's figure of 10^14 or more, which no money column of the store can hold, is refused, in
one line with exit 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd

from keepwise.store import connect
from keepwise.store.ingest import load_frame

SRC = Path(__file__).resolve().parents[2] / "src"
BIG = "99999"  # 99999 x 99999 = 9,999,800,001: just below the contract's 10^10 per line


def _store(url: str, lines: int) -> None:
    store = connect(url)
    try:
        load_frame(store, "customers", pd.DataFrame({"customer_id": ["c1", "c2"]}), source="customers")
        rows = [
            {"order_id": f"o{i}", "line_no": "1", "customer_id": "c1",
             "ordered_at": f"2024-03-{1 + i % 28:02d}", "quantity": BIG, "unit_price": BIG,
             "unit_cost": "50000", "currency": "USD"}
            for i in range(lines)
        ] + [
            {"order_id": "small", "line_no": "1", "customer_id": "c2", "ordered_at": "2024-03-05",
             "quantity": "1", "unit_price": "10.5", "unit_cost": None, "currency": "USD"}
        ]  # fmt: skip
        load_frame(store, "orders", pd.DataFrame(rows), source="orders")
    finally:
        store.disconnect()


def _profit(url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PYTHONPATH": str(SRC), "PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "profit", "--month", "2024-03", "--json", "--db", url],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
    )


def test_thirty_lines_that_each_fit_sum_past_ten_to_the_ten(tmp_path):
    url = f"duckdb:///{tmp_path}/big.duckdb"
    _store(url, 30)
    done = _profit(url, tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    line = Decimal(BIG) * Decimal(BIG)
    revenue = 30 * line + Decimal("10.5")
    assert Decimal(doc["totals"]["revenue"]) == revenue  # 299,994,000,040.50: 30 times over 10^10
    assert Decimal(doc["totals"]["cogs"]) == 30 * Decimal(BIG) * 50000
    top = doc["customers"][0]
    assert top["customer_id"] == "c1" and Decimal(top["revenue"]) == 30 * line
    store = connect(url, read_only=True)
    try:
        kept = store.to_pandas(store.table("profit")).set_index("customer_id")
    finally:
        store.disconnect()
    assert Decimal(kept.loc["c1", "revenue"]) == 30 * line  # stored as DECIMAL(18, 4): it fits


def test_a_customer_total_no_money_column_can_hold_is_one_line_exit_2(tmp_path):
    url = f"duckdb:///{tmp_path}/huge.duckdb"
    _store(url, 10_001)  # 10,001 x 9,999,800,001 > 10^14
    done = _profit(url, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: a customer's total for the period is 10^14 or more")


def test_staff_time_that_costs_ten_to_the_ten_in_one_log_is_one_line_exit_2(tmp_path):
    url = f"duckdb:///{tmp_path}/cts.duckdb"
    _store(url, 1)
    store = connect(url)
    try:
        rate = {"staff_id": "s1", "role": "x", "hourly_cost": "9999999", "currency": "USD"}
        load_frame(store, "staff_rates", pd.DataFrame([{**rate, "valid_from": "2024-01-01"}]), source="rates")
        logs = [
            {"customer_id": "c1", "staff_id": "s1", "started_at": "2024-03-02T10:00:00Z", "minutes": "9000"}
        ]  # 9,000 minutes at 9,999,999 an hour: 8.99e10 x 60 before dividing by 60
        load_frame(store, "time_logs", pd.DataFrame(logs), source="logs")
    finally:
        store.disconnect()
    done = _profit(url, tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: an amount of the period is 10^10")
