"""``keepwise serve``: the dashboard and the REST API (FastAPI under uvicorn)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from keepwise.commands.common import DbOption, err
from keepwise.store.connection import DEFAULT_URL, redacted

#: Environment variable through which ``serve`` tells the app the address it listens on.
HOST_ENV = "KEEPWISE_WEB_HOST"


def first_admin(db: str) -> str | None:
    """Create the admin ``admin`` when the store has no users yet; its new password, or ``None``."""
    from keepwise.store import connect, team

    store = connect(db)
    try:
        if team.has_users(store):
            if not any(m.role == "admin" and m.active for m in team.list_users(store)):
                err.print("No active admin: add one with keepwise users add NAME --role admin")
            return None
        password = team.generate_password()
        team.add_user(store, "admin", "admin", password, by="keepwise serve")
        return password
    finally:
        store.disconnect()


def serve(
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on (beyond 127.0.0.1, put a TLS proxy in front)."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Serve the dashboard and the API for the store.

    Everyone signs in with a name and password (keepwise users add); scripts use API tokens (keepwise tokens
    create). The first start on a store without users creates the admin 'admin' and prints its password once.
    """
    import os

    import uvicorn

    from keepwise.config import load_config
    from keepwise.config.web import is_loopback, resolve_token
    from keepwise.exceptions import KeepwiseInputError
    from keepwise.store.connection import ENV_VAR

    if not 0 < port < 65536:
        raise KeepwiseInputError(f"--port must be between 1 and 65535, not {port}")
    config = load_config()
    token = resolve_token(config)  # the deprecated shared token, checked for its length
    password = first_admin(db)
    if password is not None:
        err.print(
            "No users yet: created the admin 'admin'. Its password, shown once (change it with "
            "keepwise users reset-password admin):"
        )
        sys.stdout.write(password + "\n")
        sys.stdout.flush()
    os.environ[ENV_VAR] = db  # the app factory opens the store this names
    os.environ[HOST_ENV] = host
    where = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    err.print(f"keepwise dashboard for {redacted(db)} on {where} (sign-in required)")
    if token is not None:
        err.print("KEEPWISE_WEB_TOKEN / [web] token is deprecated: give scripts their own keepwise tokens")
    if not is_loopback(host):
        err.print(
            "Listening beyond this machine: serve it over HTTPS (a TLS proxy in front) so that passwords "
            "and session cookies never cross the network in clear."
        )
    uvicorn.run("keepwise.web:create_app_from_env", factory=True, host=host, port=port, log_level="warning")


def register(app: typer.Typer) -> None:
    """Add the command to the CLI."""
    app.command("serve")(serve)
