"""The importers' one setting: ``[import] timezone`` in ``keepwise.toml``, the zone of local-time exports.

Read here from the file itself until :mod:`keepwise.config` declares an ``[import]`` section (it should: the
setting belongs with the others, and config today refuses sections it does not know).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from keepwise.exceptions import KeepwiseInputError

__all__ = ["configured_timezone"]


def configured_timezone(path: str | Path | None = None) -> str | None:
    """``[import] timezone`` from ``keepwise.toml`` (default: in the working directory), or ``None``."""
    file = Path(path) if path is not None else Path.cwd() / "keepwise.toml"
    if not file.exists():
        return None
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise KeepwiseInputError(f"{file}: not valid TOML ({exc})") from None
    section = data.get("import", {})
    value = section.get("timezone") if isinstance(section, dict) else None
    if value is not None and not isinstance(value, str):
        raise KeepwiseInputError(f'{file}: [import] timezone must be a text such as "Europe/Warsaw"')
    return value or None
