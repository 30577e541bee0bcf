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

On top of that, a request signed in by its session cookie that may change something must carry the session's
CSRF token: the hidden ``csrf_token`` field every dashboard form has (``{{ csrf_field }}``) or an
``X-CSRF-Token`` header (:func:`check_csrf`, called by the guards of :mod:`keepwise.web.access`). The token is
an HMAC of the session's cookie value, which another site's page can neither read nor guess; a request with a
Bearer token needs none (a browser never adds that header by itself). The sign-in form has no session yet: the
origin check above and ``SameSite=Lax`` guard it.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qs, urlsplit

from fastapi import Request
from markupsafe import Markup, escape

__all__ = [
    "FIELD",
    "HEADER",
    "SAFE_METHODS",
    "BadCsrf",
    "CrossSite",
    "check_csrf",
    "csrf_field",
    "csrf_token",
    "is_same_origin",
    "refuse_cross_site",
]

#: Name of the form field, and of the header, that carry the CSRF token.
FIELD = "csrf_token"
HEADER = "X-CSRF-Token"

#: Methods that change nothing (RFC 9110 section 9.2.1), never checked.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class CrossSite(Exception):
    """A request to change something sent by another site's page: HTTP 403."""


class BadCsrf(CrossSite):
    """A signed-in form sent without its session's CSRF token (or with another's): HTTP 403."""


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


def csrf_token(session: str) -> str:
    """The CSRF token of the session whose cookie value is ``session`` (an HMAC of it)."""
    return hmac.new(session.encode("utf-8"), b"keepwise.web.csrf", hashlib.sha256).hexdigest()


def csrf_field(request: Request) -> Markup:
    """The hidden form field every dashboard form carries (``{{ csrf_field }}`` in a template).

    It holds the CSRF token of the request's session; empty for a visitor not signed in by a session.
    """
    session: str | None = getattr(request.state, "session", None)
    if not session:
        return Markup("")
    return Markup(f'<input type="hidden" name="{FIELD}" value="{escape(csrf_token(session))}">')


async def check_csrf(request: Request, session: str) -> None:
    """Refuse (:class:`BadCsrf`, 403) a request without ``session``'s CSRF token in its form or header."""
    given = request.headers.get(HEADER)
    if given is None:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "application/x-www-form-urlencoded":
            form = parse_qs((await request.body()).decode("utf-8", "replace"))
            given = (form.get(FIELD) or [""])[0]
        elif kind == "multipart/form-data":
            value = (await request.form()).get(FIELD)
            given = value if isinstance(value, str) else None
    if not given or not hmac.compare_digest(given.encode("utf-8"), csrf_token(session).encode("utf-8")):
        raise BadCsrf(
            "refused: the form has expired or did not come from this dashboard; reload the page and try again"
        )
