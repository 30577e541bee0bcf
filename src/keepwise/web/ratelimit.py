"""A limit on guessing passwords and tokens: per client address, and per user name.

Per address (:class:`SignInLimit`): a ``POST /login`` answered 401 (a wrong name, password or token in the
sign-in form) and an API request that carried an ``Authorization`` header and was answered 401 (a wrong
Bearer token) count. Once an address has :data:`TRIES` of them within :data:`WINDOW_SECONDS`, its sign-ins and
its requests with a token are answered 429 with ``Retry-After`` (the seconds until the oldest try leaves the
window) without being checked, the right password included. Other addresses are not affected.

Per user name (a :class:`Window` the sign-in form keeps, :mod:`keepwise.web.signin`): :data:`NAME_TRIES` wrong
passwords for one name within the window, from any addresses, and that name's sign-ins are answered 429
until the oldest leaves it, so guessing one person's password from many addresses is as slow.

The counts live in the server's memory: a restart forgets them, and each worker process counts on its own.
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

__all__ = ["NAME_TRIES", "TRIES", "WINDOW_SECONDS", "SignInLimit", "Window"]

#: Wrong tries allowed per address within the window.
TRIES = 5
#: Wrong passwords allowed per user name within the window.
NAME_TRIES = 10
WINDOW_SECONDS = 60.0
#: Addresses remembered at most (the oldest is forgotten first), so a flood cannot exhaust memory.
MAX_ADDRESSES = 10_000


class Window:
    """Wrong tries per key (an address, a user name) within :data:`WINDOW_SECONDS`, at most ``tries``."""

    def __init__(self, tries: int = NAME_TRIES, clock: Callable[[], float] = time.monotonic):
        self.tries = tries
        self.clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, deque[float]] = {}

    def wait(self, key: str) -> int:
        """Seconds ``key`` must wait (0: it may try)."""
        now = self.clock()
        with self._lock:
            tries = self._failures.get(key)
            if not tries:
                return 0
            while tries and tries[0] <= now - WINDOW_SECONDS:
                tries.popleft()
            if len(tries) < self.tries:
                return 0
            return max(1, math.ceil(tries[0] + WINDOW_SECONDS - now))

    def fail(self, key: str) -> None:
        """Count one wrong try of ``key``."""
        now = self.clock()
        with self._lock:
            if key not in self._failures and len(self._failures) >= MAX_ADDRESSES:
                self._failures.pop(next(iter(self._failures)))
            self._failures.setdefault(key, deque(maxlen=self.tries)).append(now)


class SignInLimit:
    """ASGI middleware counting wrong sign-ins and tokens per client address, answering 429 past the limit."""

    def __init__(self, app: ASGIApp, clock: Callable[[], float] = time.monotonic):
        self.app = app
        self.window = Window(TRIES, clock)

    @staticmethod
    def _counted(scope: Scope) -> bool:
        if scope["method"] == "POST" and scope["path"].rstrip("/") == "/login":
            return True
        is_api = scope["path"] == "/api" or scope["path"].startswith("/api/")
        return is_api and "authorization" in Headers(scope=scope)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer 429 to an address past the limit; count the 401s of the others."""
        if scope["type"] != "http" or not self._counted(scope):
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown", 0))[0]
        wait = self.window.wait(address)
        if wait:
            message = f"too many wrong sign-ins or tokens from {address}; try again in {wait} s"
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
                self.window.fail(address)
            await send(message)

        await self.app(scope, receive, counting)
