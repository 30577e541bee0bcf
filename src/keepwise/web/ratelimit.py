"""A limit on guessing the access token: 5 wrong tries a minute per client address, then HTTP 429.

Counted: a ``POST /login`` answered 401 (a wrong token in the sign-in form) and an API request that carried
an ``Authorization`` header and was answered 401 (a wrong Bearer token). Once an address has
:data:`TRIES` of them within :data:`WINDOW_SECONDS`, its sign-ins and its requests with a token are answered
429 with ``Retry-After`` (the seconds until the oldest try leaves the window) without being checked, the
right token included. Other addresses are not affected. The count lives in the server's memory: a restart
forgets it, and each worker process counts on its own.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["TRIES", "WINDOW_SECONDS", "SignInLimit"]

#: Wrong tries allowed per address within the window.
TRIES = 5
WINDOW_SECONDS = 60.0
#: Addresses remembered at most (the oldest is forgotten first), so a flood cannot exhaust memory.
MAX_ADDRESSES = 10_000


class SignInLimit:
    """ASGI middleware counting wrong tokens per client address and answering 429 past the limit."""

    def __init__(self, app: ASGIApp, clock: Callable[[], float] = time.monotonic):
        self.app = app
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    @staticmethod
    def _counted(scope: Scope) -> bool:
        if scope["method"] == "POST" and scope["path"].rstrip("/") == "/login":
            return True
        is_api = scope["path"] == "/api" or scope["path"].startswith("/api/")
        return is_api and "authorization" in Headers(scope=scope)

    def _wait(self, address: str, now: float) -> int:
        """Seconds ``address`` must wait (0: it may try)."""
        with self._lock:
            tries = self._failures.get(address)
            if not tries:
                return 0
            while tries and tries[0] <= now - WINDOW_SECONDS:
                tries.popleft()
            if len(tries) < TRIES:
                return 0
            return max(1, math.ceil(tries[0] + WINDOW_SECONDS - now))

    def _fail(self, address: str, now: float) -> None:
        with self._lock:
            if address not in self._failures and len(self._failures) >= MAX_ADDRESSES:
                self._failures.pop(next(iter(self._failures)))
            self._failures.setdefault(address, deque(maxlen=TRIES)).append(now)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 429 to an address past the limit; count the 401s of the others."""
        if scope["type"] != "http" or not self._counted(scope):
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown", 0))[0]
        wait = self._wait(address, self.clock())
        if wait:
            message = f"too many wrong tokens from {address}; try again in {wait} s"
            response: Response
            if scope["path"].startswith("/api"):
                response = JSONResponse({"error": message}, status_code=429)
            else:
                response = PlainTextResponse(message, status_code=429)
            response.headers["Retry-After"] = str(wait)
            await response(scope, receive, send)
            return

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 401:
                self._fail(address, self.clock())
            await send(message)

        await self.app(scope, receive, counting)
