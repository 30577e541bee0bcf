"""Lazy package exports: a package's names imported from their modules when first used.

A package ``__init__`` lists its public names and the module each comes from, imports them under
``if TYPE_CHECKING:`` (for mypy and editors) and sets ``__getattr__, __dir__ = exports(__name__, NAMES)``:
``from keepwise.value import fit_model`` then imports ``keepwise.value.fitting`` only, and ``import
keepwise.value.worth`` imports none of the package's other modules (their SciPy, pandas or Ibis).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["exports"]


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
