"""From attribute levels to model columns (effects or dummy coding), and long-format choice data.

Categorical attributes are effects-coded by default: an attribute with levels ``l_1..l_L`` gets ``L - 1``
columns; level ``l_j`` (``j < L``) is the unit vector ``e_j`` and the last level is ``-1`` in every column, so
the level part-worths sum to zero (Louviere, Hensher and Swait 2000, *Stated Choice Methods*, section 4.2).
Dummy coding makes the first level the reference (all zeros). Numeric attributes (the price) enter linearly.
An empty value codes as all zeros: the "none of these" row has no plan, no support level, no price.

Long format is one row per alternative of each task, with a task id, an alternative id, a 0/1 choice column
(exactly one 1 per task) and one column per attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from keepwise.conjoint.study import Study, level_text
from keepwise.exceptions import KeepwiseInputError

__all__ = ["AttributeCoding", "ChoiceData", "Coding", "choice_data", "level_text"]

CodingKind = Literal["effects", "dummy"]


@dataclass(frozen=True)
class AttributeCoding:
    """How one attribute becomes model columns.

    ``levels`` are the categorical labels (empty for a numeric attribute); ``values`` are the numeric levels
    seen in the data or the study (used to zero-centre and to show the price range).
    """

    name: str
    numeric: bool
    levels: tuple[str, ...] = ()
    values: tuple[float, ...] = ()
    kind: CodingKind = "effects"

    @property
    def columns(self) -> list[str]:
        """Names of the model columns of this attribute."""
        if self.numeric:
            return [self.name]
        kept = self.levels[:-1] if self.kind == "effects" else self.levels[1:]
        return [f"{self.name}[{level}]" for level in kept]

    def lookup(self) -> np.ndarray:
        """Coded rows of the levels in order, plus a final all-zero row for an empty value."""
        n = len(self.levels)
        if self.kind == "effects":
            table = np.vstack([np.eye(n - 1), -np.ones((1, n - 1))])
        else:
            table = np.vstack([np.zeros((1, n - 1)), np.eye(n - 1)])
        return np.vstack([table, np.zeros((1, n - 1))])


@dataclass(frozen=True)
class Coding:
    """The coding of every attribute; ``none`` names the 0/1 "none of these" column, if any."""

    attributes: tuple[AttributeCoding, ...]
    none: str | None = None
    price: str | None = None

    @property
    def names(self) -> list[str]:
        """Model column (coefficient) names, in order."""
        return [c for a in self.attributes for c in a.columns]

    @property
    def slices(self) -> dict[str, slice]:
        """Coefficient positions of each attribute."""
        out, start = {}, 0
        for a in self.attributes:
            out[a.name] = slice(start, start + len(a.columns))
            start += len(a.columns)
        return out

    def attribute(self, name: str) -> AttributeCoding:
        """The coding of attribute ``name``."""
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeepwiseInputError(
            f"unknown attribute '{name}' (attributes: {[a.name for a in self.attributes]})"
        )

    @classmethod
    def from_study(cls, study: Study, kind: CodingKind = "effects") -> Coding:
        """Effects- (or dummy-) coded categorical attributes, linear price, and a ``none`` column if asked."""
        attributes = [
            AttributeCoding(a.name, True, values=tuple(float(v) for v in a.levels))
            if a.numeric
            else AttributeCoding(a.name, False, levels=tuple(str(v) for v in a.levels), kind=kind)
            for a in study.attributes
        ]
        none = None
        if study.none_option:
            none = "none"
            attributes.append(AttributeCoding(none, True, values=(0.0, 1.0)))
        return cls(tuple(attributes), none=none, price=study.price)

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        attributes: Sequence[str],
        kind: CodingKind = "effects",
        categorical: Sequence[str] = (),
        price: str | None = None,
        none: str | None = None,
        source: str = "<data>",
    ) -> Coding:
        """Infer the coding from a long-format frame: numeric columns are linear, the rest categorical.

        Categorical levels are taken in sorted order, so the last (effects) or first (dummy) level is the one
        without a column of its own. The levels of numeric attributes are read from the offers only: the
        "none of these" rows (``none`` = 1), whose price is empty or 0, do not count as a price level (they
        would otherwise widen the price range, and with it the price's importance).
        """
        for name in attributes:
            if name not in frame.columns:
                raise KeepwiseInputError(f"{source}: no column '{name}' (columns: {list(frame.columns)})")
        offers = frame
        if none is not None and none in frame.columns:
            offers = frame[pd.to_numeric(frame[none], errors="coerce").fillna(0).to_numpy() != 1]
        coded = []
        for name in attributes:
            column = offers[name] if name != none else frame[name]
            if name not in categorical and pd.api.types.is_numeric_dtype(column):
                if pd.api.types.is_bool_dtype(column):
                    column = column.astype(float)
                values = np.unique(column.to_numpy(dtype=float))
                values = values[~np.isnan(values)]
                coded.append(AttributeCoding(name, True, values=tuple(values.tolist())))
            else:
                labels = column.dropna().map(level_text)
                levels = sorted(set(labels[labels != ""].tolist()))
                if len(levels) < 2:
                    raise KeepwiseInputError(
                        f"{source}, column '{name}': a categorical attribute needs two levels"
                    )
                coded.append(AttributeCoding(name, False, levels=tuple(levels), kind=kind))
        for role, value in (("price", price), ("none", none)):
            if value is not None and value not in attributes:
                raise KeepwiseInputError(
                    f"{source}: the {role} column '{value}' must be one of the attributes"
                )
        return cls(tuple(coded), none=none, price=price)

    def encode(self, frame: pd.DataFrame, source: str = "<data>") -> np.ndarray:
        """Model matrix (rows of ``frame`` x :attr:`names`); a bad value names its row and column."""
        blocks = []
        for a in self.attributes:
            if a.name not in frame.columns:
                raise KeepwiseInputError(f"{source}: no column '{a.name}'")
            column = frame[a.name]
            if a.numeric:
                values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
                if self.none is not None and self.none in frame.columns and a.name != self.none:
                    # the "none of these" row has no level: an empty numeric cell there codes as 0
                    is_none = pd.to_numeric(frame[self.none], errors="coerce").to_numpy(dtype=float) == 1
                    blank = column.isna().to_numpy() | (column.astype("string").str.strip() == "").to_numpy()
                    values = np.where(is_none & blank, 0.0, values)
                bad = np.flatnonzero(~np.isfinite(values))
                if bad.size:
                    row = _row(frame, bad[0])
                    raise KeepwiseInputError(
                        f"{source}, row {row}, column '{a.name}': "
                        f"expected a number, got {column.iloc[bad[0]]!r}"
                    )
                blocks.append(values[:, None])
            else:
                labels = column.map(level_text, na_action="ignore").astype("string").fillna("")
                codes = pd.Categorical(labels, categories=[*a.levels, ""]).codes
                bad = np.flatnonzero(codes < 0)
                if bad.size:
                    raise KeepwiseInputError(
                        f"{source}, row {_row(frame, bad[0])}, column '{a.name}': "
                        f"unknown level {labels.iloc[bad[0]]!r} (levels: {list(a.levels)})"
                    )
                blocks.append(a.lookup()[codes])
        return np.hstack(blocks) if blocks else np.zeros((len(frame), 0))

    def level_vector(self, attribute: str, level: Any) -> np.ndarray:
        """Coefficient-space vector of one attribute level (zero elsewhere): ``utility = vector @ beta``."""
        vector = np.zeros(len(self.names))
        a = self.attribute(attribute)
        where = self.slices[attribute]
        if a.numeric:
            vector[where] = float(level)
        else:
            if level_text(level) not in a.levels:
                raise KeepwiseInputError(
                    f"'{level}' is not a level of '{attribute}' (levels: {list(a.levels)})"
                )
            vector[where] = a.lookup()[a.levels.index(level_text(level))]
        return vector

    def profile_vector(self, offer: dict[str, Any]) -> np.ndarray:
        """Coefficient-space vector of a whole offer ``{attribute: level}`` (missing attributes are zero)."""
        vector = np.zeros(len(self.names))
        for name, level in offer.items():
            if name == self.none:
                continue
            vector += self.level_vector(name, level)
        return vector


def _show(value: Any) -> Any:
    """A numpy scalar as the plain Python value, so messages read ``task 2`` and not ``np.int64(2)``."""
    return value.item() if isinstance(value, np.generic) else value


def _row(frame: pd.DataFrame, position: int) -> int:
    """1-based data row of a position in ``frame`` (its index, when it is the file's row numbering)."""
    label = frame.index[position]
    return int(label) + 1 if isinstance(label, int | np.integer) else position + 1


@dataclass(frozen=True)
class ChoiceData:
    """Choice data ready for estimation: rows sorted so that each task's alternatives are contiguous.

    Attributes
    ----------
    X:
        Model matrix, one row per alternative.
    starts:
        Index of the first row of each task (``np.add.reduceat`` offsets).
    chosen:
        Row index of the chosen alternative of each task.
    tasks:
        Task id of each task (as in the file).
    respondent:
        Respondent number (0..R-1) of each task, or ``None``.
    names:
        Column names of ``X``.
    """

    X: np.ndarray
    starts: np.ndarray
    chosen: np.ndarray
    tasks: np.ndarray
    names: list[str]
    respondent: np.ndarray | None = None
    respondents: np.ndarray | None = None

    @property
    def n_tasks(self) -> int:
        """Number of choice tasks."""
        return len(self.starts)

    @property
    def sizes(self) -> np.ndarray:
        """Alternatives per task."""
        return np.diff(np.append(self.starts, len(self.X)))


def choice_data(
    frame: pd.DataFrame,
    coding: Coding,
    task: str,
    alternative: str,
    choice: str,
    respondent: str | None = None,
    source: str = "<data>",
) -> ChoiceData:
    """Validate a long-format frame and turn it into :class:`ChoiceData`.

    Each task needs at least two alternatives, distinct alternative ids and exactly one row with choice 1
    (the others 0). With ``respondent``, a task belongs to one respondent (ids may repeat across respondents:
    the task key is then ``(respondent, task)``).
    """
    for role, name in (
        ("task", task),
        ("alternative", alternative),
        ("choice", choice),
        ("respondent", respondent),
    ):
        if name is not None and name not in frame.columns:
            raise KeepwiseInputError(f"{source}: no {role} column '{name}' (columns: {list(frame.columns)})")
    if len(frame) == 0:
        raise KeepwiseInputError(f"{source}: no rows")
    keys = [respondent, task] if respondent is not None else [task]
    for name in [*keys, alternative, choice]:
        missing = np.flatnonzero(frame[name].isna().to_numpy())
        if missing.size:
            raise KeepwiseInputError(f"{source}, row {_row(frame, missing[0])}, column '{name}': empty value")
    y = pd.to_numeric(frame[choice], errors="coerce").to_numpy(dtype=float)
    bad = np.flatnonzero((y != 0) & (y != 1))
    if bad.size:
        raise KeepwiseInputError(
            f"{source}, row {_row(frame, bad[0])}, column '{choice}': "
            f"choice must be 1 (chosen) or 0, got {frame[choice].iloc[bad[0]]!r}"
        )
    group = frame.groupby(keys, sort=True, observed=True).ngroup().to_numpy()
    order = np.argsort(group, kind="stable")
    group = group[order]
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.append(starts, len(group)))
    y = y[order]
    n_chosen = np.add.reduceat(y, starts)
    wrong = np.flatnonzero(n_chosen != 1)
    if wrong.size:
        first = int(order[starts[wrong[0]]])
        raise KeepwiseInputError(
            f"{source}, row {_row(frame, first)}, column '{choice}': task "
            f"{_show(frame[task].iloc[first])!r} has {int(n_chosen[wrong[0]])} chosen alternatives; "
            "exactly one must be 1"
        )
    single = np.flatnonzero(sizes < 2)
    if single.size:
        first = int(order[starts[single[0]]])
        raise KeepwiseInputError(
            f"{source}, row {_row(frame, first)}, column '{task}': task {_show(frame[task].iloc[first])!r} "
            "has only one alternative"
        )
    alt_key = frame[alternative].to_numpy()[order]
    dup = pd.DataFrame({"task": group, "alternative": alt_key}).duplicated().to_numpy()
    if dup.any():
        position = int(order[np.flatnonzero(dup)[0]])
        raise KeepwiseInputError(
            f"{source}, row {_row(frame, position)}, column '{alternative}': "
            f"alternative {_show(frame[alternative].iloc[position])!r} appears twice in its task"
        )
    X = coding.encode(frame, source)[order]
    first_rows = order[starts]
    resp_index = None
    resp_ids = None
    if respondent is not None:
        resp_ids, resp_index = np.unique(frame[respondent].to_numpy()[first_rows], return_inverse=True)
    return ChoiceData(
        X=np.ascontiguousarray(X),
        starts=starts,
        chosen=np.flatnonzero(y),
        tasks=frame[task].to_numpy()[first_rows],
        names=coding.names,
        respondent=resp_index,
        respondents=resp_ids,
    )
