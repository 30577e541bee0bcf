"""``create_app(db)``: the FastAPI application of one store, with its error shape and auth wiring."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from typing import Any

from fastapi import FastAPI, Request
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
from keepwise.store import Store, connect
from keepwise.web.auth import Sessions, resolve_token

#: Host names an app without a token answers to.
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
    """An API call without the right Bearer token: HTTP 401."""


class SignInRequired(Exception):
    """A page asked for without a valid session: redirect to the sign-in form."""

    def __init__(self, next_path: str):
        super().__init__(next_path)
        self.next_path = next_path


@dataclass
class WebState:
    """What every route needs: the store URL, the assumptions and the access token (``None``: open)."""

    db: str
    config: Config
    token: str | None
    sessions: Sessions | None

    @contextmanager
    def store(self) -> Iterator[Store]:
        """A connection to the store for one request (opened and closed, so the CLI can use it between)."""
        backend = connect(self.db)
        try:
            yield backend
        finally:
            backend.disconnect()


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
    state = state_of(request)
    html = (
        _environment()
        .get_template(template)
        .render(
            version=_version(),
            signed_in=state.token is not None,
            path=request.url.path,
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


def create_app(db: str, config: Config | None = None) -> FastAPI:
    """The dashboard, the REST API and the unsubscribe endpoint for the store at ``db``.

    Parameters
    ----------
    db:
        Store URL, as ``--db`` takes it (``duckdb:///path.duckdb``).
    config:
        Assumptions (default: ``keepwise.toml`` in the working directory); ``[web]`` holds the access token
        unless ``KEEPWISE_WEB_TOKEN`` is set.

    Returns
    -------
    fastapi.FastAPI
        Run it with uvicorn (``keepwise serve``) or test it with ``fastapi.testclient.TestClient``.
    """
    from keepwise.web import api, pages, unsubscribe

    cfg = config or load_config()
    token = resolve_token(cfg)
    sessions = Sessions(token, cfg.web.session_hours) if token is not None else None
    app = FastAPI(
        title="keepwise",
        version=_version(),
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.keepwise = WebState(db=db, config=cfg, token=token, sessions=sessions)
    if token is None:
        # open only to this machine: a page elsewhere that points its own host name at 127.0.0.1 (DNS
        # rebinding) is refused, since its requests name that host
        app.add_middleware(LoopbackOnly, allowed_hosts=list(LOOPBACK_HOSTS))

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

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        message = f"internal error: {type(exc).__name__}: {exc} (please report it)"
        if _is_api(request):
            return error_response(message, 500)
        return render(
            request, "error.html.j2", status_code=500, title="Something went wrong", message=message
        )

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def _plotly() -> Response:
        return Response(
            _plotly_js(),
            media_type="application/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.include_router(api.router)
    app.include_router(unsubscribe.make_router(cfg.messages.unsubscribe_url))
    app.include_router(pages.public)
    app.include_router(pages.router)
    return app
