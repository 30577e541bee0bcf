"""Helpers of the operations tests: the simulated month, a store's contents, the commands a file runs."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import pandas as pd
import typer

from keepwise.store import connect

#: The month the tests run: the simulated history (18 months from 2024-01) ends with it.
MONTH = "2025-06"
#: keepwise's own record of runs (and the lock), which only ``keepwise run`` writes.
RUN_RECORD = {"runs", "run_steps", "locks"}


def contents(
    url: str, *, skip: frozenset[str] | set[str] = frozenset(), volatile: tuple[str, ...] = ()
) -> dict[str, pd.DataFrame]:
    """Every table of the store as rows sorted on every column (``volatile`` columns left out)."""
    store = connect(url, read_only=True)
    try:
        found = {}
        for name in sorted(store.tables()):
            if name in skip:
                continue
            df = store.read(name)
            df = df.drop(columns=[c for c in df.columns if c in volatile])
            if len(df.columns):
                df = df.astype(str).sort_values(list(df.columns)).reset_index(drop=True)
            found[name] = df
        return found
    finally:
        store.disconnect()


def keepwise_commands(text: str) -> list[list[str]]:
    """The arguments of every keepwise command in ``text``, comments left out.

    Shell lines (cron), ``ExecStart=`` lines (systemd) and JSON exec arrays (Dockerfile ``CMD``, compose
    ``command:``).
    """
    found: list[list[str]] = []
    for raw in text.replace("\\\n", " ").splitlines():  # continued lines joined
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        array = re.search(r"\[\s*\".*\]", line)
        if array is not None:
            found.extend(_after_keepwise(json.loads(array.group(0))))
            continue
        line = re.sub(r"^Exec\w*=", "", line)
        for part in re.split(r"&&|\|\||;|\|", line):
            try:
                words = shlex.split(part)
            except ValueError:  # a quoted script cut at its ";": fine unless it runs keepwise
                if re.search(r"(^|\s|/bin/)keepwise(\s|$)", part):
                    raise
                continue
            found.extend(_after_keepwise(words))
    return found


def _after_keepwise(words: list[str]) -> list[list[str]]:
    """The arguments after ``keepwise`` when it is the command (first word, a path, ``-m keepwise``)."""
    for i, word in enumerate(words):
        if word.endswith("/bin/keepwise") or (word == "keepwise" and (i == 0 or words[i - 1] == "-m")):
            return [words[i + 1 :]]
    return []


def check_command(app: typer.Typer, args: list[str]) -> None:
    """Parse ``keepwise ARGS`` with the CLI's own parser: an unknown command or option raises."""
    cmd: Any = typer.main.get_command(app)  # typer's own click (vendored in recent versions)
    rest = list(args)
    path = ["keepwise"]
    while hasattr(cmd, "commands"):  # a group
        if not rest:
            raise AssertionError(f"{' '.join(path)} needs a sub-command")
        sub = cmd.get_command(None, rest[0])  # click's way: keepwise imports a command's module on asking
        if sub is None:
            raise AssertionError(f"{' '.join([*path, rest[0]])} is not a keepwise command")
        path.append(rest.pop(0))
        cmd = sub
    cmd.make_context(" ".join(path), rest)


def files_under(folder: Path) -> list[Path]:
    """Every file under ``folder``."""
    return sorted(p for p in folder.rglob("*") if p.is_file())
