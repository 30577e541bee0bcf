"""A PostgreSQL store URL with a password never shows the password (issue 19's leftover).

Every place that shows the store URL, run against the throwaway server of this folder's conftest.py (it trusts
local connections, so the password in the URL is accepted and not needed): ``keepwise status`` (its JSON and
its table), ``keepwise serve``'s start-up lines and ``GET /api/status``. The errors of opening a store are in
tests/store/test_redaction.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.config import Config, WebAssumptions

SECRET = "Sekr1t-pw"
TOKEN = "redaction-token-0123456789abcdef"


@pytest.fixture
def secret_url(pg_url: str) -> str:
    """The new database's URL with a password in it."""
    scheme, _, rest = pg_url.partition("://")
    user, _, host = rest.partition("@")
    return f"{scheme}://{user}:{SECRET}@{host}"


def test_status_json_and_table_hide_the_password(secret_url: str) -> None:
    """``keepwise status --json`` names the store redacted; so does the table's title."""
    import json

    runner = CliRunner()
    as_json = runner.invoke(app, ["status", "--json", "--db", secret_url])
    assert as_json.exit_code == 0, as_json.output
    assert SECRET not in as_json.stdout + as_json.stderr
    assert json.loads(as_json.stdout)["db"] == secret_url.replace(SECRET, "***")
    table = runner.invoke(app, ["status", "--db", secret_url], terminal_width=300)
    assert table.exit_code == 0, table.output
    assert SECRET not in table.stdout + table.stderr and ":***@" in table.stdout


def test_serve_prints_the_store_without_its_password(secret_url: str, monkeypatch) -> None:
    """The line ``keepwise serve`` prints when it starts names the store redacted (the server is not run)."""
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    for set_by_serve in ("KEEPWISE_WEB_TOKEN", "KEEPWISE_DB", "KEEPWISE_WEB_HOST"):
        monkeypatch.setenv(set_by_serve, "")  # recorded, so that what serve sets is undone afterwards
        monkeypatch.delenv(set_by_serve)
    result = CliRunner().invoke(app, ["serve", "--db", secret_url], terminal_width=300)
    assert result.exit_code == 0, result.output
    assert "keepwise dashboard for" in result.stderr and ":***@" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_api_status_hides_the_password(secret_url: str, monkeypatch) -> None:
    """``GET /api/status`` answers the status JSON with the store URL redacted."""
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", "unsubscribe-secret-0123456789")
    config = replace(Config(), web=replace(WebAssumptions(), token=TOKEN))
    with TestClient(create_app(secret_url, config)) as client:
        got = client.get("/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
    assert got.status_code == 200, got.text
    assert SECRET not in got.text
    assert got.json()["db"] == secret_url.replace(SECRET, "***")
