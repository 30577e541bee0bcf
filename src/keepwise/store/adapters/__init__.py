"""Importers for the exports of the tools small businesses already use (``keepwise import``).

One small module per source maps the export's documented columns onto the data contract; every import then
ends in the same validated, all-or-nothing, idempotent load as ``keepwise load``
(:func:`keepwise.store.ingest.load_frames`). See :mod:`keepwise.store.adapters.run` for the run and the
report, and :mod:`keepwise.store.adapters.people` for how customers are matched.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from keepwise.exceptions import KeepwiseInputError
from keepwise.store.adapters.base import Adapter, Problem
from keepwise.store.adapters.helpdesks import FRESHDESK, ZENDESK
from keepwise.store.adapters.run import ImportReport, run_import
from keepwise.store.adapters.settings import configured_timezone
from keepwise.store.adapters.shopify import SHOPIFY_CUSTOMERS, SHOPIFY_ORDERS
from keepwise.store.adapters.stripe import STRIPE_PAYMENTS
from keepwise.store.adapters.timetrackers import CLOCKIFY, HARVEST, TOGGL
from keepwise.store.adapters.values import header_of
from keepwise.store.adapters.woocommerce import WOOCOMMERCE_ORDERS
from keepwise.store.store import Store

__all__ = ["ADAPTERS", "Adapter", "ImportReport", "Problem", "adapter_named", "detect", "import_files"]

#: Every export keepwise reads, by the name ``keepwise import`` takes.
ADAPTERS: dict[str, Adapter] = {
    a.name: a
    for a in (
        SHOPIFY_ORDERS,
        SHOPIFY_CUSTOMERS,
        STRIPE_PAYMENTS,
        WOOCOMMERCE_ORDERS,
        TOGGL,
        HARVEST,
        CLOCKIFY,
        ZENDESK,
        FRESHDESK,
    )
}


def adapter_named(name: str) -> Adapter:
    """The adapter called ``name``; unknown names raise ``KeepwiseInputError`` listing the known ones."""
    try:
        return ADAPTERS[name]
    except KeyError:
        known = ", ".join([*ADAPTERS, "mapping"])
        raise KeepwiseInputError(f"unknown source '{name}'; the sources are: {known}") from None


def detect(path: str | Path) -> list[dict[str, Any]]:
    """Adapters ranked by how well the header of ``path`` fits them (best first; fit 0 means unusable)."""
    header = header_of(Path(path))
    ranked = sorted(ADAPTERS.values(), key=lambda a: -a.fit(header))
    return [{"source": a.name, "fit": round(a.fit(header), 2), "missing": a.missing(header)} for a in ranked]


def import_files(
    store: Store,
    source: str | Adapter,
    files: Sequence[str | Path],
    *,
    timezone: str | None = None,
    date_format: str | None = None,
    dry_run: bool = False,
) -> ImportReport:
    """Import the exports ``files`` of ``source`` into ``store`` (with ``dry_run``, change nothing).

    Local times are read in ``timezone``, else in ``[import] timezone`` of ``keepwise.toml``; an export with
    local times and neither is refused.
    """
    adapter = source if isinstance(source, Adapter) else adapter_named(source)
    return run_import(
        store,
        adapter,
        [Path(f) for f in files],
        others=ADAPTERS.values(),
        timezone=timezone or configured_timezone(),
        date_format=date_format,
        dry_run=dry_run,
    )
