"""What a load records (store/stats.py) gives the same status and inventory as counting the rows.

The second implementation is the Ibis one that counts every table (``_ibis_status``, ``_ibis_inventory``,
the code before loads recorded anything); the two must agree after a load, after a reload, after a failed
load and after a change made behind the load's back.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

import keepwise
from keepwise.datasets import cdnow_tables
from keepwise.exceptions import LoadError
from keepwise.store import connect
from keepwise.store.ingest import load_frames, load_path
from keepwise.store.inventory import _ibis_inventory, inventory
from keepwise.store.stats import STATS_TABLE
from keepwise.store.status import _ibis_status, store_status


def _agree(url: str) -> dict:
    """Status and inventory read from what loads recorded equal those counted by Ibis; the status."""
    store = connect(url)
    try:
        assert inventory(store) == _ibis_inventory(store)
        counted = _ibis_status(store)
        assert store_status(store) == counted
    finally:
        store.disconnect()
    assert store_status(url) == counted  # the command's way: DuckDB alone, no Ibis
    return counted


def _recorded(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {t for (t,) in con.execute(f"SELECT table_name FROM {STATS_TABLE}").fetchall()}
    finally:
        con.close()


def test_simulated_business_status_and_inventory_agree(tmp_path: Path) -> None:
    """Every input of the simulator, loaded as one load: recorded figures equal counted ones."""
    from keepwise.datasets.simulate import simulate

    business = simulate(customers=120, months=6, seed=5)
    url = f"duckdb:///{tmp_path / 'sim.duckdb'}"
    store = connect(url)
    load_frames(store, [(name, frame, name) for name, frame in business.tables.items()])
    store.disconnect()
    assert {"customers", "orders", "products", "orders+products"} <= _recorded(tmp_path / "sim.duckdb")
    status = _agree(url)
    assert status["tables"]["orders"]["rows"] == len(business.tables["orders"])
    assert status["tables"]["orders"]["customers"] == business.tables["orders"]["customer_id"].nunique()


def test_cdnow_orders_only_agree(tmp_path: Path) -> None:
    """CDNOW (customers and orders, USD, no costs): 23,570 customers, 69,659 lines, 1997-01 to 1998-06."""
    url = f"duckdb:///{tmp_path / 'cdnow.duckdb'}"
    tables = cdnow_tables()
    for name in ("customers", "orders"):
        keepwise.load(name, tables[name], db=url)
    status = _agree(url)
    orders = status["tables"]["orders"]
    assert (orders["rows"], orders["customers"]) == (69_659, 23_570)
    assert orders["first"][:7] == "1997-01" and orders["last"][:7] == "1998-06"
    inv = inventory(connect(url))
    assert inv.currencies == ("USD",) and inv.last_month == "1998-06"


def _write(folder: Path, table: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / f"{table}.csv"
    path.write_text(text)
    return path


CUSTOMERS = "customer_id,acquired_at,acquisition_cost\nA,2024-01-01,10\nB,2024-02-01,\nC,2024-03-01,5\n"
PRODUCTS = "product_id,category,unit_cost\nP1,tea,2.50\nP2,tea,\n"
ORDERS = (
    "order_id,line_no,customer_id,ordered_at,product_id,quantity,unit_price,unit_cost,currency\n"
    "O1,1,A,2024-03-01T10:00:00Z,P1,1,10,,EUR\n"
    "O1,2,A,2024-03-01T10:00:00Z,P2,1,10,,EUR\n"
    "O2,1,B,2024-04-02T11:30:00+02:00,P2,2,5,1.5,EUR\n"
)


def test_reload_failed_load_and_changes_behind_the_load_s_back(tmp_path: Path) -> None:
    """A reload records the table as it ends; a failed load records nothing; a raw insert is seen."""
    path = tmp_path / "s.duckdb"
    url = f"duckdb:///{path}"
    data = tmp_path / "data"
    _write(data, "customers", CUSTOMERS)
    _write(data, "products", PRODUCTS)
    _write(data, "orders", ORDERS)
    store = connect(url)
    load_path(store, data, show_progress=False)
    store.disconnect()
    first = _agree(url)
    assert first["tables"]["orders"]["customers"] == 2
    inv = inventory(connect(url))
    assert inv.filled["orders.unit_cost"] == 2 and inv.currencies == ("EUR",)  # O1/1 costed by its product

    # a reload that changes a value and adds a line (another customer, a later date)
    changed = ORDERS.replace(
        "O2,1,B,2024-04-02T11:30:00+02:00,P2,2,5,1.5,EUR", "O2,1,B,2024-04-02,P2,2,5,,EUR"
    )
    _write(data, "orders", changed + "O3,1,C,2024-05-09T08:00:00Z,P1,1,7,,EUR\n")
    store = connect(url)
    load_path(store, data / "orders.csv", show_progress=False)
    store.disconnect()
    second = _agree(url)
    assert second["tables"]["orders"]["customers"] == 3
    assert second["tables"]["orders"]["last"] == "2024-05-09T08:00:00+00:00"
    assert inventory(connect(url)).filled["orders.unit_cost"] == 2  # O1/1 and O3/1 (P1); O2's cost gone

    # a load that fails leaves what was recorded, and the store, as they were
    _write(data, "orders", ORDERS + "O9,1,NOBODY,2024-05-09T08:00:00Z,P1,1,7,,EUR\n")
    store = connect(url)
    with pytest.raises(LoadError):
        load_path(store, data / "orders.csv", show_progress=False)
    store.disconnect()
    assert _agree(url) == second

    # rows added behind the load's back (another currency): the recorded figures are not used
    con = duckdb.connect(str(path))
    con.execute(
        "INSERT INTO orders (order_id, line_no, customer_id, ordered_at, quantity, unit_price, currency) "
        "VALUES ('O7', '1', 'C', TIMESTAMPTZ '2024-06-01 00:00:00+00', 1, 3, 'PLN')"
    )
    con.close()
    third = _agree(url)
    assert third["tables"]["orders"]["rows"] == 5
    inv = inventory(connect(url))
    assert inv.currencies == ("EUR", "PLN") and inv.last_month == "2024-06"
