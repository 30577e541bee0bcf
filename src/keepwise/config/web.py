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

    People sign in with a name and password (``keepwise users``), scripts with their own API tokens
    (``keepwise tokens``). The shared token of earlier versions is deprecated; it is better kept in the
    environment variable ``KEEPWISE_WEB_TOKEN``, which wins over the file.
    """

    token: str = field(
        default="",
        metadata=about(
            "Deprecated shared access token (at least 16 characters): works as an admin's API token and in "
            "the sign-in form; empty: none. Give scripts their own keepwise tokens instead. "
            "KEEPWISE_WEB_TOKEN overrides it.",
            "convention: secrets live in the environment, not in files under version control",
        ),
    )
    session_hours: int = field(
        default=12,
        metadata=about(
            "Hours a dashboard sign-in lasts before the password is asked for again.",
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
