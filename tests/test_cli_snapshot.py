"""scripts/cli_json_snapshot.py: what it normalises, how it compares, and that its inputs are reproducible.

The snapshot itself (every command on the demo store, minutes) is run by hand before and after a refactor;
these tests keep its moving parts honest.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "cli_json_snapshot.py"


@pytest.fixture(scope="module")
def snapshot_module():
    spec = importlib.util.spec_from_file_location("cli_json_snapshot", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["cli_json_snapshot"] = module
    spec.loader.exec_module(module)
    yield module
    del sys.modules["cli_json_snapshot"]


def test_normalise_hides_paths_todays_timestamps_and_durations(snapshot_module, tmp_path):
    snap = snapshot_module.Snapshot(tmp_path / "out", tmp_path / "work")
    store = tmp_path / "work" / "stores" / "status"
    snap.stores.append(store)
    today = dt.datetime.now(dt.UTC)
    text = (
        f'{{"db": "duckdb:///{store}/keepwise.duckdb", "html": "{tmp_path / "work"}/review.html",\n'
        f' "designed_at": "{today.isoformat()}", "day": "{today.date()}",\n'
        f' "lost_at": "2025-01-03T02:10:07+00:00", "seconds": 1.234, "fit_seconds": 2e-05,\n'
        f' "study": "{SCRIPT.parent.parent}/examples/conjoint/winback_study.yaml"}}'
    )
    assert snap.normalise(text) == (
        '{"db": "duckdb:///<STORE>/keepwise.duckdb", "html": "<WORK>/review.html",\n'
        ' "designed_at": "<NOW>", "day": "<NOW>",\n'
        ' "lost_at": "2025-01-03T02:10:07+00:00", "seconds": "<SECONDS>", "fit_seconds": "<SECONDS>",\n'
        ' "study": "<REPO>/examples/conjoint/winback_study.yaml"}'
    )


def test_compare_lists_the_documents_that_differ(snapshot_module, tmp_path, capsys):
    old, new = tmp_path / "old", tmp_path / "new"
    for folder in (old, new):
        folder.mkdir()
        (folder / "same.json").write_text('{"a": 1}\n')
    (old / "fit_bgnbd.json").write_text('{\n  "r": 0.24,\n  "alpha": 4.4\n}\n')
    (new / "fit_bgnbd.json").write_text('{\n  "r": 0.25,\n  "alpha": 4.4\n}\n')
    (new / "extra.json").write_text("{}\n")
    assert snapshot_module.compare(old, new) == 1
    out = capsys.readouterr().out
    assert "DIFFERS: fit_bgnbd.json" in out and '-  "r": 0.24,' in out and '+  "r": 0.25,' in out
    assert "extra.json" in out and "same.json" not in out
    assert "1 identical, 0 float noise only (rtol 0.0001), 2 differ" in out
    (new / "fit_bgnbd.json").write_text('{\n  "r": 0.24,\n  "alpha": 4.4\n}\n')
    (new / "extra.json").unlink()
    assert snapshot_module.compare(old, new) == 0


def test_input_files_are_the_same_on_every_run(snapshot_module, tmp_path):
    def digests(folder: Path) -> dict[str, str]:
        folder.mkdir()
        files = snapshot_module.write_inputs(folder)
        return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in files.items()}

    first = digests(tmp_path / "a")
    assert first == digests(tmp_path / "b")
    assert set(first) == {"experiment", "durations", "trial", "people", "answers", "offers"}


def test_compare_tolerates_float_noise_only(snapshot_module, tmp_path, capsys):
    """The fits run on engine histograms whose row order varies: the same code differs in the last bits."""
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    (old / "fit.json").write_text('{"r": 0.4088404846662115, "n": 3000, "note": "ok"}\n')
    (new / "fit.json").write_text('{"r": 0.40884048466621103, "n": 3000, "note": "ok"}\n')
    assert snapshot_module.compare(old, new) == 0
    assert "NOISE: fit.json" in capsys.readouterr().out
    (new / "fit.json").write_text('{"r": 0.41, "n": 3000, "note": "ok"}\n')
    assert snapshot_module.compare(old, new) == 1
    (new / "fit.json").write_text('{"r": 0.4088404846662115, "n": 3001, "note": "ok"}\n')
    assert snapshot_module.compare(old, new) == 1
    assert "DIFFERS: fit.json" in capsys.readouterr().out
