"""The month a review looks at comes from the data: the last complete one, a partial one said so, none after.

An orders-only store whose history ends mid-month (2024-06-17): without a month the review takes 2024-05 (the
last month the orders cover completely) and says so; asked for 2024-06 it reviews it and notes that the data
end before the month does; asked for 2024-07 it refuses (exit 2), as it refuses a month before the first
order.
"""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from keepwise.datasets.simulate import simulate
from keepwise.exceptions import KeepwiseInputError
from keepwise.review import REVIEW_INPUTS, run_review
from keepwise.store import connect
from keepwise.store.ingest import load_frame

LAST = pd.Timestamp("2024-06-17 12:00", tz="UTC")


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> str:
    biz = simulate(customers=150, months=6, seed=1)
    orders = biz.orders[biz.orders["ordered_at"] <= LAST]
    customers = biz.customers[biz.customers["customer_id"].isin(orders["customer_id"])]
    url = f"duckdb:///{tmp_path_factory.mktemp('partial')}/kw.duckdb"
    store = connect(url)
    try:
        load_frame(store, "customers", customers.drop(columns=["acquisition_cost"]))
        load_frame(store, "orders", orders.drop(columns=["unit_cost"]))
        # one exit, after May: May's review has no exits to use, as on a store cut at May's end
        gone = biz.exits[biz.exits["customer_id"].isin(customers["customer_id"])].head(1)
        load_frame(store, "exits", gone.assign(lost_at=pd.Timestamp("2024-06-10", tz="UTC")))
        assert store.to_pandas(store.table("orders").ordered_at.max()).strftime("%Y-%m-%d") == "2024-06-17"
    finally:
        store.disconnect()
    return url


def notes(url: str, month: str | None) -> tuple[str, list[dict[str, str]]]:
    store = connect(url)
    try:
        doc = run_review(store, month, write=False, sections=[]).to_json()
    finally:
        store.disconnect()
    return doc["month"], doc["notes"]


def test_without_a_month_the_last_complete_month_is_reviewed_and_said(url):
    month, said = notes(url, None)
    assert month == "2024-05"
    assert said[0] == {
        "input": "month",
        "missing": "none given",
        "instead": "used 2024-05, the last complete month of the data (orders up to 2024-06-17)",
    }


def test_every_missing_input_the_review_uses_is_a_note(url):
    _, said = notes(url, "2024-05")
    # customers and orders only, without unit costs or acquisition costs: every other input is missing
    assert [n["input"] for n in said] == list(REVIEW_INPUTS)
    assert said[0]["input"] == "orders.unit_cost" and said[0]["missing"].startswith("empty on all")
    by_input = {n["input"]: n["missing"] for n in said}
    assert by_input["exits"] == by_input["incidents"] == "no rows before 2024-06-01"
    _, june = notes(url, "2024-06")
    assert "exits" not in {n["input"] for n in june}  # the exit of 2024-06-10 is June's


def test_a_partial_month_is_reviewed_with_a_note(url):
    month, said = notes(url, "2024-06")
    assert month == "2024-06"
    assert said[0] == {
        "input": "month",
        "missing": "the data end on 2024-06-17, before 2024-06 does",
        "instead": "figures are as of the month's end, so customers look silent over the days without data; "
        "2024-05 is the last complete month",
    }


def test_a_month_after_the_data_is_refused(url):
    store = connect(url)
    try:
        with pytest.raises(
            KeepwiseInputError, match=r"^month 2024-07 is after the last order \(2024-06-17\)"
        ):
            run_review(store, "2024-07", write=False, sections=[])
    finally:
        store.disconnect()
    done = subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "review", "--month", "2030-01", "--db", url],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "error: month 2030-01 is after the last order (2024-06-17); pick 2024-06 or an earlier month\n"
    )
