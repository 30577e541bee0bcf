"""The ``keepwise`` command line.

Each command lives in its own module under :mod:`keepwise.commands` and defines ``register(app)``; this file
only lists them and turns errors into exit codes: 2 with one line on stderr for a user mistake, 1 for an
internal failure.
"""

from __future__ import annotations

import importlib
import sys

import typer

from keepwise.exceptions import KeepwiseInputError

#: Command modules under keepwise.commands, in the order ``keepwise --help`` lists them.
COMMAND_MODULES: list[str] = [
    "schema",
    "load",
    "status",
    "simulate",
    "review",
    "profit",
    "fit",
    "clv",
]

app = typer.Typer(
    name="keepwise",
    help="keepwise: keep your customers. Load your records, review them monthly, act on what you find.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register(name: str) -> bool:
    """Register one command module; False if it is not there (tests/test_cli.py insists that all are)."""
    module = f"keepwise.commands.{name}"
    try:
        importlib.import_module(module).register(app)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return False
    return True


REGISTERED = [name for name in COMMAND_MODULES if _register(name)]


def main() -> None:
    """Entry point of the ``keepwise`` script."""
    try:
        app(standalone_mode=False)
    except KeepwiseInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except (typer.Abort, KeyboardInterrupt):
        print("aborted", file=sys.stderr)
        sys.exit(1)
    except SystemExit:
        raise
    except Exception as exc:  # the only place a traceback-free internal failure is reported
        import click

        if isinstance(exc, click.exceptions.UsageError):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        print(f"internal error: {type(exc).__name__}: {exc} (please report it)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
