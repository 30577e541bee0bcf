"""Section ``[web]``: the dashboard and its API (``keepwise serve``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from keepwise.config.fields import about

__all__ = ["WebAssumptions"]


@dataclass(frozen=True)
class WebAssumptions:
    """The dashboard and its API, ``keepwise serve`` (section ``[web]``).

    The access token is better kept in the environment variable ``KEEPWISE_WEB_TOKEN``, which wins over the
    file; ``keepwise serve`` refuses to listen beyond this machine (a non-loopback host) without a token.
    """

    token: str = field(
        default="",
        metadata=about(
            "Access token of the dashboard and the API (at least 16 characters); empty: no sign-in, allowed "
            "only on 127.0.0.1. KEEPWISE_WEB_TOKEN overrides it.",
            "convention: secrets live in the environment, not in files under version control",
        ),
    )
    session_hours: int = field(
        default=12,
        metadata=about(
            "Hours a dashboard sign-in lasts before the token is asked for again.",
            "convention: one working day",
        ),
    )
