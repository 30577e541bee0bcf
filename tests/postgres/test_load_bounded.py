"""What a load into PostgreSQL copies: nothing of an empty table, nothing for a file it refuses unread,
consent by customer; and it ends exactly as the same load on DuckDB.

A first load reads ahead only the references of its files (the loaded table is empty: none of its rows
to find), and its rows go to PostgreSQL from a DuckDB connection whose memory is bounded (it spills). A
malformed file that the load cannot read is refused with the load's own message, having copied only what
the files before it need. A consent load copies the consent rows and events of the customers it names,
and the whole tables only when it would seed the events from every consent row.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from keepwise.exceptions import KeepwiseInputError
from keepwise.store import connect
from keepwise.store import postgres_subset as subset
from keepwise.store.backup import store_digests
from keepwise.store.ingest import load_path

CUSTOMERS = "customer_id,name,currency\nC1,Ada,USD\nC2,Bolek,USD\nC3,Cyd,USD\nC4,Dee,USD\n"
ORDERS = (
    "order_id,line_no,customer_id,ordered_at,product_id,category,quantity,unit_price,unit_cost,currency\n"
    "O1,1,C1,2024-02-01,P1,coffee,1,18.50,9.40,USD\n"
    "O2,1,C2,2024-02-03,P1,coffee,2,18.50,9.40,USD\n"
)
CONSENT_HEAD = "customer_id,channel,purpose,granted_at,revoked_at,source,proof\n"
CONSENT = CONSENT_HEAD + (
    "C1,email,marketing,2024-01-15,,web form,f1\n"
    "C2,email,marketing,2024-01-16,,web form,f2\n"
    "C3,sms,service,2024-01-17,,call,f3\n"
)
#: C2 revokes; C4 grants (no consent before).
MORE_CONSENT = CONSENT_HEAD + (
    "C2,email,marketing,2024-01-16,2024-04-01,web form,f2\nC4,email,marketing,2024-03-01,,web form,f4\n"
)
#: C4 alone grants.
C4_CONSENT = CONSENT_HEAD + "C4,email,marketing,2024-03-01,,web form,f4\n"


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for table, text in files.items():
        (folder / f"{table}.csv").write_text(text)
    return folder


def _loaded_base(store: Any, tmp_path: Path, copied: Counter[str]) -> Any:
    """Load the base customers and orders into ``store``; return its digests, the copy counts cleared."""
    base = _write(tmp_path / "base", {"customers": CUSTOMERS, "orders": ORDERS})
    load_path(store, base, show_progress=False)
    digests = store_digests(store)
    copied.clear()
    return digests


@pytest.fixture
def copied(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Rows copied from PostgreSQL into the load's DuckDB connection, per table."""
    counts: Counter[str] = Counter()
    insert = subset._insert_csv

    def counting(duck: Any, name: str, path: Path, columns: dict[str, str]) -> int:
        n = insert(duck, name, path, columns)
        counts[name] += n
        return n

    monkeypatch.setattr(subset, "_insert_csv", counting)
    return counts


def test_a_first_load_copies_nothing_of_its_empty_table_and_reads_ahead_only_its_references(
    pg_url: str, tmp_path: Path, copied: Counter[str], monkeypatch: pytest.MonkeyPatch
):
    sent: list[tuple[str, tuple[str, ...]]] = []
    to_postgres = subset.Wanted.to_postgres

    def sending(self: subset.Wanted, store: Any, table: str, prefix: str = "_kw_want") -> str:
        sent.append((table, self.columns))
        return to_postgres(self, store, table, prefix)

    monkeypatch.setattr(subset.Wanted, "to_postgres", sending)
    store = connect(pg_url)
    try:
        load_path(store, _write(tmp_path / "c", {"customers": CUSTOMERS}), show_progress=False)
        assert sent == [] and copied == {}  # into an empty table: nothing to find, nothing copied
        (result,) = load_path(store, _write(tmp_path / "o", {"orders": ORDERS}), show_progress=False)
        rows = store.sql("SELECT order_id, customer_id, quantity FROM orders ORDER BY 1")
        (figures,) = store.sql("SELECT row_count FROM kw_table_stats WHERE table_name = 'orders'")
    finally:
        store.disconnect()
    # the orders' customers are found (two of four), their own keys are not looked for
    assert sent == [("customers", ("customer_id",))] and copied == {"customers": 2}
    assert (result.new, result.updated, result.unchanged) == (2, 0, 0)
    assert [(o, c, int(q)) for o, c, q in rows] == [("O1", "C1", 1), ("O2", "C2", 2)]
    assert figures == (2,)


