"""The README's notebook session runs as written, and every public name of ``keepwise`` resolves.

The session is taken from README.md itself (the code block under "In a notebook: the Python API"), so the
README cannot drift from the API.
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

import keepwise

README = Path(__file__).resolve().parents[1] / "README.md"


def _notebook_block() -> str:
    text = README.read_text(encoding="utf-8")
    section = text.split("## In a notebook: the Python API", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README has no python block under 'In a notebook: the Python API'"
    return match.group(1)


def test_every_public_name_resolves_with_a_docstring():
    for name in keepwise.__all__:
        value = getattr(keepwise, name)
        if name != "__version__":
            assert (value.__doc__ or "").strip(), f"keepwise.{name} has no docstring"


def test_the_readme_notebook_session_runs(tmp_path, monkeypatch, capsys):
    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(compile(_notebook_block(), "README.md", "exec"), namespace)  # the README's own code
    fit, top, review, ax = (namespace[k] for k in ("fit", "top", "review", "ax"))
    # a real fit on the simulated business: positive parameters, and the summary has standard errors
    assert set(fit.model.params_) == {"r", "alpha", "a", "b"}
    assert all(v > 0 for v in fit.model.params_.values())
    assert "se" in " ".join(map(str, fit.model.summary.columns)).lower()
    # ten customers, highest value first
    assert len(top) == 10 and top["clv"].is_monotonic_decreasing
    # the review's default month is the last one the data covers
    last_order = namespace["business"].tables["orders"]["ordered_at"].max()
    assert review.headlines
    assert review.period.start <= last_order < review.period.end + pd.DateOffset(months=1)
    assert ax.get_title()
    assert (tmp_path / "notebook.duckdb").exists()
    out = capsys.readouterr().out
    assert "alpha" in out


def test_unknown_names_are_attribute_errors():
    with pytest.raises(AttributeError):
        keepwise.no_such_thing  # noqa: B018
