"""A store URL is shown without its password: in output, JSON, logs and the errors of opening it (issue 19).

The PostgreSQL places (``keepwise status``, ``keepwise serve``, ``GET /api/status`` on a real server) are in
tests/postgres/test_redaction.py; here the rule itself and the errors that need no server.
"""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from keepwise.cli import app, error_line
from keepwise.exceptions import KeepwiseInputError
from keepwise.store.connection import connect, redacted

SECRET = "Sekr1t-pw"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://kw:{SECRET}@db.example:5432/shop", "postgresql://kw:***@db.example:5432/shop"),
        (f"postgres://kw:{SECRET}@db.example/shop", "postgres://kw:***@db.example/shop"),
        ("postgresql://kw:p%40ss%3Aword@db.example/shop", "postgresql://kw:***@db.example/shop"),
        (
            f"postgresql://kw:{SECRET}@/shop?host=/run/postgresql",
            "postgresql://kw:***@/shop?host=/run/postgresql",
        ),
        (
            f"postgresql://kw@db.example/shop?sslmode=require&password={SECRET}",
            "postgresql://kw@db.example/shop?sslmode=require&password=***",
        ),
        (f"spark://kw:{SECRET}@spark.example:7077", "spark://kw:***@spark.example:7077"),
        ("postgresql://kw@db.example/shop", "postgresql://kw@db.example/shop"),
        ("duckdb:////var/data/kw.duckdb", "duckdb:////var/data/kw.duckdb"),
        ("duckdb://:memory:", "duckdb://:memory:"),
        ("spark-local", "spark-local"),
    ],
)
def test_the_password_of_a_url_is_shown_as_stars(url: str, shown: str) -> None:
    """Plain or percent-encoded, in the user part or a parameter: replaced; URLs without one unchanged."""
    assert redacted(url) == shown
    assert SECRET not in redacted(url) and "p%40ss" not in redacted(url)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the socket is: nothing listens there


@pytest.mark.parametrize("scheme", ["postgresql", "mysql"])
def test_the_error_of_opening_a_store_hides_its_password(scheme: str) -> None:
    """A server that is not there, or an engine keepwise does not know: the message names the URL redacted."""
    url = f"{scheme}://kw:{SECRET}@127.0.0.1:{_closed_port()}/shop"
    with pytest.raises(KeepwiseInputError) as caught:
        connect(url)
    assert SECRET not in str(caught.value) and "kw:***@127.0.0.1" in str(caught.value)
    result = CliRunner().invoke(app, ["status", "--json", "--db", url])
    assert isinstance(result.exception, KeepwiseInputError)
    shown = result.stdout + result.stderr + error_line(result.exception)
    assert SECRET not in shown


def test_a_store_shown_in_a_log_hides_its_password() -> None:
    """``repr(Store)`` (what a traceback or a log line shows) names the URL redacted."""
    from keepwise.store.store import Store

    class Engine:
        name = "postgres"

    store = Store(Engine(), f"postgresql://kw:{SECRET}@db.example:5432/shop")
    assert SECRET not in repr(store)
    assert repr(store) == "Store(postgres, postgresql://kw:***@db.example:5432/shop)"
