"""Speed work must not change answers: review, profit, win-back and flows JSON on the demo store, pinned.

The demo store is built exactly as ``make demo`` builds it (3,000 customers, 24 months, seed 7); each command
runs in its own process on its own copy of the store, through ``scripts/cli_json_snapshot.py`` (the same
normalisation of paths, today's timestamps and durations), and its document is compared with the golden copy
in ``tests/golden/`` (gzip). Floats may differ by the fits' run-to-run noise (relative 1e-4: DuckDB's GROUP BY
order varies), nothing else may.

When a change is meant to alter one of these documents (a fix, a new field), regenerate the golden files and
say why in the commit::

    KEEPWISE_REGENERATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_outputs_unchanged.py
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
SCRIPT = REPO / "scripts" / "cli_json_snapshot.py"
REGENERATE = os.environ.get("KEEPWISE_REGENERATE_GOLDEN") == "1"

#: name -> command line ({db} is the command's own copy of the demo store). The flows run is pinned to the
#: day after the data end, so the answer does not move with the wall clock.
COMMANDS = {
    "review": "review --db {db} --json",
    "profit": "profit --db {db} --json",
    "winback": "winback --db {db} --json",
    "flows_dry_run": "flows run --dry-run --as-of 2026-01-01 --db {db} --json",
}


@pytest.fixture(scope="module")
def snapshot_module() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("cli_json_snapshot_golden", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.fixture(scope="module")
def outputs(snapshot_module: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Each command's normalised stdout on the freshly built demo store."""
    work = tmp_path_factory.mktemp("golden")
    out = work / "out"
    out.mkdir()
    snap = snapshot_module.Snapshot(out, work)
    db = snapshot_module.build_demo(snap)
    texts = {}
    for name, command in COMMANDS.items():
        store = snap.copy_store(db, name)
        done = snap.run(name, *command.format(db=store).split())
        assert done.returncode == 0, f"{name} exited {done.returncode}: {done.stderr[-2000:]}"
        texts[name] = (out / f"{name}.json").read_text(encoding="utf-8")
    return texts


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_document_equals_the_golden_copy(name: str, outputs: dict[str, str], snapshot_module: ModuleType):
    golden = GOLDEN / f"{name}.json.gz"
    if REGENERATE:
        GOLDEN.mkdir(exist_ok=True)
        with gzip.open(golden, "wt", encoding="utf-8", compresslevel=9) as f:
            f.write(outputs[name])
    expected = json.loads(gzip.decompress(golden.read_bytes()).decode("utf-8"))
    got = json.loads(outputs[name])
    gap = snapshot_module.float_gap(expected, got)
    if gap is None:
        first = _first_difference(expected, got)
        pytest.fail(f"{name}: the document differs from tests/golden/{name}.json.gz at {first}")
    assert gap[0] <= snapshot_module.NOISE_RTOL, f"{name}: floats differ by {gap[0]:.1e} at {gap[1]}"


def test_golden_documents_are_the_demo_business(outputs: dict[str, str]):
    """The pinned documents are about the demo store's own figures (a guard against pinning an error)."""
    review = json.loads(outputs["review"])
    assert review["month"] == "2025-12"
    flows = json.loads(outputs["flows_dry_run"])
    assert flows["dry_run"] is True and flows["queued"] > 0
    winback = json.loads(outputs["winback"])
    assert winback["month"] == "2025-12" and winback["ranked"]


def _first_difference(a: object, b: object, path: str = "") -> str:
    """Where two JSON documents first differ, with both values (shortened)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b):
            return f"{path or '/'}: keys {list(a)[:8]} != {list(b)[:8]}"
        for key in a:
            if a[key] != b[key]:
                return _first_difference(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return f"{path}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{path}[{i}]")
    return f"{path}: {str(a)[:120]!r} != {str(b)[:120]!r}"
