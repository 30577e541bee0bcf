"""The shape issue 14 asks for, checked on the source tree: one store layer, thin doors, one-way imports.

Each rule is a grep over src/keepwise; a failure names the file and the line that breaks the rule.
"""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "keepwise"
STAGES = (
    "features",
    "models",
    "value",
    "signals",
    "decisions",
    "conjoint",
    "messages",
    "experiments",
    "store",
)


def _lines(pattern: str, *, skip: tuple[str, ...] = ()) -> list[str]:
    found = []
    rx = re.compile(pattern)
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel.startswith(skip):
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if rx.search(line):
                found.append(f"{rel}:{no}: {line.strip()}")
    return found


def test_only_the_store_executes_statements():
    assert _lines(r"\.execute\(|raw_sql\(|duckdb_connection", skip=("store/",)) == []


def test_only_the_cli_and_the_web_import_the_commands():
    assert (
        _lines(r"keepwise\.commands|from keepwise import commands", skip=("commands/", "web/", "cli.py"))
        == []
    )


def test_only_the_web_imports_the_web():
    # keepwise serve hands uvicorn the app factory by name; no module imports the web package
    assert _lines(r"^\s*(from|import) keepwise\.web\b", skip=("web/",)) == []


def test_no_stage_imports_the_review_or_the_report():
    hits = [h for h in _lines(r"^\s*(from|import) keepwise\.(review|report)\b") if h.startswith(STAGES)]
    assert hits == []


def test_no_module_is_over_500_lines():
    long = {
        p.relative_to(SRC).as_posix(): n
        for p in SRC.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}


def test_the_review_has_no_plugin_loading():
    assert [
        h for h in _lines(r"importlib\.import_module|__import__") if h.startswith(("review", "report/"))
    ] == []


def test_every_public_name_of_a_lazy_package_resolves_and_the_package_imports_light():
    """Packages export their names lazily (keepwise._lazy): each name of ``__all__`` is found, and importing
    the review imports none of SciPy's optimisers or linear algebra (only fitting a model does)."""
    import subprocess
    import sys

    packages = [p.parent.name for p in sorted(SRC.glob("*/__init__.py")) if "exports(" in p.read_text()]
    assert {"models", "value", "signals", "features", "conjoint", "experiments", "datasets"} <= set(packages)
    code = (
        "import importlib, sys\n"
        "import keepwise.review\n"
        "light = not {'scipy.optimize', 'scipy.linalg', 'scipy.stats'} & set(sys.modules)\n"
        f"for name in {packages!r}:\n"
        "    package = importlib.import_module('keepwise.' + name)\n"
        "    for attr in package.__all__:\n"
        "        assert getattr(package, attr) is not None and attr in dir(package), (name, attr)\n"
        "print(light)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "True"
