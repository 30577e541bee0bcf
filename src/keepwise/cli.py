"""The ``keepwise`` command line.

Each command lives in its own module under :mod:`keepwise.commands` and defines ``register(app)``; this file
only lists them and turns errors into exit codes: 2 with one line on stderr for a user mistake, 1 for an
internal failure.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from keepwise.exceptions import BadInput, ConvergenceError, KeepwiseInputError

#: Every command, in the order ``keepwise --help`` lists them: its module under keepwise.commands and the
#: first paragraph of its help, so that ``--help`` imports none of the command modules (a test compares the
#: text with each command's own help).
COMMAND_TABLE: dict[str, tuple[str, str]] = {
    "schema": ("schema", "Print the data contract: every table, its columns, types, keys and constraints."),
    "load": ("load", "Load CSV or Parquet files into the store."),
    "import": ("imports", "Import exports of the tools you use: orders, payments, staff time, tickets."),
    "status": (
        "status",
        "Show what the store holds: tables, rows, date ranges and customers, and the inputs it lacks.",
    ),
    "simulate": (
        "simulate",
        "Simulate a business with known truth and write it to a folder, ready for ``keepwise load DIR``.",
    ),
    "review": (
        "review",
        "Review one month: warning signs, customers lost and what it cost, retention; write the HTML report.",
    ),
    "run": ("run", "Run the monthly loop for one month, each step once, and record the run in the store."),
    "profit": (
        "profit",
        "Each customer's profit after cost of goods, staff time and concessions; tiers and the whale curve.",
    ),
    "fit": ("fit", "Fit a BTYD, spend or retention model and print its parameters with standard errors."),
    "clv": (
        "clv",
        "Customer lifetime value: discounted expected purchases x expected spend x margin, per customer.",
    ),
    "concession": (
        "concession",
        "Approve, refuse or counter a concession, with the figures and the reasons.",
    ),
    "wins": (
        "wins",
        "Reasons customers chose you (the wins table) against reasons they left (exits), by share.",
    ),
    "winback": (
        "winback",
        "Rank lost customers by the expected value of winning them back, with the offer and the reasons.",
    ),
    "serve": ("serve", "Serve the dashboard and the API for the store."),
    "backup": (
        "backup",
        "Write every table of the store to DIR as Parquet, with manifest.json (rows and SHA-256 digests).",
    ),
    "restore": (
        "backup",
        "Restore the backup in DIR into an empty store (--db), through the validated load; digests checked.",
    ),
    "conjoint": (
        "conjoint",
        "Choice-based conjoint: design tasks, estimate what each feature and each dollar is worth, simulate "
        "offers.",
    ),
    "messages": ("messages", "Compose, send and account for messages to customers."),
    "flows": ("flows", "Automated message flows (win-back, at-risk, incident follow-up, thanks)."),
    "experiment": (
        "experiment",
        "Randomised experiments: design one from the store, analyse it, or analyse any result file.",
    ),
    "uplift": (
        "uplift",
        "Uplift targeting: learn who an offer changes (T, X, DR learners) and plan offers.",
    ),
    "concessions": (
        "concessions",
        "The concession decision log: record what was done, read the trends.",
    ),
    "outreach": ("outreach", "Service levels by tier and this month's actions; record what was done."),
    "users": ("users", "Users of the dashboard: add, list, disable, enable, reset a password."),
    "tokens": ("tokens", "API tokens for scripts: create, list, revoke."),
}

#: The command modules under keepwise.commands (each defines ``register(app)``), in the order of the table.
COMMAND_MODULES: list[str] = list(dict.fromkeys(module for module, _ in COMMAND_TABLE.values()))


def _registered(module: str) -> dict[str, Any]:
    """The click commands that ``keepwise.commands.MODULE.register`` adds, by name (imports the module)."""
    sub = typer.Typer()
    importlib.import_module(f"keepwise.commands.{module}").register(sub)
    return dict(typer.main.get_group(sub).commands)


def _values_as_given() -> None:
    """Take a text given to a ``str`` or ``Path`` parameter (and a missing value) without Pydantic.

    Typer (0.29) coerces every parameter's value through a Pydantic ``TypeAdapter``, built when the value is
    first processed, even a missing one: importing Pydantic and building the adapters is about 0.1 s of CPU,
    a third of ``keepwise status``. For text given to a ``str`` parameter without a parser, or a ``bool``
    given as a ``bool``, that coercion returns the value unchanged; text given to a ``Path`` parameter becomes
    a ``Path`` and then meets the parameter's own checks (exists, file or folder) as before. Any other value
    goes Typer's way (the adapter is then built as before). With another Typer nothing changes.
    """
    from pathlib import Path

    try:
        from typer._coercion import RuntimeParam, build_runtime_param
        from typer._param_types import coerce_cli_path
        from typer.core import _TyperParameter
    except ImportError:  # pragma: no cover - another Typer
        return
    if getattr(_TyperParameter, "_keepwise_as_given", False):
        return

    class AsGiven(RuntimeParam):
        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if self.annotation in (str, bool) and type(value) is self.annotation:
                return value
            info = self.parameter_info
            if (
                self.annotation is Path
                and type(value) is str
                and info.path_type is None
                and not info.allow_dash
            ):
                path = Path(value)
                if str(path) == value:  # written as Path writes it: messages name it as given
                    return coerce_cli_path(path, info, path_type=Path, param=param, ctx=ctx)
            typers = build_runtime_param(param.type_descriptor)
            param._runtime_param = typers
            return typers._coerce_value(value, param=param, ctx=ctx)

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            described = self.type_descriptor
            if described.parameter_info.parser is None and described.file_annotation is None:
                self._runtime_param = AsGiven(
                    parameter_info=described.parameter_info, annotation=described.annotation
                )
            else:
                self._runtime_param = build_runtime_param(described)
        return self._runtime_param

    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]
    setattr(_TyperParameter, "_keepwise_as_given", True)  # noqa: B010


_values_as_given()


class Commands(TyperGroup):
    """keepwise's commands, each module imported only when its command runs or is asked for.

    ``keepwise status`` imports the status command alone (not the other 23 modules and what they import);
    ``keepwise --help`` lists the commands from :data:`COMMAND_TABLE` and imports none of them.
    """

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = {
            name: TyperCommand(name=name, help=text) for name, (_, text) in COMMAND_TABLE.items()
        }
        self._loaded: set[str] = set()
        self._listing = False

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        """The command ``cmd_name``, its module imported (while listing them for ``--help``: its summary)."""
        if cmd_name not in COMMAND_TABLE:
            return None
        if not self._listing and cmd_name not in self._loaded:
            module = COMMAND_TABLE[cmd_name][0]
            for name, command in _registered(module).items():
                self.commands[name] = command
                self._loaded.add(name)
        return self.commands[cmd_name]

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The group's help: the summaries of :data:`COMMAND_TABLE`, no command module imported."""
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def _root() -> None:
    """keepwise: keep your customers. Load your records, review them monthly, act on what you find."""


app = typer.Typer(
    name="keepwise",
    help="keepwise: keep your customers. Load your records, review them monthly, act on what you find.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=Commands,
    callback=_root,
)


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
    from keepwise._lazy import one_sql_compiler
    from keepwise.commands.common import statistical_warnings_on_stderr

    one_sql_compiler()  # Ibis imports the SQL compiler of the store's engine only, not all twenty
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
