"""``keepwise users add|list|disable|enable|reset-password``: who may sign in to the dashboard, as what.

A new user gets a generated password, printed once on stdout (or the one read from ``--password-stdin``);
keepwise keeps only its argon2 hash. Disabling a user or giving them a new password ends their sessions at
once. Every change is written to the audit trail as ``cli:<the system user>``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape

from keepwise.commands.common import DbOption, JsonOption, err, out, print_json
from keepwise.store.connection import DEFAULT_URL, connect

__all__ = ["cli_actor", "read_password", "register"]

sub = typer.Typer(
    help="Users of the dashboard: add, list, disable, enable, reset a password.", no_args_is_help=True
)

RoleOption = Annotated[str, typer.Option("--role", help="admin, manager or rep.", show_default=False)]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from standard input instead of making one."),
]


def cli_actor() -> str:
    """Who a command's change is recorded as: ``cli:`` and the system user running it."""
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def read_password(from_stdin: bool) -> tuple[str, bool]:
    """The password to set and whether it was made here (so it must be shown once)."""
    from keepwise.store.team import generate_password

    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return generate_password(), True


def _show(password: str, made: bool, name: str) -> None:
    if made:
        err.print(f"Password of {escape(name)} (shown once; keepwise keeps only its hash):")
        sys.stdout.write(password + "\n")


@sub.command("add")
def add(
    name: Annotated[str, typer.Argument(help="Sign-in name (letters, digits, '.', '_', '-', '@').")],
    role: RoleOption,
    password_stdin: PasswordStdin = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Add a user; prints a generated password once (or reads one with --password-stdin)."""
    from keepwise.store import team

    password, made = read_password(password_stdin)
    store = connect(db)
    try:
        member = team.add_user(store, name, role, password, by=cli_actor())
    finally:
        store.disconnect()
    err.print(f"Added {escape(member.name)} as {member.role}.")
    _show(password, made, member.name)


@sub.command("list")
def list_(db: DbOption = DEFAULT_URL, json_: JsonOption = False) -> None:
    """List the users, their roles and whether they may sign in."""
    from keepwise.store import team

    store = connect(db)
    try:
        members = team.list_users(store)
    finally:
        store.disconnect()
    if json_:
        print_json({"users": [m.to_json() for m in members]})
        return
    if not members:
        out.print("No users yet: keepwise users add NAME --role admin (or start keepwise serve once).")
    for m in members:
        state = "active" if m.active else "disabled"
        out.print(f"{escape(m.name):<24} {m.role:<8} {state}")


@sub.command("disable")
def disable(name: Annotated[str, typer.Argument(help="The user.")], db: DbOption = DEFAULT_URL) -> None:
    """Disable a user: they cannot sign in and their sessions end now."""
    from keepwise.store import team

    store = connect(db)
    try:
        team.disable_user(store, name, by=cli_actor())
    finally:
        store.disconnect()
    err.print(f"Disabled {escape(name)}; their sessions have ended.")


@sub.command("enable")
def enable(name: Annotated[str, typer.Argument(help="The user.")], db: DbOption = DEFAULT_URL) -> None:
    """Let a disabled user sign in again."""
    from keepwise.store import team

    store = connect(db)
    try:
        team.enable_user(store, name, by=cli_actor())
    finally:
        store.disconnect()
    err.print(f"{escape(name)} may sign in again.")


@sub.command("reset-password")
def reset_password(
    name: Annotated[str, typer.Argument(help="The user.")],
    password_stdin: PasswordStdin = False,
    db: DbOption = DEFAULT_URL,
) -> None:
    """Give a user a new password (printed once, or read with --password-stdin); their sessions end."""
    from keepwise.store import team

    password, made = read_password(password_stdin)
    store = connect(db)
    try:
        team.set_password(store, name, password, by=cli_actor())
    finally:
        store.disconnect()
    err.print(f"New password for {escape(name)}; their sessions have ended.")
    _show(password, made, name)


def register(app: typer.Typer) -> None:
    """Add ``keepwise users`` to the CLI."""
    app.add_typer(sub, name="users")
