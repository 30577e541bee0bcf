"""``keepwise serve``: the dashboard and the REST API (FastAPI under uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from keepwise.commands.common import DbOption, err
from keepwise.store.connection import DEFAULT_URL


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (beyond 127.0.0.1 only with a token).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Serve the dashboard and the API for the store.

    Sign-in uses the token in KEEPWISE_WEB_TOKEN (or keepwise.toml, section web, key token); without one the
    dashboard is open and listens on this machine only.
    """
    import os

    import uvicorn

    from keepwise.config import load_config
    from keepwise.config.web import TOKEN_ENV, is_loopback, resolve_token
    from keepwise.exceptions import KeepwiseInputError
    from keepwise.store.connection import ENV_VAR

    if not 0 < port < 65536:
        raise KeepwiseInputError(f"--port must be between 1 and 65535, not {port}")
    config = load_config()
    token = resolve_token(config)
    if token is None and not is_loopback(host):
        raise KeepwiseInputError(
            f"refusing to listen on {host} without an access token: set {TOKEN_ENV} (or [web] token in "
            "keepwise.toml), or use --host 127.0.0.1"
        )
    os.environ[ENV_VAR] = db  # the app factory opens the store this names
    where = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    err.print(f"keepwise dashboard for {db} on {where} ({'sign-in required' if token else 'no sign-in'})")
    uvicorn.run("keepwise.web:create_app_from_env", factory=True, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("serve")(serve)
