"""What the dashboard benches share: ``median`` of timed calls, and a signed-in dashboard (``create_app``
behind Starlette's TestClient with a script's token).

Every route needs a login; a bench signs in as scripts do, with the admin token of ``[web] token`` sent as
``Authorization: Bearer ...`` on every request (no session, no CSRF form round trip). The environment's
``KEEPWISE_WEB_TOKEN`` is dropped first so the token is the one given here.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

#: The admin token the benches sign in with (a script's token, at least 16 characters).
TOKEN = "bench-token-0123456789abcdef"


def signed_in(url: str, config: Any = None) -> tuple[Any, Any]:
    """A TestClient of the dashboard serving ``url``, signed in as an admin script, and its config.

    ``config`` (default: :class:`keepwise.config.Config`'s defaults) gets the bench's token as ``[web]
    token``; the returned config is the one the app serves with.
    """
    from fastapi.testclient import TestClient

    from keepwise.config import Config
    from keepwise.web import create_app

    base = config if config is not None else Config()
    config = replace(base, web=replace(base.web, token=TOKEN))
    os.environ.pop("KEEPWISE_WEB_TOKEN", None)
    client = TestClient(create_app(url, config), base_url="http://127.0.0.1:8000")
    client.headers["Authorization"] = f"Bearer {TOKEN}"
    return client, config


def median(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (this process, every thread) of ``repeat`` calls."""
    wall, cpu = [], []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        call()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    return statistics.median(wall), statistics.median(cpu)
