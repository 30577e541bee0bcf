"""``create_app(db)``: the FastAPI application of one store, with its error shape and auth wiring.

Nothing answers without a login but ``GET /health``, the sign-in form and the one-click unsubscribe (signed by
its own token): each router guards its routes with the role they need (:mod:`keepwise.web.access`). Every
successful change is written to the audit trail (:mod:`keepwise.web.audit`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import metadata
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.types import Receive, Scope, Send

from keepwise.config import Config, load_config
from keepwise.exceptions import BadInput, ConvergenceError, KeepwiseInputError
from keepwise.jsonio import dumps
from keepwise.store import Store
from keepwise.store.connection import StoreBusy
from keepwise.web.auth import Recent, Sessions, resolve_token
from keepwise.web.cache import Kept
from keepwise.web.csrf import SAFE_METHODS, CrossSite, csrf_field, refuse_cross_site
from keepwise.web.opening import RETRY_AFTER_SECONDS, StoreAccess, writing
from keepwise.web.ratelimit import SignInLimit, Window
from keepwise.web.validation import NotJson, no_control_characters

#: Where internal failures are logged (with their traceback, which the client never sees).
log = logging.getLogger("keepwise.web")

#: Host names an app serving only this machine answers to.
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")

__all__ = [
    "LOOPBACK_HOSTS",
    "LoopbackOnly",
    "NotFound",
    "SignInRequired",
    "Unauthorized",
    "WebState",
    "create_app",
    "error_response",
    "json_response",
    "render",
]


class NotFound(Exception):
    """Something the request names (a customer, a review month, a study) is not in the store: HTTP 404."""


class Unauthorized(Exception):
    """An API call without a valid Bearer token (or session): HTTP 401."""


class SignInRequired(Exception):
    """A page asked for without a valid session: redirect to the sign-in form."""

    def __init__(self, next_path: str):
        super().__init__(next_path)
        self.next_path = next_path


@dataclass
class WebState:
    """What every route needs: the store URL, the assumptions and the deprecated shared token (or ``None``).

    ``documents`` keeps parsed stored documents and ``models`` fitted models and computed results between
    requests, each for the stamp it was made for (:mod:`keepwise.web.cache`). ``recent`` keeps what each
    credential resolved to for a few seconds (:class:`~keepwise.web.auth.Recent`) and ``names`` counts the
    wrong passwords per user name (:class:`~keepwise.web.ratelimit.Window`).
    """

    db: str
    config: Config
    token: str | None
    sessions: Sessions | None
    access: StoreAccess = field(init=False)
    documents: Kept[Any] = field(init=False)
    models: Kept[Any] = field(init=False)
    recent: Recent[Any] = field(init=False)
    names: Window = field(init=False)

    def __post_init__(self) -> None:
        self.access = StoreAccess(self.db)
        self.documents = Kept(size=12)
        self.models = Kept(size=16)
        self.recent = Recent()
        self.names = Window()

    def audit(
        self, *, user: Any, action: str, summary: str = "", status: str = "ok", address: str = ""
    ) -> None:
        """Write one event of ``user`` (a :class:`~keepwise.web.access.User` or a name) to the audit trail."""
        from keepwise.store import team

        name, role = (user, "") if isinstance(user, str) else (user.name, user.role.value)
        with self.store(write=True) as backend:
            team.record(
                backend, user=name, role=role, action=action, summary=summary, status=status, address=address
            )

    @contextmanager
    def store(self, write: bool | None = None) -> Iterator[Store]:
        """A connection to the store for one request, opened and closed so the CLI can use it between.

        Read-only for a request that only reads (``GET``, ``HEAD``), read-write for one that may write, or
        as ``write`` says (:mod:`keepwise.web.opening`); a store another process holds raises
        :class:`~keepwise.store.connection.StoreBusy` at once (HTTP 503).
        """
        with self.access.open(write) as backend:
            yield backend


def state_of(request: Request) -> WebState:
    """The :class:`WebState` of the app serving ``request``."""
    state: WebState = request.app.state.keepwise
    return state


def json_response(document: Any, status_code: int = 200) -> Response:
    """``document`` exactly as the CLI's ``--json`` prints it (same encoder, decimals as strings)."""
    body = dumps(document) + "\n"
    return Response(body, status_code=status_code, media_type="application/json")


