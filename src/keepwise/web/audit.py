"""The audit trail of the dashboard and the API: who changed what, and when.

:class:`AuditTrail` (ASGI middleware) records every request that may change something (``POST``,
``PUT``, ``PATCH``, ``DELETE``) and succeeded (an answer below 400) in ``audit_log``
(:func:`keepwise.store.team.record`): the signed-in user and role, ``METHOD /path``, a short summary of
the form or JSON body, the status and the client's address. No router needs to do anything for it.
Fields whose name speaks of a password, token, secret or CSRF are never kept, and values are cut short.

Recorded by the code that does them instead: signing in and out and failed sign-ins
(:mod:`keepwise.web.signin`), user and token changes (:mod:`keepwise.store.team`, from the dashboard and
the CLI alike); such a route sets ``request.state.audited`` so the middleware does not record it twice.
The one-click unsubscribe is a customer's, not the team's, and is kept in the consent history instead.

The record is written after the answer, in a connection of its own; if the store is busy then, the event is
logged on the server's log instead of being lost silently.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keepwise.web.csrf import SAFE_METHODS

__all__ = ["MAX_BODY", "AuditTrail", "summarize"]

log = logging.getLogger("keepwise.web.audit")

#: Bytes of a request's body looked at for its summary.
MAX_BODY = 16_384
#: Words that keep a field out of the summary.
SECRET_WORDS = ("password", "token", "secret", "csrf")
#: Characters kept of each value.
MAX_VALUE = 60


def summarize(content_type: str, body: bytes) -> str:
    """``key=value`` pairs of a form or JSON object body, secrets left out, each value cut short."""
    kind = content_type.split(";")[0].strip().lower()
    pairs: list[tuple[str, Any]] = []
    try:
        if kind == "application/x-www-form-urlencoded":
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=False)
        elif kind == "application/json" and body:
            doc = json.loads(body)
            if isinstance(doc, dict):
                pairs = [(str(k), v) for k, v in doc.items() if not isinstance(v, dict | list)]
    except ValueError:
        return ""
    kept = []
    for key, value in pairs:
        if any(word in key.lower() for word in SECRET_WORDS) or key == "next":
            continue
        text = "".join(ch for ch in str(value) if ch.isprintable())
        kept.append(f"{key[:40]}={text[:MAX_VALUE]}")
    return " ".join(kept)


class AuditTrail:
    """ASGI middleware writing each successful change of the signed-in user to the audit trail."""

    def __init__(self, app: ASGIApp, write: Callable[..., None], skip: Callable[[str], bool]):
        self.app = app
        self.write = write
        self.skip = skip

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; afterwards record it when it changed something for a signed-in user."""
        if scope["type"] != "http" or scope["method"].upper() in SAFE_METHODS or self.skip(scope["path"]):
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        body: list[bytes] = []
        seen = [0]
        status = [0]

        async def listening() -> Message:
            message = await receive()
            if message["type"] == "http.request" and seen[0] < MAX_BODY:
                chunk = message.get("body", b"")[: MAX_BODY - seen[0]]
                body.append(chunk)
                seen[0] += len(chunk)
            return message

        async def watching(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = int(message["status"])
            await send(message)

        await self.app(scope, listening, watching)
        user = state.get("user")
        if user is None or state.get("audited") or not 0 < status[0] < 400:
            return
        summary = summarize(Headers(scope=scope).get("content-type", ""), b"".join(body))
        address = (scope.get("client") or ("", 0))[0]
        action = f"{scope['method'].upper()} {scope['path']}"
        try:
            await run_in_threadpool(
                self.write, user=user, action=action, summary=summary, status=str(status[0]), address=address
            )
        except Exception as exc:  # the answer is sent already: say what was not recorded
            log.warning("not recorded in the audit trail (%s): %s by %s: %s", exc, action, user.name, summary)
