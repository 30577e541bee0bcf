"""``keepwise tokens create|list|revoke``: API tokens for scripts, each with a role.

A token is printed once on stdout when it is made; keepwise keeps only its SHA-256. Scripts send it as
``Authorization: Bearer <token>``. Every change is written to the audit trail.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.commands.users import cli_actor
from keepwise.store.connection import DEFAULT_URL, connect

__all__ = ["register"]

sub = typer.Typer(help="API tokens for scripts: create, list, revoke.", no_args_is_help=True)


@sub.command("create")
def create(
    role: Annotated[str, typer.Option("--role", help="admin, manager or rep.", show_default=False)],
    name: Annotated[str, typer.Option("--name", help="What it is for (nightly-export).", show_default=False)],
    db: DbOption = DEFAULT_URL,
    json_: JsonOption = False,
) -> None:
    """Make a token; prints it once (send it as Authorization: Bearer TOKEN)."""
    from keepwise.store import team

    store = connect(db)
    try:
        info, secret = team.create_token(store, name, role, by=cli_actor())
    finally:
        store.disconnect()
    if json_:
        print_json({**info.to_json(), "token": secret})
        return
    err.print(
        f"Token {info.token_id} ({escape(info.name)}, {info.role}), shown once; keepwise keeps only its hash:"
    )
    sys.stdout.write(secret + "\n")


@sub.command("list")
def list_(db: DbOption = DEFAULT_URL, json_: JsonOption = False) -> None:
    """List the tokens (never the tokens themselves), revoked ones too."""
    from keepwise.store import team

    store = connect(db)
    try:
        tokens = team.list_tokens(store)
    finally:
        store.disconnect()
    if json_:
        print_json({"tokens": [t.to_json() for t in tokens]})
        return
    if not tokens:
        out.print("No tokens yet: keepwise tokens create --role manager --name NAME")
    for t in tokens:
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "valid"
        out.print(f"{t.token_id:<12} {escape(t.name):<24} {t.role:<8} {state}")


@sub.command("revoke")
def revoke(
    token: Annotated[str, typer.Argument(help="The token's id (keepwise tokens list), or its name.")],
    db: DbOption = DEFAULT_URL,
) -> None:
    """Revoke a token: requests with it are refused from now on."""
    from keepwise.store import team

    store = connect(db)
    try:
        info = team.revoke_token(store, token, by=cli_actor())
    finally:
        store.disconnect()
    err.print(f"Revoked {info.token_id} ({escape(info.name)}).")


def register(app: typer.Typer) -> None:
    """Add ``keepwise tokens`` to the CLI."""
    app.add_typer(sub, name="tokens")
