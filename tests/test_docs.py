"""The README documents the contract exactly as the code declares it, and its examples are valid data."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

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
