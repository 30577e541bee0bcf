"""The modified BG/NBD (MBG/NBD) model of Batislam, Denizel and Filiztekin (2007).

As BG/NBD, except that a customer may also drop out right after the first purchase (time 0), so that a
customer with no repeat purchases need not be alive::

    L(r, alpha, a, b | x, t_x, T) = Gamma(r + x) alpha^r / Gamma(r)
        * [ B(a, b + x + 1) / B(a, b) / (alpha + T)^(r + x)
            + B(a + 1, b + x) / B(a, b) / (alpha + t_x)^(r + x) ]

P(alive | x, t_x, T) = 1 / (1 + a / (b + x) ((alpha + T) / (alpha + t_x))^(r + x)); given alive, the drop-out
probability is Beta(a, b + x + 1), so the conditional expectation is BG/NBD's with ``b`` replaced by
``b + 1``.

References
----------
Batislam, E. P., Denizel, M. and Filiztekin, A. (2007). Empirical validation and comparison of models for
customer base analysis. International Journal of Research in Marketing 24(3), 201-209.
"""

from __future__ import annotations

from typing import ClassVar

from keepwise.models.bgnbd import BetaGeoModel


class ModifiedBetaGeoModel(BetaGeoModel):
    """MBG/NBD: BG/NBD with a chance of dropping out at time 0. Parameters ``r``, ``alpha``, ``a``, ``b``."""

    _shift: ClassVar[int] = 1
