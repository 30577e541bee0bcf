"""A small simulated business in a real DuckDB file, reviewed once by the real CLI, and apps serving it.

The store has a team (:data:`USERS`: an admin, a manager and a rep, each with :data:`PASSWORD`); ``signed_in``
gives a client signed in through the form as one of them (its forms carry the session's CSRF token in the
``X-CSRF-Token`` header), ``client`` one that sends the deprecated shared token as an admin's Bearer token.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from typer.testing import CliRunner

from keepwise.cli import app as cli_app
from keepwise.config import Config, MessagesAssumptions, WebAssumptions
from keepwise.datasets import simulate
from keepwise.store import connect
from keepwise.store.ingest import load_frame
from keepwise.store.schema import load_order

TOKEN = "web-token-0123456789abcdef"
SECRET = "unsubscribe-secret-0123456789"
MONTH = "2025-11"
#: The team every test store has: name -> role, all with :data:`PASSWORD`.
USERS = {"ada": "admin", "max": "manager", "rey": "rep"}
PASSWORD = "correct-horse-battery-staple"


def add_team(url: str) -> None:
    """Give the store at ``url`` the users of :data:`USERS` (those it has not got yet)."""
    from keepwise.store import team

    backend = connect(url)
    try:
        have = {m.name for m in team.list_users(backend)}
        for name, role in USERS.items():
            if name not in have:
                team.add_user(backend, name, role, PASSWORD, by="conftest")
    finally:
        backend.disconnect()


def sign_in_as(client, name: str, password: str = PASSWORD) -> None:
    """Sign ``client`` in through the form as ``name``; its later requests send the CSRF token as a header."""
    from keepwise.web.csrf import HEADER, csrf_token

    client.headers.pop("Authorization", None)
    got = client.post("/login", data={"name": name, "password": password}, follow_redirects=False)
    assert got.status_code == 303, got.text
    client.headers[HEADER] = csrf_token(client.cookies["keepwise_session"])


def keep_csrf(client) -> None:
    """Make ``client``'s later requests carry its session's CSRF token (as a form's hidden field would)."""
    from keepwise.web.csrf import HEADER, csrf_token

    if "keepwise_session" in client.cookies:
        client.headers[HEADER] = csrf_token(client.cookies["keepwise_session"])


def api_token(url: str, role: str, name: str = "tests") -> str:
    """A new API token of ``role`` in the store at ``url`` (``keepwise tokens create``)."""
    from keepwise.store import team

    backend = connect(url)
    try:
        return team.create_token(backend, name, role, by="conftest")[1]
    finally:
        backend.disconnect()


def cli(*args: str) -> tuple[int, str, str]:
    """Run ``keepwise ARGS`` in-process; exit code, stdout and stderr."""
    from keepwise import cli as cli_module

    runner = CliRunner()
    result = runner.invoke(cli_app, list(args), catch_exceptions=True)
    code = result.exit_code
    err = result.stderr
    if isinstance(result.exception, cli_module.KeepwiseInputError):  # main() turns these into exit 2
        code, err = 2, cli_module.error_line(result.exception) + "\n"
    return code, result.stdout, err


def same_error(api: dict, cli_err: str) -> bool:
    """The API's error says what the CLI's does: the same line, or the same problem with the field named.

    An error about one input (``"field"`` in the API's JSON) names the field as the API calls it (``top:``);
    the CLI names it as its option (``--top``).
    """
    line = cli_err.strip().removeprefix("error: ")
    if "field" not in api:
        return bool(line == api["error"])
    field = api["field"]
    problem = api["error"].removeprefix(f"{field}: ").split(" (got ")[0]
    return f"--{field.replace('_', '-')}" in line and problem in line


def all_pages(client, path: str, params: dict, lists, per_page: int = 1000) -> dict:
    """Every page of a paginated route put back together (``pagination`` dropped): the whole document.

    ``lists`` are the document's paginated lists (``lost.customers`` for one inside an object); the pages
    are followed by their ``next`` links until there is none.
    """
    doc: dict | None = None
    url: str | None = path
    query: dict | None = {**params, "per_page": per_page}
    while url is not None:
        got = client.get(url, params=query)
        assert got.status_code == 200, got.text
        body = got.json()
        pagination = body.pop("pagination")
        if doc is None:
            doc = body
        else:
            for key in lists:
                outer, _, inner = key.partition(".")
                if inner and isinstance(doc.get(outer), dict):
                    doc[outer][inner] += body[outer][inner]
                elif isinstance(doc.get(key), list):
                    doc[key] += body[key]
        url, query = pagination["next"], None  # the link carries the query
    assert doc is not None
    return doc


@pytest.fixture(scope="session")
def store_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """600 customers over 24 months, loaded, then reviewed twice (two months) by ``keepwise review``."""
    path: Path = tmp_path_factory.mktemp("web") / "store.duckdb"
    url = f"duckdb:///{path}"
    biz = simulate(customers=600, months=24, seed=5)
    backend = connect(url)
    for name in load_order(set(biz.tables)):
        load_frame(backend, name, biz.tables[name], source=name)
    backend.disconnect()
    add_team(url)
    return url


@pytest.fixture(scope="session")
def reviews(store_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """``keepwise review --json`` of two months, as the CLI printed them."""
    out = tmp_path_factory.mktemp("reports")
    docs = {}
    for month in ("2025-10", MONTH):
        code, stdout, err = cli("review", "--month", month, "--json", "--html", str(out / f"{month}.html"),
                                "--db", store_url)  # fmt: skip
        assert code == 0, err
        docs[month] = json.loads(stdout)
    return docs


@pytest.fixture
def config() -> Config:
    """Defaults, with the unsubscribe address of a real deployment and a web token."""
    return replace(
        Config(),
        messages=replace(MessagesAssumptions(), unsubscribe_url="https://shop.example/keepwise/unsubscribe"),
        web=replace(WebAssumptions(), token=TOKEN),
    )


@pytest.fixture
def client(store_url: str, reviews, config: Config, monkeypatch):
    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    with TestClient(create_app(store_url, config)) as c:
        c.headers["Authorization"] = f"Bearer {TOKEN}"
        yield c


@pytest.fixture
def signed_in(store_url: str, reviews, config: Config, monkeypatch):
    """``signed_in("rep")``: a client signed in through the form as the store's user of that role."""
    from contextlib import ExitStack

    from fastapi.testclient import TestClient

    from keepwise.web import create_app

    monkeypatch.delenv("KEEPWISE_WEB_TOKEN", raising=False)
    monkeypatch.setenv("KEEPWISE_SECRET", SECRET)
    app = create_app(store_url, config)
    with ExitStack() as stack:

        def make(role: str):
            c = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            sign_in_as(c, next(n for n, r in USERS.items() if r == role))
            return c

        yield make


def routes_of(app) -> list[tuple[str, set[str]]]:
    """Every route of ``app`` as (path, methods), those of included routers too.

    FastAPI 0.165 keeps an included router as one entry of ``app.routes`` (``_IncludedRouter``) whose routes
    are listed by ``effective_candidates()``; older versions copy them into ``app.routes``. Both are walked.
    """
    found: list[tuple[str, set[str]]] = []

    def walk(entries) -> None:
        for entry in entries:
            if hasattr(entry, "effective_candidates"):
                walk(entry.effective_candidates())
            elif hasattr(entry, "original_route"):  # a route of an included router, with its full path
                found.append((entry.path, set(getattr(entry.original_route, "methods", None) or ())))
            elif hasattr(entry, "path") and getattr(entry, "methods", None):
                found.append((entry.path, set(entry.methods)))

    walk(app.routes)
    return found
