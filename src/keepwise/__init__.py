"""keepwise: an open-source customer-retention system."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keepwise.api import load

__version__ = "0.1.0"
__all__ = ["__version__", "load"]


def __getattr__(name: str) -> Any:
    # ``keepwise.load`` imports the store (Ibis, DuckDB, pandas) only when it is used, so that
    # ``keepwise --help`` and light submodules start fast.
    if name == "load":
        from keepwise.api import load

        return load
    raise AttributeError(f"module 'keepwise' has no attribute {name!r}")
