"""keepwise: an open-source customer-retention system."""

from keepwise.api import load

__version__ = "0.1.0"
__all__ = ["__version__", "load"]
