"""One-click unsubscribe (RFC 8058) for the signed links of :mod:`keepwise.messages.tokens`.

Marketing messages carry ``List-Unsubscribe: <{[messages] unsubscribe_url}?token=...>`` and
``List-Unsubscribe-Post: List-Unsubscribe=One-Click``. A mail client then sends ``POST`` to that address with
the body ``List-Unsubscribe=One-Click``; that request revokes the consent at once, exactly as ``keepwise
messages unsubscribe TOKEN`` does (:func:`keepwise.messages.consent.unsubscribe`). A ``GET`` of the same
address (a person clicking the link in the footer) only shows a confirmation page with a button that sends
the ``POST``: link scanners that follow every URL must not unsubscribe anyone (RFC 8058 section 3.2).

The endpoint answers at ``/unsubscribe`` and at the path of ``[messages] unsubscribe_url`` (by default
``/keepwise/unsubscribe``), so that setting it to ``https://YOUR-HOST/unsubscribe`` is all that is needed.
It needs no sign-in: the signed token is the proof, checked under the store's own signing secret
(:mod:`keepwise.store.secret`: ``KEEPWISE_SECRET`` when set, else the one kept beside or in the store).
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import Response

from keepwise.exceptions import KeepwiseInputError
from keepwise.store import Store
from keepwise.store.secret import signing_secret
from keepwise.web.app import render, state_of

__all__ = ["PATH", "make_router", "paths"]

#: Where the endpoint always answers, whatever unsubscribe_url says.
PATH = "/unsubscribe"


def paths(unsubscribe_url: str) -> list[str]:
    """The paths the endpoint answers at: ``/unsubscribe`` and the path of ``unsubscribe_url``."""
    own = urlsplit(unsubscribe_url).path.rstrip("/") or PATH
    return [PATH] if own == PATH else [PATH, own]


def _settings(request: Request, store: Store) -> tuple[str, timedelta]:
    """The store's signing secret (:func:`keepwise.store.secret.signing_secret`) and how long links last.

    A store that has no secret yet cannot have signed the link, so none is made here: the link is refused.
    """
    cfg = state_of(request).config.messages
    secret = signing_secret(store, cfg.secret_env, create=False)
    return secret, timedelta(days=int(cfg.unsubscribe_days))


def _token(request: Request) -> str:
    token = request.query_params.get("token", "").strip()
    if not token:
        raise KeepwiseInputError("this unsubscribe link has no token; use the whole link from the message")
    return token


def confirm_page(request: Request) -> Response:
    """The page a person sees after clicking the link: what will be revoked, and a button to do it."""
    from keepwise.messages.tokens import verify

    token = _token(request)
    with state_of(request).store() as backend:
        secret, max_age = _settings(request, backend)
    claims = verify(secret, token, "unsubscribe", max_age=max_age)
    return render(
        request,
        "unsubscribe.html.j2",
        public=True,
        done=False,
        token=token,
        channel=claims.channel,
        purpose=claims.purpose,
        business=state_of(request).config.messages.business_name,
    )


def one_click(request: Request) -> Response:
    """Revoke the consent the token names, at once (the RFC 8058 ``POST``)."""
    from keepwise.messages.consent import unsubscribe

    token = _token(request)
    state = state_of(request)
    with state.store() as backend:
        secret, max_age = _settings(request, backend)
        revoked = unsubscribe(backend, secret, token, max_age=max_age)
    return render(
        request,
        "unsubscribe.html.j2",
        public=True,
        done=True,
        revoked=revoked,
        business=state.config.messages.business_name,
    )


def make_router(unsubscribe_url: str) -> APIRouter:
    """The GET and POST routes at every path of :func:`paths`."""
    router = APIRouter()
    for path in paths(unsubscribe_url):
        router.add_api_route(path, confirm_page, methods=["GET"], include_in_schema=False)
        router.add_api_route(path, one_click, methods=["POST"], include_in_schema=False)
    return router
