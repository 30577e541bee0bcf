"""Bundled and simulated data: CDNOW with its source, and a synthetic business with known truth."""

from keepwise.datasets.cdnow import cdnow_tables, load_cdnow, load_cdnow_master, load_cdnow_summary

__all__ = ["cdnow_tables", "load_cdnow", "load_cdnow_master", "load_cdnow_summary", "simulate"]


def __getattr__(name: str) -> object:
    # simulate is imported lazily: it is large and most users of the CDNOW loaders never need it
    if name == "simulate":
        from keepwise.datasets.simulate import simulate

        return simulate
    raise AttributeError(name)
