r"""Choice designs: balanced overlap and D-efficient search, D-error, level balance, questionnaires.

A design is an integer array ``levels[version, task, alternative, attribute]`` of level indices. Each
respondent answers one version.

*Balanced overlap* (the Sawtooth Software default; Chrzan and Orme 2000, "An overview and comparison of design
strategies for choice-based conjoint analysis") fills every attribute column of a version with its levels
equally often, shuffles them, and then swaps entries within a column (which keeps the balance exact) to remove
prohibited offers and identical alternatives and to keep a level from appearing more than
``ceil(J / L) + 1`` times in one task: some overlap is allowed, which helps estimate interactions and keeps
tasks realistic.

*D-efficient* search starts from a balanced-overlap design and keeps any swap within a column that lowers the
D-error without creating a prohibited offer or a repeated alternative (the swapping step of Huber and Zwerina
1996, "The importance of utility balance in efficient choice designs"). The D-error is

.. math:: D = \det\Big(\frac{1}{V}\sum_{v,t} X_{vt}'(\mathrm{diag}(p_{vt}) - p_{vt}p_{vt}')X_{vt}\Big)^{-1/K},

the information of one respondent's questionnaire averaged over versions, with choice probabilities ``p`` at
the prior part-worths (zero by default, so ``p = 1/J``), categorical attributes effects-coded and the price
scaled to ``[-1, 1]``; the "none" option is left out. Lower is better.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment

from keepwise.conjoint.study import Study
from keepwise.conjoint.terms import number_text
from keepwise.exceptions import BadInput, KeepwiseInputError
from keepwise.exports import write_csv

__all__ = [
    "Design",
    "balanced_overlap",
    "d_efficient",
    "design_matrix",
    "random_design",
]


def _lookups(study: Study) -> list[np.ndarray]:
    """Per attribute, the coded rows of its levels: effects coding, or the price scaled to [-1, 1]."""
    tables = []
    for a in study.attributes:
        if a.numeric:
            values = np.asarray(a.levels, dtype=float)
            mid, half = (values.max() + values.min()) / 2, (values.max() - values.min()) / 2
            tables.append(((values - mid) / half)[:, None])
        else:
            n = a.n_levels
            tables.append(np.vstack([np.eye(n - 1), -np.ones((1, n - 1))]))
    return tables


def design_matrix(study: Study, levels: np.ndarray) -> np.ndarray:
    """Coded design: ``levels[..., attribute]`` -> ``X[..., K]`` (effects coding, price in [-1, 1])."""
    tables = _lookups(study)
    return np.concatenate([t[levels[..., a]] for a, t in enumerate(tables)], axis=-1)


def _task_information(X: np.ndarray, beta: np.ndarray | None) -> np.ndarray:
    """Information ``X'(diag p - p p')X`` of each task; X is ``(..., J, K)``, result ``(..., K, K)``."""
    if beta is None:
        p = np.full(X.shape[:-1], 1.0 / X.shape[-2])
    else:
        v = X @ beta
        v -= v.max(axis=-1, keepdims=True)
        p = np.exp(v)
        p /= p.sum(axis=-1, keepdims=True)
    xbar = np.einsum("...j,...jk->...k", p, X)
    centred = X - xbar[..., None, :]
    return np.einsum("...j,...jk,...jl->...kl", p, centred, centred)


def _d_error_of(info_sum: np.ndarray, n_versions: int) -> float:
    sign, logdet = np.linalg.slogdet(info_sum / n_versions)
    if sign <= 0:
        return math.inf
    return float(np.exp(-logdet / info_sum.shape[0]))


@dataclass
class Design:
    """A choice design for a study.

    Attributes
    ----------
    study:
        The study the design belongs to.
    levels:
        Level indices, shape ``(versions, tasks, alternatives, attributes)``.
    method:
        ``"balanced overlap"``, ``"d-efficient"`` or ``"random"``.
    """

    study: Study
    levels: np.ndarray
    method: str

    @property
    def n_versions(self) -> int:
        """Number of versions."""
        return int(self.levels.shape[0])

    @property
    def n_tasks(self) -> int:
        """Tasks per version."""
        return int(self.levels.shape[1])

    def d_error(self, beta: np.ndarray | None = None) -> float:
        """D-error of the design at the prior part-worths ``beta`` (zero by default); see the module docs."""
        info = _task_information(design_matrix(self.study, self.levels), beta)
        return _d_error_of(info.sum(axis=(0, 1)), self.n_versions)

    def level_counts(self) -> dict[str, dict[str, int]]:
        """How often each level of each attribute is shown, over all versions."""
        out = {}
        for a, attribute in enumerate(self.study.attributes):
            counts = np.bincount(self.levels[..., a].ravel(), minlength=attribute.n_levels)
            out[attribute.name] = {
                _label(level): int(c) for level, c in zip(attribute.levels, counts, strict=True)
            }
        return out

    def level_balance(self) -> dict[str, float]:
        """Per attribute, fewest over most appearances of a level in a version (1.0 = perfectly balanced)."""
        out = {}
        for a, attribute in enumerate(self.study.attributes):
            ratios = []
            for v in range(self.n_versions):
                counts = np.bincount(self.levels[v, ..., a].ravel(), minlength=attribute.n_levels)
                ratios.append(counts.min() / counts.max())
            out[attribute.name] = float(min(ratios))
        return out

    def n_prohibited(self) -> int:
        """Number of alternatives that are prohibited offers (zero for the designs built here)."""
        return int(self.study.prohibited(self.levels).sum())

    def n_repeated_alternatives(self) -> int:
        """Number of tasks that show the same offer twice."""
        return int(_duplicates(self.levels).sum())

    def overlap(self) -> float:
        """Share of (task, attribute) pairs in which some level appears more than once."""
        J = self.levels.shape[2]
        sorted_levels = np.sort(self.levels, axis=2)
        repeated = (np.diff(sorted_levels, axis=2) == 0).any(axis=2) if J > 1 else np.zeros(1, dtype=bool)
        return float(repeated.mean())

    def report(self) -> dict[str, Any]:
        """What to judge a design by: D-error, level balance, overlap, prohibited and repeated offers."""
        return {
            "method": self.method,
            "versions": self.n_versions,
            "tasks": self.n_tasks,
            "alternatives": int(self.levels.shape[2]),
            "none_option": self.study.none_option,
            "d_error": self.d_error(),
            "level_balance": self.level_balance(),
            "level_counts": self.level_counts(),
            "overlap": self.overlap(),
            "prohibited_offers": self.n_prohibited(),
            "repeated_offers": self.n_repeated_alternatives(),
        }

    def to_frame(self) -> pd.DataFrame:
        """Long format, a row per alternative (and the "none" row): version, task, alternative, attributes."""
        V, T, J, _ = self.levels.shape
        rows = []
        for v in range(V):
            for t in range(T):
                for j in range(J):
                    row: dict[str, Any] = {"version": v + 1, "task": t + 1, "alternative": j + 1}
                    row.update(self.study.profile_labels(self.levels[v, t, j]))
                    if self.study.none_option:
                        row["none"] = 0
                    rows.append(row)
                if self.study.none_option:
                    none_row: dict[str, Any] = {"version": v + 1, "task": t + 1, "alternative": J + 1}
                    for a in self.study.attributes:
                        none_row[a.name] = 0.0 if a.numeric else ""
                    none_row["none"] = 1
                    rows.append(none_row)
        return pd.DataFrame(rows)

    def written_frame(self) -> pd.DataFrame:
        """:meth:`to_frame` with every level as the study writes it (text): price ``49``, never ``49.0``.

        What ``design.csv`` holds, so the levels come back as written whatever reads the file.
        """
        frame = self.to_frame()
        for a in self.study.attributes:
            if a.numeric:
                frame[a.name] = frame[a.name].map(number_text)
        return frame

    def answers_template(self, respondents_per_version: int = 1) -> pd.DataFrame:
        """Answer sheet: respondent, version, task, an empty ``choice`` (alternative number; none = J+1)."""
        rows = [
            {"respondent": f"R{v + 1}-{r + 1}", "version": v + 1, "task": t + 1, "choice": ""}
            for v in range(self.n_versions)
            for r in range(respondents_per_version)
            for t in range(self.n_tasks)
        ]
        return pd.DataFrame(rows)

    def answers_to_long(self, answers: pd.DataFrame, source: str = "answers") -> pd.DataFrame:
        """Join filled answer sheets to the design: long format with respondent, task, alternative, chosen."""
        for column in ("respondent", "version", "task", "choice"):
            if column not in answers.columns:
                raise KeepwiseInputError(f"{source}: no column '{column}'")
        J = self.levels.shape[2] + int(self.study.none_option)
        for column, high in (("version", self.n_versions), ("task", self.n_tasks), ("choice", J)):
            values = pd.to_numeric(answers[column], errors="coerce")
            bad = np.flatnonzero(~values.between(1, high).to_numpy() | (values % 1 != 0).to_numpy())
            if bad.size:
                raise KeepwiseInputError(
                    f"{source}, row {bad[0] + 1}, column '{column}': "
                    f"expected a whole number from 1 to {high}, "
                    f"got {answers[column].iloc[bad[0]]!r}"
                )
        design = self.to_frame()
        a = answers[["respondent", "version", "task", "choice"]].astype({"version": int, "task": int})
        a = a.assign(choice=a["choice"].astype(int))
        long = a.merge(design, on=["version", "task"], how="left")
        long["chosen"] = (long["alternative"] == long["choice"]).astype(int)
        return long.drop(columns="choice")

    def questionnaire_html(self) -> str:
        """A printable HTML questionnaire, one section per version (page break between versions)."""
        versions = []
        labels = [a.name for a in self.study.attributes]
        for v in range(self.n_versions):
            tasks = []
            for t in range(self.n_tasks):
                options = [
                    [_display(self.study, a, self.levels[v, t, j, a]) for a in range(len(labels))]
                    for j in range(self.levels.shape[2])
                ]
                tasks.append(options)
            versions.append(tasks)
        return _TEMPLATE.render(study=self.study, labels=labels, versions=versions)

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write design.csv, answers_template.csv, questionnaire.html and design.json into ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "design": out / "design.csv",
            "answers_template": out / "answers_template.csv",
            "questionnaire": out / "questionnaire.html",
            "report": out / "design.json",
        }
        write_csv(self.written_frame(), paths["design"])
        write_csv(self.answers_template(), paths["answers_template"])
        paths["questionnaire"].write_text(self.questionnaire_html(), encoding="utf-8")
        paths["report"].write_text(json.dumps(self.report(), indent=2) + "\n", encoding="utf-8")
        return paths


def _label(level: Any) -> str:
    return f"{level:g}" if isinstance(level, float) else str(level)


def _display(study: Study, a: int, index: int) -> str:
    attribute = study.attributes[a]
    level = attribute.levels[int(index)]
    if attribute.numeric and attribute.name == study.price:
        return f"{level:,.2f} {study.currency}"
    return _label(level)


_TEMPLATE = Environment(autoescape=True).from_string(
    """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ study.name }}</title>
