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
        The row as the user numbers it: in a CSV file the header is row 1, so the first data row is row 2; in
        Parquet or a DataFrame the first row is row 1. ``None`` for a problem with the whole file.
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


class BadInput(KeepwiseInputError):
    """A value given to a stage is unusable: raised below the CLI and the web, phrased by each for its users.

    Parameters
    ----------
    field:
        The argument at fault, by its name in the Python API (``cost``, ``month``); the CLI shows it as
        an option (``--cost``), the web as the query or form field.
    problem:
        What is wrong, in words, without naming the field (``must be a positive amount``).
    value:
        The value given, when it helps to repeat it.
    """

    def __init__(self, field: str, problem: str, value: object = None):
        self.field = field
        self.problem = problem
        self.value = value
        shown = f" (got {value!r})" if value is not None else ""
        super().__init__(f"{field}: {problem}{shown}")

    def phrased(self, name: str) -> str:
        """The message with the field called ``name``: ``--cost`` on the command line, ``cost`` on the web."""
        shown = f" (got {self.value!r})" if self.value is not None else ""
        return f"{name}: {self.problem}{shown}"
