"""Lazy package exports: a package's names imported from their modules when first used.

A package ``__init__`` lists its public names and the module each comes from, imports them under
``if TYPE_CHECKING:`` (for mypy and editors) and sets ``__getattr__, __dir__ = exports(__name__, NAMES)``:
``from keepwise.value import fit_model`` then imports ``keepwise.value.fitting`` only, and ``import
keepwise.value.worth`` imports none of the package's other modules (their SciPy, pandas or Ibis).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["exports", "one_sql_compiler"]


def exports(package: str, names: dict[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` whose public ``names`` map to their modules."""

    def __getattr__(name: str) -> Any:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(names))

    return __getattr__, __dir__


#: The package of Ibis's SQL compilers, whose ``__init__`` imports all twenty of them.
_COMPILERS = "ibis.backends.sql.compilers"


def one_sql_compiler() -> bool:
    """Let Ibis import only the SQL compilers a store uses (DuckDB's, PostgreSQL's, Spark's) when first asked.

    Ibis's ``ibis.backends.sql.compilers`` imports the compiler of every engine it supports (Athena, BigQuery,
    Trino, ...) and sqlglot's dialects for each: 0.08-0.1 s of CPU for every command that opens a store.
    Before Ibis is imported, this puts in its place a package of the same folder whose names (each
    ``<Engine>Compiler`` its ``__init__`` imports, and each compiler module) are imported when first read;
    the modules and classes are Ibis's own. Returns whether it did (not when Ibis is already imported, not
    installed, or its ``__init__`` is not the list of imports it reads).
    """
    if _COMPILERS in sys.modules or "ibis" in sys.modules:
        return False
    spec = importlib.util.find_spec("ibis")
    if spec is None or spec.origin is None:
        return False
    folder = Path(spec.origin).parent / "backends" / "sql" / "compilers"
    init = folder / "__init__.py"
    try:
        text = init.read_text(encoding="utf-8")
    except OSError:
        return False
    found = re.findall(rf"^from {re.escape(_COMPILERS)}\.(\w+) import (\w+)$", text, re.MULTILINE)
    where = {name: module for module, name in found}
    declared = re.search(r"__all__ = \[([^\]]*)\]", text)
    if not where or declared is None or set(re.findall(r'"(\w+)"', declared.group(1))) != set(where):
        return False
    package = types.ModuleType(_COMPILERS)
    package.__file__ = str(init)
    package.__path__ = [str(folder)]
    package.__package__ = _COMPILERS
    package.__spec__ = importlib.util.spec_from_file_location(
        _COMPILERS, init, submodule_search_locations=[str(folder)]
    )
    package.__all__ = sorted(where)  # type: ignore[attr-defined]

    def __getattr__(name: str) -> Any:
        if name in where:
            value = getattr(importlib.import_module(f"{_COMPILERS}.{where[name]}"), name)
        elif not name.startswith("__") and (folder / f"{name}.py").exists():
            value = importlib.import_module(f"{_COMPILERS}.{name}")
        else:
            raise AttributeError(f"module {_COMPILERS!r} has no attribute {name!r}")
        setattr(package, name, value)
        return value

    package.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[_COMPILERS] = package
    return True