def test_a_file_the_load_cannot_read_is_refused_having_copied_nothing_of_the_store(
    pg_url: str, tmp_path: Path, copied: Counter[str]
):
    store = connect(pg_url)
    try:
        before = _loaded_base(store, tmp_path, copied)
        bad = tmp_path / "bad"
        _write(bad, {"orders": ORDERS + 'O3,1,C3,2024-02-05,P1,"coffee,1,18.50,9.40,USD\n'})
        with pytest.raises(KeepwiseInputError) as refused:
            load_path(store, bad / "orders.csv", show_progress=False)
        after = store_digests(store)
    finally:
        store.disconnect()
    duck_url = f"duckdb:///{tmp_path}/kw.duckdb"
    duck = connect(duck_url)
    try:
        load_path(duck, tmp_path / "base", show_progress=False)
        with pytest.raises(KeepwiseInputError) as on_duckdb:
            load_path(duck, bad / "orders.csv", show_progress=False)
    finally:
        duck.disconnect()
    assert str(refused.value) == str(on_duckdb.value) and "orders.csv" in str(refused.value)
    assert copied == {}  # neither the 2 stored lines nor the 4 customers
    assert after == before


def test_a_folder_whose_second_file_cannot_be_read_copies_what_the_first_needs_and_loads_nothing(
    pg_url: str, tmp_path: Path, copied: Counter[str]
):
    store = connect(pg_url)
    try:
        before = _loaded_base(store, tmp_path, copied)
        more = "customer_id,name,currency\nC2,Bolesław,USD\nC9,Ina,USD\n"
        folder = _write(tmp_path / "bad", {"customers": more, "orders": ORDERS + "O3,1,C3\n"})
        with pytest.raises(KeepwiseInputError) as refused:
            load_path(store, folder, show_progress=False)
        after = store_digests(store)
    finally:
        store.disconnect()
    assert "orders.csv" in str(refused.value)
    assert copied == {"customers": 1}  # C2, the one stored customer the customers file names
    assert after == before


def _consent_loads(url: str, tmp_path: Path, hand_row: bool) -> list[Any]:
    """Customers and consent, then more consent (or a row written by hand for C4, then C4's consent)."""
    store = connect(url)
    out: list[Any] = []
    second = {"consent": C4_CONSENT if hand_row else MORE_CONSENT}
    try:
        for i, files in enumerate([{"customers": CUSTOMERS, "consent": CONSENT}, second]):
            if i == 1 and hand_row:
                store.sql(
                    "INSERT INTO consent (customer_id, channel, purpose, granted_at, source) "
                    "VALUES ('C4', 'post', 'marketing', TIMESTAMP '2024-02-01 00:00:00', 'by hand')"
                )
            results = load_path(store, _write(tmp_path / f"load{i}", files), show_progress=False)
            events = store.sql(
                'SELECT customer_id, channel, purpose, event, "at", source, proof FROM consent_events '
                "ORDER BY 1, 2, 3, 4, 5"
            )
            digests = store_digests(store)
            digests.pop("consent_events")  # holds recorded_at, the time of each load
            out.append(([(r.table, r.new, r.updated, r.unchanged) for r in results], digests, events))
    finally:
        store.disconnect()
    return out


@pytest.mark.parametrize("hand_row", [False, True], ids=["events", "a-row-without-events"])
def test_a_consent_load_copies_the_rows_of_the_customers_it_names_and_ends_as_on_duckdb(
    pg_url: str, tmp_path: Path, copied: Counter[str], hand_row: bool
):
    on_duckdb = _consent_loads(f"duckdb:///{tmp_path}/kw.duckdb", tmp_path / "duck", hand_row)
    on_postgres = _consent_loads(pg_url, tmp_path / "pg", hand_row)
    assert on_postgres == on_duckdb
    if not hand_row:  # C2's and C4's rows: C2's consent and its grant (C4 has none); the two customers
        assert on_postgres[1][0] == [("consent", 1, 1, 0)]
        assert copied == {"customers": 2, "consent": 1, "consent_events": 1}
    else:  # C4's hand row; C4 has no event: one other event keeps DuckDB from seeding events from it
        assert on_postgres[1][0] == [("consent", 1, 0, 0)]
        assert copied == {"customers": 1, "consent": 1, "consent_events": 1}


def test_a_consent_load_into_a_store_without_events_copies_consent_whole_and_seeds_as_on_duckdb(
    pg_url: str, tmp_path: Path, copied: Counter[str]
):
    results = []
    for url, where in ((f"duckdb:///{tmp_path}/kw.duckdb", "duck"), (pg_url, "pg")):
        store = connect(url)
        try:
            load_path(
                store,
                _write(tmp_path / where / "a", {"customers": CUSTOMERS, "consent": CONSENT}),
                show_progress=False,
            )
            store.sql("DELETE FROM consent_events")  # a store whose consent predates the events
            copied.clear()
            (loaded,) = load_path(
                store, _write(tmp_path / where / "b", {"consent": MORE_CONSENT}), show_progress=False
            )
            events = store.sql('SELECT customer_id, event, "at" FROM consent_events ORDER BY 1, 2, 3')
            results.append(((loaded.new, loaded.updated, loaded.unchanged), events, dict(copied)))
        finally:
            store.disconnect()
    (duck_counts, duck_events, _), (pg_counts, pg_events, pg_copied) = results
    assert pg_counts == duck_counts and pg_events == duck_events
    assert len(pg_events) == 5  # the three stored grants seeded, C2's revocation and C4's grant added
    assert pg_copied["consent"] == 3  # every stored row: the events are seeded from all of them
