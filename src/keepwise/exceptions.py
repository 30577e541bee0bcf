"""Every error and warning keepwise raises, in one place.

User mistakes (bad files, unknown tables, bad options) raise :class:`KeepwiseInputError`; the CLI turns it
into one line on stderr and exit code 2. Anything else is an internal failure (exit code 1).
"""

from __future__ import annotations


class KeepwiseError(Exception):
    """Base class of keepwise's own errors."""


class KeepwiseInputError(KeepwiseError):
    """The user gave keepwise something it cannot use; the message says what to fix, in one line."""


class LoadError(KeepwiseInputError):
    """A file or DataFrame failed validation; nothing was loaded.

    Parameters
    ----------
    source:
        The file name (or ``<dataframe>``) the bad value came from.
    row:
        1-based data row (the header is not counted), or ``None`` for a problem with the whole file.
    column:
        The column at fault, or ``None``.
    problem:
        What is wrong, in words.
    """

    def __init__(self, source: str, problem: str, row: int | None = None, column: str | None = None):
        self.source = source
        self.row = row
        self.column = column
        self.problem = problem
        where = source
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column '{column}'"
        super().__init__(f"{where}: {problem}")


class ConvergenceError(KeepwiseError):
    """The optimiser did not converge; the message lists, numbered, what to check."""


class StatisticalWarning(UserWarning):
    """A statistical caveat about a result (e.g. spend and frequency are correlated)."""
