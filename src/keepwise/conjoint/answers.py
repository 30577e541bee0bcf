"""Filled answer sheets joined to their design: the long format ``keepwise conjoint estimate`` reads.

``keepwise conjoint design`` writes ``design.csv`` (a row per offer of each task of each version, plus the
"none" row) and ``answers_template.csv`` (a row per respondent and task with an empty ``choice``: the number
of the offer chosen, the "none" row's number for none). Once the sheets are filled in, :func:`long_format`
gives one row per offer of each answered task with ``chosen`` 1 for the offer taken and 0 otherwise.

Levels stay exactly as the design wrote them: the design is read as text, so a level ``1`` of a study stays
``1`` (a spreadsheet or pandas reading a column that also holds the blank "none" row would make it ``1.0``).
Rows whose ``choice`` is blank (sheets not handed out, or a task left unanswered) are skipped and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from keepwise.conjoint.run import read_answers
from keepwise.exceptions import KeepwiseInputError

__all__ = ["LongAnswers", "long_format", "read_sheet"]

_KEYS = ("version", "task", "alternative")
_ANSWER_COLUMNS = ("respondent", "version", "task", "choice")


@dataclass(frozen=True)
class LongAnswers:
    """The answers in long format, and what was left out.

    Attributes
    ----------
    frame:
        ``respondent, version, task, alternative``, the attribute columns of the design (``none`` among them
        when the study has a none option) and ``chosen`` (0/1).
    attributes:
        The design's attribute columns, in its order (without ``none``).
    answered:
        Tasks answered (rows of the answers file with a choice).
    skipped:
        Rows of the answers file without a choice.
    """

    frame: pd.DataFrame
    attributes: tuple[str, ...]
    answered: int
    skipped: int


def read_sheet(path: Path, what: str) -> pd.DataFrame:
    """A CSV file read as text (blank cells stay empty strings); for a folder, ``what``.csv in it."""
    return read_answers(path / f"{what}.csv" if path.is_dir() else path, all_text=True)


def _whole(frame: pd.DataFrame, column: str, source: str) -> pd.Series:
    """``column`` as whole numbers; the first value that is not one names its row (header = row 1)."""
    values = pd.to_numeric(frame[column].str.strip(), errors="coerce")
    bad = values.isna() | (values % 1 != 0)
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise KeepwiseInputError(
            f"{source}, row {i + 2}, column '{column}': "
            f"expected a whole number, got {frame[column].iloc[i]!r}"
        )
    return values.astype("int64")


def long_format(
    design: pd.DataFrame,
    answers: pd.DataFrame,
    *,
    design_name: str = "design.csv",
    answers_name: str = "answers.csv",
) -> LongAnswers:
    """Join filled answer sheets to the design.

    Parameters
    ----------
    design:
        ``design.csv`` as text (:func:`read_sheet`): ``version``, ``task``, ``alternative``, the attributes
        and, with a none option, ``none``.
    answers:
        The filled ``answers_template.csv`` as text: ``respondent``, ``version``, ``task``, ``choice``.
    design_name, answers_name:
        The files' names for error messages.

    Raises
    ------
    KeepwiseInputError
        A column is missing, a number is not a whole number, a version or task is not in the design, a
        choice is not an offer of its task, or a respondent answered a task twice (each names the row of
        the answers file as a spreadsheet numbers it).
    """
    for columns, frame, name in ((_KEYS, design, design_name), (_ANSWER_COLUMNS, answers, answers_name)):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            have = ", ".join(frame.columns)
            raise KeepwiseInputError(f"{name}: no column '{missing[0]}' (columns: {have})")
    design = design.copy()
    for column in _KEYS:
        design[column] = _whole(design, column, design_name)
    attributes = tuple(c for c in design.columns if c not in (*_KEYS, "none"))
    filled = answers["choice"].str.strip() != ""
    given = answers[filled].copy()
    for column in ("version", "task", "choice"):
        given[column] = _whole(answers[filled], column, answers_name).to_numpy()
    given["respondent"] = given["respondent"].str.strip()
    offers: dict[tuple[int, int], set[int]] = {}
    for (version, task), alternative in zip(
        zip(design["version"], design["task"], strict=True), design["alternative"], strict=True
    ):
        offers.setdefault((int(version), int(task)), set()).add(int(alternative))
    rows = zip(given.index, given["version"], given["task"], given["choice"], strict=True)
    for i, version, task, choice in rows:
        where = f"{answers_name}, row {int(i) + 2}"
        key = (int(version), int(task))
        if key not in offers:
            raise KeepwiseInputError(f"{where}: version {key[0]}, task {key[1]} is not in {design_name}")
        if int(choice) not in offers[key]:
            choices = ", ".join(str(a) for a in sorted(offers[key]))
            raise KeepwiseInputError(
                f"{where}, column 'choice': {int(choice)} is not an offer of this task (offers: {choices})"
            )
    twice = given.duplicated(["respondent", "version", "task"])
    if twice.any():
        first = given[twice.to_numpy()].iloc[0]
        raise KeepwiseInputError(
            f"{answers_name}, row {int(first.name) + 2}: respondent {str(first['respondent'])!r} "  # type: ignore[call-overload]
            f"answered task {first['task']} of version {first['version']} twice"
        )
    long = given[["respondent", "version", "task", "choice"]].merge(design, on=["version", "task"])
    long["chosen"] = (long["alternative"] == long["choice"]).astype("int64")
    long = long.drop(columns="choice").sort_values(["respondent", "version", "task", "alternative"])
    return LongAnswers(long.reset_index(drop=True), attributes, int(filled.sum()), int((~filled).sum()))
