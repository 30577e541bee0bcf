"""``keepwise import``: exit codes, the wrong-file message, detect, --json and --dry-run."""

from __future__ import annotations

import json
import subprocess
import sys

from .helpers import FIXTURES


def run(*args: str, cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "keepwise.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_a_wrong_file_exits_2_naming_expected_and_found_columns_and_the_adapter_that_fits(db_url):
    result = run("import", "shopify-orders", str(FIXTURES / "stripe_payments_2026-03.csv"), "--db", db_url)
    assert result.returncode == 2
    assert result.stderr == (
        "error: stripe_payments_2026-03.csv is not a Shopify orders export: missing Name, Created at, "
        "Lineitem quantity, Lineitem price (found: id, Created date (UTC), Amount, Amount Refunded, "
        "Currency, Captured, Converted Amount, Converted Amount Refunded, Converted Currency, "
        "Decline Reason, Description, Fee, ...); it looks like a Stripe payments export: "
        "keepwise import stripe-payments stripe_payments_2026-03.csv\n"
    )


def test_detect_names_the_adapter_that_fits():
    result = run("import", "detect", str(FIXTURES / "shopify_orders_2026-03.csv"), "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["file"] == "shopify_orders_2026-03.csv"
    assert doc["fits"][0] == {"source": "shopify-orders", "fit": 1.0, "missing": []}


def test_json_dry_run_is_one_document_and_changes_nothing(db_url):
    result = run(
        "import",
        "stripe-payments",
        str(FIXTURES / "stripe_payments_2026-03.csv"),
        "--db",
        db_url,
        "--dry-run",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["dry_run"] is True
    assert doc["tables"]["orders"] == {"rows": 5, "new": 5, "known": 0}
    assert doc["skipped"] == {"failed charges": 1, "uncaptured charges": 1}
    status = json.loads(run("status", "--json", "--db", db_url).stdout)
    assert status["tables"]["orders"]["rows"] == 0


def test_unknown_source_lists_the_sources(db_url):
    result = run("import", "quickbooks", str(FIXTURES / "stripe_payments_2026-03.csv"), "--db", db_url)
    assert result.returncode == 2
    assert result.stderr.startswith("error: unknown source 'quickbooks'; the sources are: shopify-orders, ")
