"""The importers' one setting: ``[import] timezone`` in ``keepwise.toml``, the zone of local-time exports."""

from __future__ import annotations

from pathlib import Path

__all__ = ["configured_timezone"]


def configured_timezone(path: str | Path | None = None) -> str | None:
    """``[import] timezone`` from ``keepwise.toml`` (default: in the working directory), or ``None``."""
    from keepwise.config import load_config

    return load_config(path).imports.timezone or None