def error_response(message: str, status_code: int, field: str | None = None) -> JSONResponse:
    """The one error shape of the API: ``{"error": "one line"}``, plus ``"field"`` when one input is at fault.

    ``field`` names the query parameter, path segment or body field to fix (``top``, ``cost``), as the API
    calls it.
    """
    body: dict[str, str] = {"error": message.splitlines()[0] if message else "error"}
    if field is not None:
        body["field"] = field
    return JSONResponse(body, status_code=status_code)


@lru_cache(maxsize=1)
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("keepwise.web", "templates"), autoescape=select_autoescape(["j2", "html"])
    )


def _version() -> str:
    try:
        return metadata.version("keepwise")
    except metadata.PackageNotFoundError:
        return "dev"


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """Render one dashboard page."""
    html = (
        _environment()
        .get_template(template)
        .render(
            version=_version(),
            signed_in=getattr(request.state, "user", None) is not None,
            path=request.url.path,
            user=getattr(request.state, "user", None),
            csrf_field=csrf_field(request),
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code)


@lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    return str(get_plotlyjs())


def _is_api_path(path: str) -> bool:
    return path == "/api" or path.startswith("/api/")


def _is_api(request: Request) -> bool:
    return _is_api_path(request.url.path)


class LoopbackOnly(TrustedHostMiddleware):
    """Answer only requests that name an allowed host; the API refuses the others in its error shape."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse an API request for another host with a 400 ``{"error": ...}``; the rest as Starlette."""
        if scope["type"] == "http" and _is_api_path(scope["path"]):
            host = Headers(scope=scope).get("host", "").split(":")[0]
            if host not in self.allowed_hosts:
                await error_response("Invalid host header", 400)(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


async def _request_mode(request: Request) -> None:
    """Open the store read-only for this request unless its method may change something."""
    writing.set(request.method.upper() not in SAFE_METHODS)


def create_app(db: str, config: Config | None = None, *, loopback_only: bool | None = None) -> FastAPI:
    """The dashboard, the REST API and the unsubscribe endpoint for the store at ``db``.

    Parameters
    ----------
    db:
        Store URL, as ``--db`` takes it (``duckdb:///path.duckdb``).
    config:
        Assumptions (default: ``keepwise.toml`` in the working directory); ``[web]`` holds the session length
        and the deprecated shared token (unless ``KEEPWISE_WEB_TOKEN`` is set).
    loopback_only:
        Answer only requests naming this machine (``127.0.0.1``, ``localhost``, ``[::1]``), which refuses a
        page elsewhere that points its own host name at this machine (DNS rebinding). ``keepwise serve`` sets
        it when it listens on a loopback address; by default it is on when there is no shared token.

    Returns
    -------
    fastapi.FastAPI
        Run it with uvicorn (``keepwise serve``) or test it with ``fastapi.testclient.TestClient``.
    """
    import os

    from keepwise.config.web import is_loopback
    from keepwise.web import api, customers, pages, programs, signin, team, unsubscribe
    from keepwise.web.access import Forbidden, Role, page_guard
    from keepwise.web.audit import AuditTrail

    cfg = config or load_config()
    if loopback_only is None and os.environ.get("KEEPWISE_WEB_HOST"):  # the address keepwise serve listens on
        loopback_only = is_loopback(os.environ["KEEPWISE_WEB_HOST"])
    token = resolve_token(cfg)
    sessions = Sessions(token, cfg.web.session_hours) if token is not None else None
    app = FastAPI(
        title="keepwise",
        version=_version(),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,  # served by the API under its token: /api/openapi.json
        dependencies=[Depends(_request_mode), Depends(refuse_cross_site), Depends(no_control_characters)],
    )
    state = WebState(db=db, config=cfg, token=token, sessions=sessions)
    state.access.prepare()
    app.state.keepwise = state
    exempt = frozenset(unsubscribe.paths(cfg.messages.unsubscribe_url))
    app.state.cross_site_exempt = exempt
    # sign-in and sign-out record themselves; the one-click unsubscribe is a customer's
    recorded_elsewhere = exempt | {"/login", "/logout"}
    app.add_middleware(
        AuditTrail, write=state.audit, skip=lambda path: path.rstrip("/") in recorded_elsewhere
    )
    app.add_middleware(SignInLimit)
    if loopback_only if loopback_only is not None else token is None:
        # a page elsewhere that points its own host name at 127.0.0.1 (DNS rebinding) is refused, since its
        # requests name that host
        app.add_middleware(LoopbackOnly, allowed_hosts=list(LOOPBACK_HOSTS))

    @app.exception_handler(StoreBusy)
    async def _busy(request: Request, exc: StoreBusy) -> Response:
        message = "the store is busy (another keepwise process has it open); try again in a few seconds"
        response: Response
        if _is_api(request):
            response = error_response(message, 503)
        else:
            response = render(request, "error.html.j2", status_code=503, title="Busy", message=message)
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    @app.exception_handler(CrossSite)
    async def _cross_site(request: Request, exc: CrossSite) -> Response:
        if _is_api(request):
            return error_response(str(exc), 403)
        return render(request, "error.html.j2", status_code=403, title="Refused", message=str(exc))

    @app.exception_handler(NotJson)
    async def _not_json(request: Request, exc: NotJson) -> Response:
        return error_response(str(exc), 415)

    @app.exception_handler(KeepwiseInputError)
    async def _bad_input(request: Request, exc: KeepwiseInputError) -> Response:
        field = exc.field if isinstance(exc, BadInput) else None
        message = exc.phrased(exc.field) if isinstance(exc, BadInput) else str(exc)
        if _is_api(request):
            return error_response(message, 400, field)
        return render(request, "error.html.j2", status_code=400, title="Please check", message=message)

    @app.exception_handler(ConvergenceError)
    async def _no_fit(request: Request, exc: ConvergenceError) -> Response:
        # a model the store's data cannot support: its message says what to check; not a fault to report
        if _is_api(request):
            return error_response(str(exc), 422)
        return render(
            request, "error.html.j2", status_code=422, title="The data do not fit", message=str(exc)
        )

    @app.exception_handler(NotFound)
    async def _not_found(request: Request, exc: NotFound) -> Response:
        if _is_api(request):
            return error_response(str(exc), 404)
        return render(request, "error.html.j2", status_code=404, title="Not found", message=str(exc))

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden) -> Response:
        if _is_api(request):
            return error_response(str(exc), 403)
        return render(request, "error.html.j2", status_code=403, title="Not for your role", message=str(exc))

    @app.exception_handler(Unauthorized)
    async def _unauthorized(request: Request, exc: Unauthorized) -> Response:
        response = error_response(str(exc), 401)
        response.headers["WWW-Authenticate"] = "Bearer"
        return response

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        from urllib.parse import quote

        return RedirectResponse(f"/login?next={quote(exc.next_path, safe='/')}", status_code=303)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        first = errors[0] if errors else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path"))
        message = f"{where}: {first.get('msg', 'invalid request')}" if where else "invalid request"
        if _is_api(request):
            return error_response(message, 400, where or None)
        return render(request, "error.html.j2", status_code=400, title="Please check", message=message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = str(exc.detail) if exc.detail else "error"
        if _is_api(request):
            return error_response(message, exc.status_code)
        return render(request, "error.html.j2", status_code=exc.status_code, title=message, message=message)

    @app.exception_handler(OverflowError)
    @app.exception_handler(ValueError)
    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        # ValueError and OverflowError are handled here in the app (a date pushed off the calendar is a 400
        # and never reaches the server's log as a crash); any other exception as well, after which Starlette
        # re-raises it for the server to log
        from keepwise.arguments import calendar_overflow

        too_far = calendar_overflow(exc)
        if too_far is not None:  # a date the request pushed off the calendar: a 400, as on the CLI
            if _is_api(request):
                return error_response(too_far, 400)
            return render(request, "error.html.j2", status_code=400, title="Please check", message=too_far)
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        first = str(exc).splitlines()[0] if str(exc) else ""
        message = f"internal error: {type(exc).__name__}: {first} (please report it)"
        if _is_api(request):
            return error_response(message, 500)
        return render(
            request, "error.html.j2", status_code=500, title="Something went wrong", message=message
        )

    @app.get("/static/plotly.min.js", include_in_schema=False, dependencies=[Depends(page_guard(Role.REP))])
    def _plotly() -> Response:
        return Response(
            _plotly_js(),
            media_type="application/javascript",
            headers={"Cache-Control": "private, max-age=86400"},
        )

    app.include_router(api.router)
    app.include_router(unsubscribe.make_router(cfg.messages.unsubscribe_url))
    app.include_router(signin.public)
    app.include_router(pages.public)  # the stylesheet, for every visitor
    app.include_router(pages.router)
    app.include_router(customers.router)
    app.include_router(team.router)
    app.include_router(programs.router)
    for module in (pages, customers, team, programs):
        app.include_router(module.api)
    return app
