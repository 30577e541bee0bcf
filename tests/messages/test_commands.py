"""keepwise messages compose / report and their input errors."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from keepwise import cli


def test_compose_incident_json_shows_the_letter_without_queueing(business, db_url, monkeypatch):
    business.disconnect()
    monkeypatch.delenv("KEEPWISE_SECRET", raising=False)
    result = CliRunner().invoke(
        cli.app, ["messages", "compose", "--incident", "I2", "--json", "--db", db_url]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["kind"] == "adjustment" and doc["language"] == "pl" and doc["marketing"] is False
    assert "1\u00a0234,50 PLN" in doc["text"] and doc["idempotency_key"] == "C2:adjustment:I2"
    report = CliRunner().invoke(cli.app, ["messages", "report", "--json", "--db", db_url])
    assert json.loads(report.stdout)["by_status"]["queued"] == 0


def test_compose_winback_preview_for_a_customer(business, db_url):
    business.disconnect()
    result = CliRunner().invoke(
        cli.app, ["messages", "compose", "--customer", "C2", "--kind", "winback", "--db", db_url]
    )
    assert result.exit_code == 0, result.output
    assert "Nasze ceny okazały się za wysokie." in result.stdout


def test_bad_input_exits_2_with_one_line(db_url):
    proc = subprocess.run(
        [sys.executable, "-m", "keepwise.cli", "messages", "compose", "--customer", "C1", "--db", db_url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == "error: --customer needs --kind (one of: adjustment, winback, goodbye, thanks, "
        "reengagement, confirm, reprice, partways)"
    )
