"""Section ``[web]``: the dashboard and its API (``keepwise serve``)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from keepwise.config.fields import about
from keepwise.exceptions import KeepwiseInputError

if TYPE_CHECKING:
    from keepwise.config.loading import Config

__all__ = ["MIN_LENGTH", "TOKEN_ENV", "WebAssumptions", "is_loopback", "resolve_token"]


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


#: Environment variable holding the access token (wins over keepwise.toml [web] token).
TOKEN_ENV = "KEEPWISE_WEB_TOKEN"
MIN_LENGTH = 16


def resolve_token(config: Config) -> str | None:
    """The access token (environment first, then keepwise.toml); ``None`` when neither sets one."""
    token = os.environ.get(TOKEN_ENV) or config.web.token
    if not token:
        return None
    if len(token) < MIN_LENGTH:
        raise KeepwiseInputError(
            f"the web token ({TOKEN_ENV} or [web] token) must be at least {MIN_LENGTH} characters long"
        )
    return token


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1 or localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
