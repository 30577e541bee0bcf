"""The same data on DuckDB and on PostgreSQL gives the same answers, and backups round trip on both.

One simulated business (600 customers, 24 months, seed 5) is loaded into a DuckDB file and into a PostgreSQL
database through the validated load; the monthly review, profit and win-back ranking run on each through the
CLI (``--json``) and their documents, normalised as tests/test_outputs_unchanged.py normalises them
(scripts/cli_json_snapshot.py), must be equal, floats to a relative 1e-6. Then each store is backed up and
restored into an empty store of the same engine, and the DuckDB backup into PostgreSQL: every table's digest
is the backup's.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from keepwise.cli import app
from keepwise.datasets import simulate
from keepwise.store import connect
from keepwise.store.backup import MANIFEST, store_digests
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order

from .server import Server

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cli_json_snapshot.py"
MONTH = "2025-11"
#: command name -> arguments (each run on both engines)
COMMANDS = {
    "review": ["review", "--month", MONTH, "--json"],
    "profit": ["profit", "--json"],
    "winback": ["winback", "--json"],
}
RTOL = 1e-6


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("cli_json_snapshot_pg", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture(scope="module")
def stores(pg_server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The same simulated business in a DuckDB file and in a PostgreSQL database."""
    biz = simulate(customers=600, months=24, seed=5)
    urls = {
        "duckdb": f"duckdb:///{tmp_path_factory.mktemp('same') / 'store.duckdb'}",
        "postgres": pg_server.create_database(),
    }
    for url in urls.values():
        store = connect(url)
        try:
            for name in load_order(set(biz.tables)):
                load_frame(store, name, biz.tables[name], source=name)
        finally:
            store.disconnect()
    return urls


def _cli(*args: str) -> str:
    done = CliRunner().invoke(app, list(args), catch_exceptions=False)
    assert done.exit_code == 0, done.output
    return done.stdout


@pytest.fixture(scope="module")
def documents(stores: dict[str, str], snapshot: ModuleType, tmp_path_factory: pytest.TempPathFactory):
    """Each command's normalised JSON document on each engine."""
    work = tmp_path_factory.mktemp("docs")
    snap = snapshot.Snapshot(work, work)
    return {
        (engine, name): json.loads(snap.normalise(_cli(*args, "--db", url)))
        for engine, url in stores.items()
        for name, args in COMMANDS.items()
    }


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_the_document_on_postgres_equals_the_one_on_duckdb(name: str, documents, snapshot: ModuleType):
    duck, pg = documents[("duckdb", name)], documents[("postgres", name)]
    gap = snapshot.float_gap(duck, pg)
    assert gap is not None, f"{name}: the documents differ in more than their floats"
    assert gap[0] <= RTOL, f"{name}: {gap[1]} differs by {gap[0]:.2e}"
    assert name != "review" or duck["month"] == pg["month"] == MONTH


def _restored_digests(folder: Path, url: str) -> dict[str, str]:
    _cli("restore", str(folder), "--json", "--db", url)
    store = connect(url)
    try:
        return store_digests(store)
    finally:
        store.disconnect()


def test_backups_round_trip_with_identical_digests_on_both_engines(
    stores: dict[str, str], documents, pg_server: Server, tmp_path: Path
):
    manifests = {}
    for engine, url in stores.items():
        folder = tmp_path / engine
        _cli("backup", str(folder), "--json", "--db", url)
        manifests[engine] = {
            t["table"]: t["sha256"] for t in json.loads((folder / MANIFEST).read_text())["tables"]
        }
        assert {"orders", "customers", "consent_events", "stage_documents"} <= set(manifests[engine])
    targets = {
        "duckdb": f"duckdb:///{tmp_path / 'restored.duckdb'}",
        "postgres": pg_server.create_database(),
    }
    for engine, url in targets.items():
        got = _restored_digests(tmp_path / engine, url)
        assert {t: got[t] for t in manifests[engine]} == manifests[engine], engine
    # the records are the same data on both engines: their digests agree across engines too
    records = ["customers", "orders", "products", "incidents", "exits", "time_logs", "consent", "advocacy"]
    assert {t: manifests["duckdb"][t] for t in records} == {t: manifests["postgres"][t] for t in records}
    across = _restored_digests(tmp_path / "duckdb", pg_server.create_database())
    assert {t: across[t] for t in manifests["duckdb"]} == manifests["duckdb"]


def _pages(url: str) -> dict[str, tuple[int, object]]:
    """Every GET route without path parameters: status code and (for JSON) the document, ``db`` left out."""
    from dataclasses import replace

    from fastapi.testclient import TestClient

    from keepwise.config import Config, WebAssumptions
    from keepwise.web import create_app

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from web.conftest import routes_of

    token = "pg-web-token-0123456789abcdef"
    app = create_app(url, replace(Config(), web=replace(WebAssumptions(), token=token)))
    found: dict[str, tuple[int, object]] = {}
    with TestClient(app) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        for path, methods in sorted(routes_of(app)):
            if "GET" not in methods or "{" in path:
                continue
            got = client.get(path)
            body: object = None
            if got.headers.get("content-type", "").startswith("application/json"):
                body = got.json()
                if isinstance(body, dict):
                    body.pop("db", None)
            found[path] = (got.status_code, body)
    return found


def test_the_dashboard_serves_the_same_pages_and_api_answers_on_postgres(
    stores: dict[str, str], documents, snapshot: ModuleType, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", "pg-secret-0123456789abcdef")
    duck, pg = _pages(stores["duckdb"]), _pages(stores["postgres"])
    assert {p: c for p, (c, _) in pg.items()} == {p: c for p, (c, _) in duck.items()}
    assert sum(code == 200 for code, _ in pg.values()) >= 10
    for path, (_, body) in duck.items():
        if body is not None:
            gap = snapshot.float_gap(body, pg[path][1])
            assert gap is not None and gap[0] <= RTOL, path