<style>
body { font-family: sans-serif; margin: 2em; }
section.version { page-break-after: always; }
table { border-collapse: collapse; margin: 1em 0 2em; }
th, td { border: 1px solid #888; padding: .4em .8em; text-align: center; }
th[scope=row] { text-align: left; background: #f3f3f3; }
</style></head><body>
{% for tasks in versions %}{% set v = loop.index %}
<section class="version" id="version-{{ v }}">
<h1>{{ study.name }} (version {{ v }})</h1>
<p>In each question, tick the offer you would choose{% if study.none_option %}, or "{{ study.none_label }}"{%
 endif %}.</p>
{% for options in tasks %}
<h2>Question {{ loop.index }}</h2>
<table class="task" data-version="{{ v }}" data-task="{{ loop.index }}">
<tr><th></th>{% for o in options %}<th scope="col">Offer {{ loop.index }}</th>{% endfor %}{%
 if study.none_option %}<th scope="col"></th>{% endif %}</tr>
{% for label in labels %}{% set a = loop.index0 %}<tr><th scope="row">{{ label }}</th>{%
 for o in options %}<td>{{ o[a] }}</td>{% endfor %}{% if study.none_option %}<td></td>{% endif %}</tr>
{% endfor %}<tr><th scope="row">Your choice</th>{% for o in options %}<td>&#9744;</td>{% endfor %}{%
 if study.none_option %}<td>&#9744; {{ study.none_label }}</td>{% endif %}</tr>
</table>
{% endfor %}
</section>
{% endfor %}
</body></html>
"""
)


# ---- construction -------------------------------------------------------------------------------------
def _check_size(study: Study, tasks: int, versions: int, alternatives: int | None) -> int:
    J = alternatives or study.alternatives_per_task
    if tasks < 1 or versions < 1:
        raise BadInput(
            "tasks" if tasks < 1 else "versions",
            f"tasks and versions must be at least 1, got {tasks} and {versions}",
        )
    if J < 2:
        raise KeepwiseInputError(f"a task needs at least two alternatives, got {J}")
    n_params = int(sum(1 if a.numeric else a.n_levels - 1 for a in study.attributes))
    if tasks * (J - 1) < n_params:
        raise KeepwiseInputError(
            f"{tasks} tasks of {J} alternatives cannot identify {n_params} part-worths per respondent: "
            f"use at least {math.ceil(n_params / (J - 1))} tasks"
        )
    return J


def _duplicates(levels: np.ndarray) -> np.ndarray:
    """Per task, whether two alternatives are the same offer; levels ``(..., J, A)`` -> ``(...)``."""
    J = levels.shape[-2]
    same = np.zeros(levels.shape[:-2], dtype=bool)
    for i in range(J):
        for j in range(i + 1, J):
            same |= (levels[..., i, :] == levels[..., j, :]).all(axis=-1)
    return same


def _task_penalty(study: Study, task: np.ndarray, max_repeat: np.ndarray) -> float:
    """Badness of one task ``(J, A)``: prohibited offers, repeated offers, excess level overlap."""
    bad = 1000.0 * study.prohibited(task).sum() + 1000.0 * float(_duplicates(task))
    for a in range(task.shape[1]):
        counts = np.bincount(task[:, a])
        bad += float(np.clip(counts - max_repeat[a], 0, None).sum())
    return bad


def _balanced_version(study: Study, T: int, J: int, rng: np.random.Generator) -> np.ndarray:
    A = len(study.attributes)
    levels = np.empty((T * J, A), dtype=np.int64)
    for a, n in enumerate(study.n_levels):
        reps, rest = divmod(T * J, int(n))
        column = np.concatenate([np.repeat(np.arange(n), reps), rng.choice(n, rest, replace=False)])
        levels[:, a] = rng.permutation(column)
    return levels.reshape(T, J, A)


def _repair(study: Study, version: np.ndarray, rng: np.random.Generator, max_sweeps: int = 200) -> bool:
    """Swap within attribute columns until no task has a penalty; False if that fails."""
    T, J, A = version.shape
    max_repeat = np.array([math.ceil(J / n) + 1 for n in study.n_levels])
    penalty = np.array([_task_penalty(study, version[t], max_repeat) for t in range(T)])
    for _ in range(max_sweeps):
        bad_tasks = np.flatnonzero(penalty > 0)
        if bad_tasks.size == 0:
            return True
        for t in bad_tasks:
            if penalty[t] == 0:
                continue
            j, a = rng.integers(J), rng.integers(A)
            t2, j2 = rng.integers(T), rng.integers(J)
            if t2 == t and j2 == j:
                continue
            before = penalty[t] + (penalty[t2] if t2 != t else 0.0)
            version[t, j, a], version[t2, j2, a] = version[t2, j2, a], version[t, j, a]
            new_t = _task_penalty(study, version[t], max_repeat)
            new_t2 = _task_penalty(study, version[t2], max_repeat) if t2 != t else 0.0
            if new_t + new_t2 <= before:
                penalty[t] = new_t
                if t2 != t:
                    penalty[t2] = new_t2
            else:
                version[t, j, a], version[t2, j2, a] = version[t2, j2, a], version[t, j, a]
    return bool((penalty == 0).all())


def balanced_overlap(
    study: Study, tasks: int, versions: int = 1, alternatives: int | None = None, seed: int = 0
) -> Design:
    """A balanced-overlap design: exact level balance per version, no prohibited or repeated offers."""
    J = _check_size(study, tasks, versions, alternatives)
    rng = np.random.default_rng(seed)
    out = np.empty((versions, tasks, J, len(study.attributes)), dtype=np.int64)
    for v in range(versions):
        for _attempt in range(20):
            version = _balanced_version(study, tasks, J, rng)
            if _repair(study, version, rng):
                out[v] = version
                break
        else:
            raise KeepwiseInputError(
                f"could not build {tasks} tasks without prohibited or repeated offers for '{study.name}': "
                "relax the prohibitions or change the number of tasks or alternatives"
            )
    return Design(study, out, "balanced overlap")


def d_efficient(
    study: Study,
    tasks: int,
    versions: int = 1,
    alternatives: int | None = None,
    seed: int = 0,
    iterations: int | None = None,
    beta: np.ndarray | None = None,
) -> Design:
    """A D-efficient design by swapping within attribute columns from a balanced-overlap start.

    Parameters
    ----------
    study, tasks, versions, alternatives, seed:
        As for :func:`balanced_overlap` (the start) and the seed of the swaps.
    iterations:
        Candidate swaps tried (default ``3000`` per version).
    beta:
        Prior part-worths in design coding (effects coding, price in [-1, 1]); zero by default.
    """
    start = balanced_overlap(study, tasks, versions, alternatives, seed)
    levels = start.levels.copy()
    V, T, J, A = levels.shape
    rng = np.random.default_rng(seed + 1)
    X = design_matrix(study, levels)
    info = _task_information(X, beta)
    total = info.sum(axis=(0, 1))
    best = _d_error_of(total, V)
    n_iter = iterations if iterations is not None else 3000 * V
    for _ in range(n_iter):
        v, a = rng.integers(V), rng.integers(A)
        t, j, t2, j2 = rng.integers(T), rng.integers(J), rng.integers(T), rng.integers(J)
        if levels[v, t, j, a] == levels[v, t2, j2, a]:
            continue
        levels[v, t, j, a], levels[v, t2, j2, a] = levels[v, t2, j2, a], levels[v, t, j, a]
        touched = [t] if t == t2 else [t, t2]
        sub = levels[v, touched]
        if study.prohibited(sub).any() or _duplicates(sub).any():
            levels[v, t, j, a], levels[v, t2, j2, a] = levels[v, t2, j2, a], levels[v, t, j, a]
            continue
        new_info = _task_information(design_matrix(study, sub), beta)
        candidate = total - info[v, touched].sum(axis=0) + new_info.sum(axis=0)
        error = _d_error_of(candidate, V)
        if error < best:
            best, total = error, candidate
            info[v, touched] = new_info
        else:
            levels[v, t, j, a], levels[v, t2, j2, a] = levels[v, t2, j2, a], levels[v, t, j, a]
    return Design(study, levels, "d-efficient")


def random_design(
    study: Study, tasks: int, versions: int = 1, alternatives: int | None = None, seed: int = 0
) -> Design:
    """Each offer drawn at random among the allowed ones (no repeated offer in a task): the baseline."""
    J = _check_size(study, tasks, versions, alternatives)
    rng = np.random.default_rng(seed)
    A = len(study.attributes)
    out = np.empty((versions, tasks, J, A), dtype=np.int64)
    for v in range(versions):
        for t in range(tasks):
            while True:
                task = np.stack([rng.integers(0, n, J) for n in study.n_levels], axis=-1)
                if not study.prohibited(task).any() and not _duplicates(task):
                    break
            out[v, t] = task
    return Design(study, out, "random")
