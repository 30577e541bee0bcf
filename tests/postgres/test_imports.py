"""``keepwise import`` on PostgreSQL stores what it stores on DuckDB: the same exports, the same digests."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.store import connect
from keepwise.store.backup import store_digests

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
#: (source, export) in the order a business would import them
IMPORTS = [
    ("shopify-orders", "shopify_orders_2026-03.csv"),
    ("shopify-orders", "shopify_orders_2026-03-later.csv"),
    ("stripe-payments", "stripe_payments_2026-03.csv"),
    ("zendesk", "zendesk_tickets_2026-03.csv", "--timezone", "Europe/Warsaw"),
    ("toggl", "toggl_detailed_2026-03.csv", "--timezone", "Europe/Warsaw"),
]
TABLES = ["customers", "orders", "incidents", "time_logs", "import_ids", "import_charges"]


def _imported(url: str) -> dict[str, str]:
    for source, export, *options in IMPORTS:
        args = ["import", source, str(FIXTURES / export), *options, "--db", url, "--json"]
        done = CliRunner().invoke(app, args)
        assert done.exit_code == 0, (source, done.output)
    store = connect(url)
    try:
        digests = store_digests(store)
    finally:
        store.disconnect()
    return {t: digests[t] for t in TABLES}


def test_imports_store_the_same_rows_on_postgres_as_on_duckdb(pg_url: str, tmp_path: Path):
    assert _imported(pg_url) == _imported(f"duckdb:///{tmp_path / 'kw.duckdb'}")
