"""The API's version-1 mount, its OpenAPI document and its documentation page, and the public stylesheet.

:data:`keepwise.web.api.routes` (status, reviews, profit, concession, win-back, outreach, wins, conjoint) are
mounted here under ``/api/v1`` beside this package's own API routes; ``/api/v1/openapi.json`` lists every
``/api/v1`` route and ``/api/v1/docs`` shows them as a page, both behind the API's sign-in. The documentation
page is drawn here from the OpenAPI document (no Swagger bundle from a CDN). ``public`` serves the
dashboard's stylesheet, ``/static/keepwise.css``, to every visitor (the sign-in page uses it too).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from keepwise.web import api as first_api
from keepwise.web.app import json_response
from keepwise.web.pages.common import api

__all__ = ["PREFIX", "api_docs", "public", "stylesheet", "v1_openapi"]

#: Where the documented API lives.
PREFIX = "/api/v1"

api.include_router(first_api.routes)

#: Routes every visitor may reach: the stylesheet (no data in it).
public = APIRouter()


def v1_openapi(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document with only the ``/api/v1`` routes (the pages and the first API left out)."""
    doc = dict(app.openapi())
    doc["paths"] = {p: v for p, v in doc.get("paths", {}).items() if p.startswith(PREFIX + "/")}
    doc["info"] = {
        **doc.get("info", {}),
        "description": (
            "keepwise's REST API: the JSON of the matching CLI command. Lists come a page at a time "
            '(?page=&per_page=, with pagination links); every error is {"error": "one line"}, plus '
            "\"field\" when one input is at fault. Send 'Authorization: Bearer <token>'."
        ),
    }
    return doc


@api.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> Response:
    """The OpenAPI document of ``/api/v1`` (behind the API's sign-in)."""
    return json_response(v1_openapi(request.app))


@api.get("/docs", include_in_schema=False)
def api_docs(request: Request) -> Response:
    """The API's routes as a page: method, path, what it returns, its parameters (from its OpenAPI)."""
    from keepwise.web.app import render

    doc = v1_openapi(request.app)
    routes = []
    for path, operations in sorted(doc["paths"].items()):
        for method, op in operations.items():
            routes.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": (op.get("description") or "").split("\n\n")[0],
                    "parameters": [
                        p["name"] for p in op.get("parameters", []) if p.get("in") in ("query", "path")
                    ],
                }
            )
    return render(request, "apidocs.html.j2", title="API", routes=routes, api_version=doc["info"]["version"])


@lru_cache(maxsize=1)
def _css() -> str:
    return resources.files("keepwise.web").joinpath("static", "keepwise.css").read_text(encoding="utf-8")


@public.get("/static/keepwise.css", include_in_schema=False)
def stylesheet() -> Response:
    """The dashboard's one stylesheet, from the package (no CDN)."""
    return Response(_css(), media_type="text/css", headers={"Cache-Control": "public, max-age=3600"})
