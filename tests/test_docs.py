"""The README documents the contract exactly as the code declares it, and its examples are valid data."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from keepwise.store.ingest import load_frame
from keepwise.store.schema import TABLES, load_order, markdown

ROOT = Path(__file__).parents[1]


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    first_block = readme.split("```")[1]
    assert first_block.split() == ["sh", "make", "demo", "make", "test"]


def test_readme_contract_section_is_generated_from_the_schema():
    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- schema:begin -->")[1].split("<!-- schema:end -->")[0]
    assert section.strip() == markdown().strip(), "regenerate the README section from schema.markdown()"


def test_every_example_row_in_the_contract_loads(store):
    examples = {t.name: t for t in TABLES if t.loadable}
    for name in load_order(set(examples)):
        t = examples[name]
        row = {c.name: [c.example or None] for c in t.columns}
        frame = pd.read_csv(io.StringIO(pd.DataFrame(row).to_csv(index=False)), dtype=str)
        result = load_frame(store, name, frame, source=f"README example of {name}")
        assert result.new == 1


def test_ci_runs_make_test():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_readme_inputs_table_is_what_schema_inputs_prints():
    from typer.testing import CliRunner

    from keepwise.cli import app

    readme = (ROOT / "README.md").read_text()
    section = readme.split("<!-- inputs:begin -->")[1].split("<!-- inputs:end -->")[0]
    printed = CliRunner().invoke(app, ["schema", "--inputs"])
    assert printed.exit_code == 0, printed.output
    assert section.strip() == printed.stdout.strip(), "regenerate the README table: keepwise schema --inputs"


def test_schema_inputs_lists_the_required_tables_then_every_optional_input():
    import json

    from typer.testing import CliRunner

    from keepwise.cli import app
    from keepwise.store.inventory import INPUTS, REQUIRED

    doc = json.loads(CliRunner().invoke(app, ["schema", "--inputs", "--json"]).stdout)
    assert [r["input"] for r in doc] == [*REQUIRED, *(i.name for i in INPUTS)]
    assert [r["required"] for r in doc] == [True] * len(REQUIRED) + [False] * len(INPUTS)
    assert all(r["used_by"] and r["without"] for r in doc)


# ------------------------------------------------------------------------------------- the docs site
def _site_hooks():
    """docs/_hooks/keepwise_docs.py, the mkdocs hooks that generate and place the site's pages."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "keepwise_docs", ROOT / "docs" / "_hooks" / "keepwise_docs.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # about 15 s on a quiet machine (the --help of every command, mkdocstrings)
def test_the_docs_site_builds_strict_so_a_broken_link_fails(tmp_path):
    """``mkdocs build --strict`` (what ``make docs`` runs): a broken link, anchor or docstring fails it."""
    import os
    import subprocess
    import sys

    from typer.main import get_command

    from keepwise.cli import app

    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(ROOT / "mkdocs.yml"),
         "--site-dir", str(site)],
        capture_output=True, text=True, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    commands = (site / "commands" / "index.html").read_text(encoding="utf-8")
    group = get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert f">keepwise {name}<" in commands, name  # a heading and the --help of every command
        for sub in getattr(command, "commands", {}):
            assert f">keepwise {name} {sub}<" in commands, f"{name} {sub}"
    assert "Usage: keepwise flows run [OPTIONS]" in commands
    api = (site / "api" / "index.html").read_text(encoding="utf-8")
    assert "keepwise.run_review" in api and "Parameters" in api and ":func:" not in api
    assumptions = (site / "assumptions" / "index.html").read_text(encoding="utf-8")
    assert "discount_rate" in assumptions and "TARP" in assumptions  # a setting and its source


def test_every_readme_section_is_on_the_site():
    """The site places README's sections instead of copying them; a new section must be given a page."""
    hooks = _site_hooks()
    placed = set()
    for page in (ROOT / "docs").glob("*.md"):
        placed |= {m["title"] for m in hooks.README_MARK.finditer(page.read_text(encoding="utf-8"))}
    placed |= {m["title"] for m in hooks.README_MARK.finditer(hooks.api_page())}
    missing = set(hooks.readme_sections()) - placed
    assert missing == set(), f"add a line '<!-- readme: TITLE -->' for each to a page of docs/: {missing}"
    assert placed - set(hooks.readme_sections()) == set(), "a page names a README section that is gone"


def test_the_assumptions_page_lists_every_setting_with_its_source():
    import dataclasses

    from keepwise.config.fields import HOME
    from keepwise.config.loading import _SECTIONS

    page = _site_hooks().assumptions_page()
    for section, cls in _SECTIONS.items():
        assert f"\n## [{section}]\n" in page
        for f in dataclasses.fields(cls):
            if "doc" in f.metadata or HOME in f.metadata:
                assert f"| `{f.name}` |" in page, f"[{section}] {f.name}"
