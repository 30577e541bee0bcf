"""The web's request validation: every query parameter, path segment and JSON field a route reads, typed.

Routes take their inputs as text and read them through these functions, which apply
:mod:`keepwise.arguments` (the parsers the command line's stages use) and name the field as the API calls
it. A bad value is a :class:`~keepwise.exceptions.BadInput`, answered 400 ``{"error": "field: problem",
"field": "field"}`` by the app (a page shows the same line); it never reaches a stage where it could
overflow into a 500.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import Request

from keepwise import arguments
from keepwise.exceptions import BadInput, KeepwiseInputError

__all__ = [
    "JSON_TYPES",
    "NotJson",
    "amount",
    "count",
    "identifier",
    "json_body_required",
    "json_object",
    "month",
    "no_control_characters",
    "note",
]

#: Media types the API accepts as a request body.
JSON_TYPES = ("application/json",)


class NotJson(KeepwiseInputError):
    """A request body that is not JSON: HTTP 415 (a plain HTML form cannot send JSON across sites)."""


def month(value: str | None, field: str = "month") -> str | None:
    """``YYYY-MM`` from 1900-01 to 2200-12, or ``None`` when not given.

    A month out of range names the field; a malformed one is refused by the stage in the words of its
    command (the API's error is then the CLI's line).
    """
    return None if value is None else arguments.month(value, field, strict=False)


def count(
    value: str | int | None, field: str, *, minimum: int | None = 0, maximum: int = arguments.MAX_COUNT
) -> int | None:
    """A whole number from ``minimum`` to ``maximum``, or ``None`` when not given."""
    return None if value is None else arguments.count(value, field, minimum=minimum, maximum=maximum)


def identifier(value: object, field: str) -> str:
    """An id (a customer, an incident): 1 to 200 characters, no control characters."""
    return arguments.identifier(value, field)


def amount(value: object, field: str) -> Decimal:
    """An amount of at least 0 with at most 14 digits before the point and 4 after."""
    return arguments.amount(value, field)


def note(value: object, field: str = "note") -> str | None:
    """Free text, or ``None`` when absent or empty."""
    return arguments.text(value, field) or None if value is not None else None


def no_control_characters(request: Request) -> None:
    """Refuse a path segment or query parameter holding a control character (NUL, ESC...): HTTP 400.

    A dependency of the whole application, so every route, including one added later, is covered: such a
    value is never an id, a month or a name, and a NUL cut short a query string in the engine (a 500).
    """
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if isinstance(value, str) and arguments.has_control_characters(value):
            raise BadInput(name, "must not contain control characters")


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in JSON_TYPES or (media.startswith("application/") and media.endswith("+json"))


def json_body_required(request: Request) -> None:
    """Refuse a ``POST``, ``PUT`` or ``PATCH`` to the API whose body is not declared JSON (HTTP 415)."""
    if request.method.upper() in ("POST", "PUT", "PATCH") and not _is_json(
        request.headers.get("content-type", "")
    ):
        raise NotJson("send the request body as JSON (Content-Type: application/json)")


async def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object."""
    try:
        body = await request.json()
    except ValueError:
        raise KeepwiseInputError("the request body must be a JSON object") from None
    if not isinstance(body, dict):
        raise KeepwiseInputError("the request body must be a JSON object")
    return body
