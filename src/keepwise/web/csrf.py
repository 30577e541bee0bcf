"""Cross-site request refusal: no page of another site can make a browser change anything in keepwise.

Every request that may change something (``POST``, ``PUT``, ``PATCH``, ``DELETE``) passes
:func:`refuse_cross_site`, a dependency of the whole application, whether or not it has an access token (an
open app has no cookie to protect but is reachable from the owner's browser). The browser says where a
request comes from, and keepwise believes the most reliable signal it has:

1. ``Sec-Fetch-Site`` (every current browser sends it): ``same-origin`` or ``none`` (typed in the address
   bar, a bookmark) pass; ``same-site`` and ``cross-site`` are refused.
2. Otherwise ``Origin``: its ``host[:port]`` must be the ``Host`` the request was sent to (as Go's
   ``net/http.CrossOriginProtection`` compares them); ``null`` (a sandboxed frame, a ``data:`` page) is
   refused.
3. Otherwise ``Referer``, compared the same way.
4. A request with none of the three is not from a browser's page (``curl``, a script with the token): it
   passes, since another site cannot make a browser send it.

The JSON API also takes only ``Content-Type: application/json`` bodies
(:func:`keepwise.web.validation.json_body_required`), which a plain HTML form cannot send, so even a browser
that sends none of the headers above cannot post to it across sites without a CORS preflight, which keepwise
never grants.

Exempt: the one-click unsubscribe ``POST`` (RFC 8058), which a mailbox provider sends from its own servers;
its signed token is the proof (:mod:`keepwise.web.unsubscribe`).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request
from markupsafe import Markup

__all__ = ["SAFE_METHODS", "CrossSite", "csrf_field", "is_same_origin", "refuse_cross_site"]

#: Methods that change nothing (RFC 9110 section 9.2.1), never checked.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CrossSite(Exception):
    """A request to change something sent by another site's page: HTTP 403."""


def _netloc(url: str) -> str | None:
    """``host[:port]`` of an ``http(s)`` URL as a browser writes it (no default port), lower case."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return parts.netloc.rpartition("@")[2].lower()


def _host(request: Request) -> str | None:
    host = request.headers.get("host", "").strip().lower()
    return host or None


def is_same_origin(request: Request) -> bool:
    """Whether the browser's headers say ``request`` comes from a page of this site (or from no page)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site.strip().lower() in ("same-origin", "none")
    for header in ("origin", "referer"):
        value = request.headers.get(header)
        if value is not None:
            here = _host(request)
            return here is not None and _netloc(value.strip()) == here
    return True


def refuse_cross_site(request: Request) -> None:
    """Refuse a request that may change something when another site's page sent it (HTTP 403)."""
    if request.method.upper() in SAFE_METHODS:
        return
    exempt: frozenset[str] = getattr(request.app.state, "cross_site_exempt", frozenset())
    if request.url.path.rstrip("/") in exempt:
        return
    if not is_same_origin(request):
        raise CrossSite(
            "refused: a page of another site cannot change anything here; use the keepwise dashboard itself"
        )


def csrf_field(request: Request) -> Markup:
    """The hidden form field every dashboard form carries (``{{ csrf_field }}`` in a template).

    Empty until per-session CSRF tokens exist; forms include it already so they need no change then.
    """
    return Markup("")
