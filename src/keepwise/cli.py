"""The ``keepwise`` command line.

Each command lives in its own module under :mod:`keepwise.commands` and defines ``register(app)``; this file
only lists them and turns errors into exit codes: 2 with one line on stderr for a user mistake, 1 for an
internal failure.
"""

from __future__ import annotations

import importlib
import sys

import typer

from keepwise.exceptions import BadInput, ConvergenceError, KeepwiseInputError

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
    "conjoint",
    "messages",
    "flows",
    "experiment",
    "uplift",
    "concession",
    "concessions",
    "outreach",
    "wins",
    "winback",
    "serve",
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


def error_line(exc: KeepwiseInputError | ConvergenceError) -> str:
    """The line :func:`main` prints for a user error (a :class:`BadInput` names its option, ``--field``)."""
    if isinstance(exc, BadInput):
        return f"error: {exc.phrased('--' + exc.field.replace('_', '-'))}"
    return f"error: {exc}"


def main() -> None:
    """Entry point of the ``keepwise`` script.

    Typer handles usage mistakes itself (exit code 2); keepwise's own input errors become one line on
    stderr and exit code 2 (a :class:`~keepwise.exceptions.BadInput` names its field as the option,
    ``--field-name``), and so does a model that does not converge on the data (its message says what
    to check: it is about the data, not a fault to report); anything else is an internal failure, reported
    in one line with exit code 1.
    """
    from keepwise.commands.common import statistical_warnings_on_stderr

    try:
        with statistical_warnings_on_stderr():  # a caveat about a result: one WARNING line, never a traceback
            app()
    except BadInput as exc:  # a value given to a stage: named as the option that gave it
        print(f"error: {exc.phrased('--' + exc.field.replace('_', '-'))}", file=sys.stderr)
        sys.exit(2)
    except (KeepwiseInputError, ConvergenceError) as exc:
        print(error_line(exc), file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        print(f"internal error: {type(exc).__name__}: {exc} (please report it)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
