"""Options and output helpers shared by every command."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from keepwise.jsonio import default, dump
from keepwise.store.connection import DEFAULT_URL, ENV_VAR

DbOption = Annotated[
    str,
    typer.Option(
        "--db",
        envvar=ENV_VAR,
        help=f"Store URL (default {DEFAULT_URL}; or set {ENV_VAR}).",
        show_default=False,
    ),
]
JsonOption = Annotated[
    bool, typer.Option("--json", help="Print one JSON document on stdout and nothing else.")
]

#: Human-readable output and progress go to stderr so that stdout stays clean for --json.
err = Console(stderr=True)
out = Console()


def print_json(document: Any) -> None:
    """Print ``document`` as JSON on stdout (:func:`keepwise.jsonio.dump`: decimals as strings)."""
    dump(document, sys.stdout.write)  # in pieces: a review's document may list millions of customers
    sys.stdout.write("\n")


#: The JSON encoder's fallback under its old name (``commands/profit.py`` imports it; use keepwise.jsonio).
_default = default


@contextmanager
def statistical_warnings_on_stderr() -> Iterator[None]:
    """Show each :class:`~keepwise.exceptions.StatisticalWarning` raised inside as one loud line on stderr.

    A caveat about a result (a sample-ratio mismatch, a sampler that has not converged) must be seen, not
    lost in Python's ``file:line: Warning`` format; other warnings pass through unchanged.
    """
    from keepwise.exceptions import StatisticalWarning

    caught: list[warnings.WarningMessage] = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", StatisticalWarning)
            yield
    finally:  # also when the command ends by SystemExit or an error; outside the recording, so that the
        # other warnings passed on are not recorded again
        for w in caught:
            if issubclass(w.category, StatisticalWarning):
                err.print(f"[bold red]WARNING: {escape(str(w.message))}[/bold red]", soft_wrap=True)
            else:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
