"""The ``keepwise`` command line.

Each command lives in its own module under :mod:`keepwise.commands` and defines ``register(app)``; this file
only lists them and turns errors into exit codes: 2 with one line on stderr for a user mistake, 1 for an
internal failure.
"""

from __future__ import annotations

import sys

import typer

from keepwise.commands import (
    backup,
    clv,
    concession,
    concessions,
    conjoint,
    experiment,
    fit,
    flows,
    imports,
    load,
    messages,
    outreach,
    profit,
    review,
    run,
    schema,
    serve,
    simulate,
    status,
    tokens,
    uplift,
    users,
    winback,
    wins,
)
from keepwise.exceptions import BadInput, ConvergenceError, KeepwiseInputError

#: The command modules, in the order ``keepwise --help`` lists them.
COMMANDS = (
    schema,
    load,
    imports,
    status,
    simulate,
    review,
    run,
    profit,
    fit,
    clv,
    conjoint,
    messages,
    flows,
    experiment,
    uplift,
    concession,
    concessions,
    outreach,
    wins,
    winback,
    serve,
    users,
    tokens,
    backup,
)

#: Their names under keepwise.commands.
COMMAND_MODULES: list[str] = [m.__name__.rsplit(".", 1)[1] for m in COMMANDS]

app = typer.Typer(
    name="keepwise",
    help="keepwise: keep your customers. Load your records, review them monthly, act on what you find.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


for _module in COMMANDS:
    _module.register(app)

#: The commands registered (all of :data:`COMMAND_MODULES`).
REGISTERED = list(COMMAND_MODULES)


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
    to check: it is about the data, not a fault to report); so does a date that the arguments pushed off
    the calendar (:func:`keepwise.arguments.calendar_overflow`); anything else is an internal failure,
    reported in one line with exit code 1.
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
        from keepwise.arguments import calendar_overflow

        too_far = calendar_overflow(exc)
        if too_far is not None:  # a date the arguments pushed off the calendar: the user's to change
            print(f"error: {too_far}", file=sys.stderr)
            sys.exit(2)
        first = str(exc).splitlines()[0] if str(exc) else ""
        print(f"internal error: {type(exc).__name__}: {first} (please report it)", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
