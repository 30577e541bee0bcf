"""A load into PostgreSQL copies only the stored rows it needs, and ends exactly as the same load on DuckDB.

The DuckDB load runs on a copy of the stored rows of the files' keys and of the customers they name
(store/postgres_subset.py). These tests load the same base and the same incremental files on both engines
and compare what each load reports (new, updated, unchanged), every table's digest and the figures recorded
for ``keepwise status``; they count the rows copied to DuckDB; and they check that a load whose files are
not known ahead still loads exactly (every table copied whole).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from keepwise.store import connect, postgres_stats
from keepwise.store import postgres_subset as subset
from keepwise.store.backup import store_digests
from keepwise.store.ingest import load_path
from keepwise.store.postgres_load import load_into_postgres
from keepwise.store.schema import SCHEMA

ORDERS_HEAD = (
    "order_id,line_no,customer_id,ordered_at,product_id,category,quantity,unit_price,unit_cost,currency"
)

BASE = {
    "customers": "customer_id,name,currency\nC1,Ada,USD\nC2,Bolek,USD\nC3,Cyd,USD\nC4,Dee,USD\n",
    "products": "product_id,name,category,unit_cost,currency\n"
    "P1,Beans,coffee,9.40,USD\nP2,Tea,tea,2.00,USD\n",
    "orders": ORDERS_HEAD
    + "\nO1,1,C1,2024-02-01,P1,coffee,1,18.50,9.40,USD"
    + "\nO1,2,C1,2024-02-01,P2,tea,2,4.00,,USD"
    + "\nO2,1,C2,2024-02-03,P1,coffee,1,18.50,9.40,USD"
    + "\nO3,1,C3,2024-02-05,P2,tea,3,4.00,,USD"
    + "\nO4,1,C4,2024-02-07,P1,coffee,1,18.50,9.40,USD\n",
    "consent": "customer_id,channel,purpose,granted_at,revoked_at,source,proof\n"
    "C1,email,marketing,2024-01-15,,web form,f1\nC2,email,marketing,2024-01-16,,web form,f2\n",
}

#: An incremental load: a changed and a new customer, orders that are new (also of the new customer),
#: changed (one column) and unchanged, and a revocation of consent.
MORE = {
    "customers": "customer_id,name,currency\nC2,Bolesław,USD\nC9,Ina,USD\n",
    "orders": ORDERS_HEAD
    + "\nO1,2,C1,2024-02-01,P2,tea,5,4.00,,USD"
    + "\nO2,1,C2,2024-02-03,P1,coffee,1,18.50,9.40,USD"
    + "\nO9,1,C9,2024-03-01T10:00:00+02:00,P1,coffee,2,18.50,,USD"
    + "\nO10,1,C1,2024-01-20,P9,other,1,3.00,1.00,USD\n",
    "consent": "customer_id,channel,purpose,granted_at,revoked_at,source,proof\n"
    "C2,email,marketing,2024-01-16,2024-04-01,web form,f2\n",
}


#: Then: C4's only line moves to C3 and both C3 lines to euros (C4 has no line left, EUR is new).
THIRD = {
    "orders": ORDERS_HEAD
    + "\nO3,1,C3,2024-02-05,P2,tea,3,4.00,,EUR"
    + "\nO4,1,C3,2024-02-07,P1,coffee,1,18.50,9.40,EUR\n"
}
#: Then: back to dollars (no euro left), and the earliest line (O10) moves later (the first time is scanned).
FOURTH = {
    "orders": ORDERS_HEAD
    + "\nO3,1,C3,2024-02-05,P2,tea,3,4.00,,USD"
    + "\nO4,1,C4,2024-02-07,P1,coffee,1,18.50,9.40,USD"
    + "\nO10,1,C1,2024-03-20,P9,other,1,3.00,1.00,USD\n"
}

#: The orders of ``MORE`` but the new customer's: an orders-only load.
ORDERS = "\n".join(line for line in MORE["orders"].split("\n") if ",C9," not in line)


def _folder(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for table, text in files.items():
        (folder / f"{table}.csv").write_text(text)
    return folder


def _load_each(url: str, tmp_path: Path) -> list[tuple[Any, dict[str, str], dict[str, Any]]]:
    """Load ``BASE``, ``MORE``, ``THIRD``, ``FOURTH`` in turn: after each, results, digests, figures."""
    store = connect(url)
    out = []
    try:
        for i, files in enumerate([BASE, MORE, THIRD, FOURTH]):
            results = [
                (r.table, r.rows, r.new, r.updated, r.unchanged)
                for r in load_path(store, _folder(tmp_path, f"load{i}", files), show_progress=False)
            ]
            recorded = store.sql("SELECT table_name, stats FROM kw_table_stats")
            figures = {str(name): json.loads(text) for name, text in recorded}
            digests = store_digests(store)
            digests.pop("kw_table_stats", None)  # compared as figures (its rows' order is the engine's)
            digests.pop("consent_events", None)  # holds recorded_at, the time of each load
            out.append((results, digests, figures))
    finally:
        store.disconnect()
    return out


def test_incremental_loads_end_as_on_duckdb_with_figures_updated_not_scanned(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    duck = _load_each(f"duckdb:///{tmp_path}/kw.duckdb", tmp_path / "duck")
    scanned: list[str] = []
    scan = postgres_stats.scan

    def counted(sql: Any, spec: Any, **kw: Any) -> Any:
        scanned.append(spec.name)
        return scan(sql, spec, **kw)

    monkeypatch.setattr(postgres_stats, "scan", counted)
    pg = _load_each(pg_url, tmp_path / "pg")
    for on_pg, on_duck in zip(pg, duck, strict=True):
        assert on_pg == on_duck
    assert {table: counts for table, _, *counts in pg[1][0]} == {
        "customers": [1, 1, 0],
        "orders": [2, 1, 1],
        "consent": [0, 1, 0],
    }
    figures = [f for _, _, f in pg]
    assert [f["orders"]["customers"] for f in figures] == [4, 5, 4, 5]
    assert [f["orders"]["currencies"] for f in figures] == [["USD"], ["USD"], ["EUR", "USD"], ["USD"]]
    firsts = [f["orders"]["first"][:10] for f in figures]
    assert firsts == ["2024-02-01", "2024-01-20", "2024-01-20", "2024-02-01"]
    assert figures[1]["orders+products"] == {"costed": 7, "products": 2, "rows": 7}
    # the first load takes the figures its DuckDB load recorded (every row is there); later ones update
    # them, but FOURTH's (its first time went) are scanned
    assert scanned.count("orders") == 1 and scanned.count("customers") == 0


def test_only_the_rows_of_the_files_keys_and_references_are_copied(
    pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    store = connect(pg_url)
    try:
        load_path(store, _folder(tmp_path, "base", BASE), show_progress=False)
        copied: Counter[str] = Counter()
        insert = subset._insert_csv

        def counting(duck: Any, name: str, path: Path, columns: dict[str, str]) -> int:
            n = insert(duck, name, path, columns)
            copied[name] += n
            return n

        monkeypatch.setattr(subset, "_insert_csv", counting)
        path = tmp_path / "orders.csv"
        path.write_text(ORDERS)
        (result,) = load_path(store, path, show_progress=False)
        orders = store.sql("SELECT COUNT(*), SUM(quantity) FROM orders")
        indexes = store.sql("SELECT tablename, indexdef FROM pg_indexes WHERE indexname LIKE 'kw_ix_%'")
    finally:
        store.disconnect()
    assert (result.new, result.updated, result.unchanged) == (1, 1, 1)
    # of 5 stored lines the two whose keys the file holds; of 4 customers the two it names
    assert copied == {"orders": 2, "customers": 2}
    assert [(n, float(q)) for n, q in orders] == [(6, 12.0)]
    # loads find those rows through indexes of the loaded tables' keys and of orders' customers
    keyed = sorted((table, definition.split(" USING btree ")[1]) for table, definition in indexes)
    assert ("orders", "(order_id, line_no)") in keyed and ("orders", "(customer_id)") in keyed
    assert ("customers", "(customer_id)") in keyed and ("products", "(product_id)") in keyed


def test_a_load_whose_files_are_not_known_ahead_copies_whole_tables_and_loads_the_same(
    pg_url: str, tmp_path: Path
):
    assert subset.sources_of(lambda duck: duck) is None
    store = connect(pg_url)
    try:
        load_path(store, _folder(tmp_path, "base", BASE), show_progress=False)
        folder = _folder(tmp_path, "more", {"orders": ORDERS})
        results = load_into_postgres(
            store, [SCHEMA["orders"]], lambda duck: load_path(duck, folder, show_progress=False)
        )
        rows = store.sql("SELECT order_id, line_no, quantity FROM orders ORDER BY 1, 2")
        stats = store.sql("SELECT row_count FROM kw_table_stats WHERE table_name = 'orders'")
    finally:
        store.disconnect()
    assert [(r.new, r.updated, r.unchanged) for r in results] == [(1, 1, 1)]
    assert [(o, int(n), float(q)) for o, n, q in rows] == [
        ("O1", 1, 1.0),
        ("O1", 2, 5.0),
        ("O10", 1, 1.0),
        ("O2", 1, 1.0),
        ("O3", 1, 3.0),
        ("O4", 1, 1.0),
    ]
    assert stats == [(6,)]
