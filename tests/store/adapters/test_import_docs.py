"""The README's "Bring your own data" section shows every importer, with an example and its columns."""

from __future__ import annotations

from pathlib import Path

from keepwise.store.adapters import ADAPTERS

README = Path(__file__).parents[3] / "README.md"


def test_every_importer_has_an_example_command_and_a_row_in_the_table():
    section = README.read_text().split("## Bring your own data")[1].split("\n## ")[0]
    for name, adapter in ADAPTERS.items():
        assert f"keepwise import {name} " in section, name
        row = next(line for line in section.splitlines() if line.startswith(f"| `{name}` |"))
        for required in adapter.required:
            assert any(column in row for column in required), (name, required)
    assert "keepwise import mapping " in section and "keepwise import detect " in section
