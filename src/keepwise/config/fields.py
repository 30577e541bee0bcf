"""How a figure of ``keepwise.toml`` is declared: its default, meaning and source (:func:`about`).

A figure has one home: one section, one field, one type. A section whose code reads a figure that lives in
another section declares it with :func:`shared`; :class:`keepwise.config.Config` copies the home figure into
it, so the two can never disagree, and the file's old key is read as another name of the home key.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = ["CONFIG_FILE", "DISCOUNT_RATE", "HOME", "about", "shared"]

#: The file :func:`keepwise.config.load_config` reads from the working directory.
CONFIG_FILE = "keepwise.toml"

#: Annual discount rate of future margin (``[clv] discount_rate``): its default.
DISCOUNT_RATE = 0.10

#: Metadata key of a :func:`shared` field: the ``section.key`` of the figure it repeats.
HOME = "home"


def about(doc: str, source: str) -> dict[str, str]:
    """Field metadata of one configurable figure: ``field(default=..., metadata=about(doc, source))``.

    Parameters
    ----------
    doc:
        What the figure means, in words a manager can read.
    source:
        Where the default comes from.
    """
    return {"doc": doc, "source": source}


def shared(home: str) -> dict[str, str]:
    """Metadata of a field that repeats the figure ``home`` (``"section.key"``) for code reading this section.

    Declare it ``field(default=<home default>, init=False, metadata=shared(home))``: it cannot be set on its
    own, :class:`keepwise.config.Config` copies the home figure into it (as a :class:`~decimal.Decimal` when
    its default is one), and ``keepwise.toml`` may still name it in this section, as an older name of
    ``home``.

    Parameters
    ----------
    home:
        Where the figure is defined, e.g. ``"clv.discount_rate"``.
    """
    return {HOME: home}


def as_type_of(default: Any, value: Any) -> Any:
    """``value`` in the type of ``default``: exact :class:`~decimal.Decimal` for a Decimal default."""
    if isinstance(default, Decimal) and not isinstance(value, Decimal):
        return Decimal(str(value))
    return value
